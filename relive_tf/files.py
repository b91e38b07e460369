"""Files on any filesystem TensorFlow knows (local, gs://, plugins): atomic writes, folder locks."""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import re
import socket
import tempfile
import uuid

LOCK_FILE = ".lock"
# "gs://bucket/x", "ram://x", "s3://..." : a filesystem of tf.io.gfile rather than the local disk.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# flock errors of filesystems that have no locks (some NFS and FUSE mounts): a marker stands in.
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def is_remote(path):
  """Whether `path` names a file through a filesystem scheme (gs://, ram://, s3://, hdfs://...)
  rather than the local disk; "file://" paths are local files too, read with tf.io.gfile."""
  return bool(_SCHEME.match(os.fsdecode(path)))


def _tensorflow():
  """TensorFlow, imported on first use: the decoding processes of `relive prepare` import this
  module and read local files only, so they never load it."""
  import tensorflow as tf  # noqa: PLC0415 (see above)

  return tf


def gfile():
  """tf.io.gfile, for remote paths (is_remote) in modules that do not load TensorFlow otherwise."""
  return _tensorflow().io.gfile


def absolute(path):
  """`path` made absolute when it is local; a remote path is absolute already."""
  return path if is_remote(path) else os.path.abspath(path)


def resolved(path):
  """`path` made absolute, with links resolved where it is local (a remote path is as given)."""
  return path if is_remote(path) else os.path.realpath(path)


def make_folder(path):
  """Creates the folder `path` and its parents (local or remote), where a command writes.

  Raises:
    ValueError: it cannot be made (a file in the way, a place no one can write: /proc, which
      os.access lets root through), naming it and the fix.
  """
  try:
    gfile().makedirs(path)
  except _tensorflow().errors.OpError as error:
    raise ValueError(
      f"cannot create the folder {path} ({error.message}); give a folder you can write"
    ) from None


def is_inside(path, folder):
  """Whether `path` is `folder` or lies under it (both absolute, local or remote)."""
  if is_remote(path) or is_remote(folder):
    return (path.rstrip("/") + "/").startswith(folder.rstrip("/") + "/")
  return os.path.commonpath([path, folder]) == folder


def same_file(path, other):
  """Whether two paths name one file: the same absolute path, or (local, both existing) a link or
  another spelling of it."""
  if absolute(path) == absolute(other):
    return True
  local = not (is_remote(path) or is_remote(other))
  return local and os.path.exists(path) and os.path.exists(other) and os.path.samefile(path, other)


def commit(temporary, path):
  """Renames the finished file `temporary` to `path` (local or remote): on the local disk after
  flushing it to the disk, so that a crash of the machine cannot leave an empty file there."""
  if is_remote(path):
    gfile().rename(temporary, path, overwrite=True)
    return
  with open(temporary, "rb+") as written:
    os.fsync(written.fileno())
  os.replace(temporary, path)


def discard(path):
  """Deletes a file if it is there (local or remote)."""
  if is_remote(path):
    if gfile().exists(path):
      gfile().remove(path)
  elif os.path.exists(path):
    os.remove(path)


@contextlib.contextmanager
def _renamed_when_done(path, suffix=""):
  """Yields a temporary name beside `path`, committed to `path` when the block completes and
  deleted on an exception."""
  temporary = f"{path}.partial-{uuid.uuid4().hex[:8]}{suffix}"
  try:
    yield temporary
    commit(temporary, path)
  except BaseException as error:
    discard(temporary)
    if isinstance(error, OSError) and error.filename == temporary and error.filename2 is None:
      error.filename = path  # the user named `path`; the temporary name would only puzzle them
    raise


@contextlib.contextmanager
def atomic_write(path, suffix=""):
  """Yields a local temporary path to write, which becomes `path` when the block completes.

  Readers never see a half-written file: until the rename `path` is absent or the old file, and the
  data reaches the disk before the rename. On an exception the temporary file is deleted and `path`
  is left as it was. Each call has its own temporary name, so two processes writing one file do not
  mix their bytes. A remote `path` (gs://, ...) is written in a local temporary file, copied beside
  it under a temporary name and renamed, since the writers (OpenCV, ffmpeg, Pillow) take local
  files only.

  Args:
    path: the file to write, local or remote.
    suffix: ending of the temporary name, for writers that pick the format by it (".png", ".mp4").

  Yields:
    The temporary local path to write.
  """
  if not is_remote(path):
    with _renamed_when_done(path, suffix) as temporary:
      yield temporary
    return
  handle, local = tempfile.mkstemp(prefix="relive_write_", suffix=suffix)
  os.close(handle)
  try:
    yield local
    with _renamed_when_done(path) as temporary:
      gfile().copy(local, temporary, overwrite=True)
  finally:
    os.remove(local)


def write_text(path, text):
  """Writes a str (UTF-8) or bytes to `path` atomically."""
  with atomic_write(path) as temporary:
    if isinstance(text, bytes):
      with open(temporary, "wb") as f:
        f.write(text)
    else:
      with open(temporary, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path, value):
  """Writes `value` as indented JSON to `path` atomically.

  Strings that hold undecodable file-name bytes (surrogate escapes, as os.listdir gives them) are
  written as JSON escapes ("caf\\udce9.mp4"), which json.load reads back as the same string.
  """
  write_text(path, json.dumps(value, indent=2) + "\n")


@contextlib.contextmanager
def _as_os_errors(path):
  """Raises a failed tf.io.gfile call on a remote `path` as an OSError with TensorFlow's message
  for strerror, so that callers handle local and remote files alike."""
  try:
    yield
  except _tensorflow().errors.OpError as error:
    raise OSError(errno.EIO, error.message.strip().splitlines()[0], path) from None


def read_bytes(path):
  """The bytes of a local or remote file.

  Raises:
    OSError: the file cannot be read.
  """
  if is_remote(path):
    with _as_os_errors(path), gfile().GFile(path, "rb") as f:
      return f.read()
  with open(path, "rb") as f:
    return f.read()


def read_json(path):
  """The JSON value in a local or remote file.

  Raises:
    OSError: the file cannot be read.
    ValueError: it is not JSON.
  """
  try:
    return json.loads(read_bytes(path).decode("utf-8"))
  except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
    raise ValueError(f"{path} is not valid JSON ({error}): it was cut or edited") from None


def exists(path):
  """Whether a local or remote file or folder exists."""
  return gfile().exists(path) if is_remote(path) else os.path.exists(path)


def isdir(path):
  """Whether a local or remote folder exists."""
  return gfile().isdir(path) if is_remote(path) else os.path.isdir(path)


def isfile(path):
  """Whether a local or remote file (not a folder) exists."""
  if is_remote(path):
    return gfile().exists(path) and not gfile().isdir(path)
  return os.path.isfile(path)


def listdir(path):
  """The names in a local or remote folder (folders without the trailing "/" of some remote
  filesystems), in no particular order.

  Raises:
    OSError: the folder cannot be listed.
  """
  if not is_remote(path):
    return os.listdir(path)
  with _as_os_errors(path):
    return [name.rstrip("/") for name in gfile().listdir(path)]


@contextlib.contextmanager
def local_copy(path):
  """Yields a local file with the bytes of `path`: `path` itself when local, else a temporary
  copy (with its extension, by which decoders pick the format) deleted after the block.

  OpenCV and ffmpeg read local files only; videos on gs:// or a plugin filesystem are copied.

  Raises:
    OSError: a remote file cannot be read.
  """
  if not is_remote(path):
    yield path
    return
  extension = os.path.splitext(path)[1]
  handle, local = tempfile.mkstemp(prefix="relive_read_", suffix=extension)
  os.close(handle)
  try:
    with _as_os_errors(path):
      gfile().copy(path, local, overwrite=True)
    yield local
  finally:
    os.remove(local)


@contextlib.contextmanager
def exclusive_use(folder, job):
  """Holds `folder` for one `job` (e.g. "relive train") at a time, across processes.

  Two runs writing one workdir or shard folder would overwrite each other's checkpoints or shards.
  On a local disk the lock is an flock on FOLDER/.lock, which the system releases when the process
  ends, so a crashed run leaves nothing to clean up. Where flock is impossible (gs:// and other
  remote filesystems, local mounts without locks) FOLDER/.lock is an advisory marker instead: its
  presence holds the folder, it names the holder and is deleted when the block ends, but two runs
  starting at the same moment can both take it, and a crashed run leaves it behind (the error says
  to delete it once that run is gone). The local folders this call made are removed again when the
  block leaves nothing in FOLDER but the lock (a run refused before it wrote anything).

  Raises:
    ValueError: another process holds the folder, or it cannot be created or written.
  """
  if isfile(folder):
    raise ValueError(f"{folder!r} is a file; give a folder for {job}")
  if is_remote(folder):
    try:
      with _as_os_errors(folder):
        gfile().makedirs(folder)
    except OSError as error:
      raise ValueError(
        f"cannot write to {folder!r} for {job}: {error.strerror}; choose a writable folder"
      ) from None
    with _marker(folder, job):
      yield
    return
  for _ in range(3):
    made = _outermost_missing(folder)
    # Closed by the `with` below: the lock is held while the caller's block runs.
    lock = _open_lock(folder, job)
    try:
      locked = _flocked(lock, folder)
    except ValueError:
      lock.close()
      raise
    if not locked or _is_current(lock, folder):
      break
    lock.close()  # the run before removed the folder it had made while this one opened its lock
  else:
    raise ValueError(f"{folder} is being made and removed by other runs; try again")
  with lock:
    if not locked:
      lock.close()
      try:
        with _marker(folder, job):
          yield
      finally:
        if made:
          _remove_if_unused(folder, made)
      return
    lock.seek(0)
    lock.truncate()
    lock.write(f"{job} (process {os.getpid()})\n")
    lock.flush()
    try:
      yield
    finally:
      lock.truncate(0)
      if made:  # while the lock is held: a run that opened it meanwhile sees it is stale
        _remove_if_unused(folder, made)
      fcntl.flock(lock, fcntl.LOCK_UN)


def holder(folder):
  """What holds `folder` through exclusive_use now ("relive train (process 123)"), or None.

  Read where a command finds a folder not ready yet (a workdir before its first checkpoint), to
  say that a run is making it rather than that none was started.
  """
  path = os.path.join(folder, LOCK_FILE)
  if is_remote(folder):
    return _marked_holder(path) or None
  if not os.path.isfile(path):
    return None
  with open(path, encoding="utf-8", errors="replace") as lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
      return lock.read().strip() or "another process"
    except OSError:  # a filesystem without locks: exclusive_use wrote its holder there
      return lock.read().strip() or None
    fcntl.flock(lock, fcntl.LOCK_UN)
  return None


def _outermost_missing(folder):
  """The outermost folder of the local path `folder` that does not exist yet, or None."""
  path, missing = os.path.abspath(folder), None
  while not os.path.exists(path):
    path, missing = os.path.dirname(path), path
  return missing


def _open_lock(folder, job):
  """FOLDER/.lock opened for appending, FOLDER made first.

  Raises:
    ValueError: the folder cannot be made or the file written.
  """
  try:
    os.makedirs(folder, exist_ok=True)
    return open(os.path.join(folder, LOCK_FILE), "a+", encoding="utf-8")  # noqa: SIM115
  except OSError as error:
    raise ValueError(
      f"cannot write to {folder!r} for {job}: {error.strerror}; choose a writable folder"
    ) from None


def _is_current(lock, folder):
  """Whether the open file `lock` is still FOLDER/.lock, not one a run removed with its folder."""
  try:
    path = os.stat(os.path.join(folder, LOCK_FILE))
  except FileNotFoundError:
    return False
  held = os.fstat(lock.fileno())
  return (path.st_dev, path.st_ino) == (held.st_dev, held.st_ino)


def _remove_if_unused(folder, made):
  """Removes `folder` and the folders above it up to `made` (those exclusive_use made) if it holds
  nothing but its lock file; leaves them if anything else is there."""
  with contextlib.suppress(OSError):
    if set(os.listdir(folder)) <= {LOCK_FILE}:
      with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(folder, LOCK_FILE))
      path = os.path.abspath(folder)
      while True:
        os.rmdir(path)  # fails, and stops here, where another run has written meanwhile
        if path == made:
          break
        path = os.path.dirname(path)


def _flocked(lock, folder):
  """Takes an exclusive flock on the open file `lock`: True, or False where the filesystem has no
  locks.

  Raises:
    ValueError: another process holds it (named by what it wrote in the file).
  """
  try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    lock.seek(0)
    holder = lock.read().strip() or "another process"
    raise ValueError(
      f"{folder} is in use by {holder}; wait for it to end, or choose another folder"
    ) from None
  except OSError as error:
    if error.errno not in _NO_LOCKS:
      raise
    return False
  return True


def _marked_holder(path):
  """The holder an advisory marker at `path` names, or "" where there is none."""
  return read_bytes(path).decode("utf-8", "replace").strip() if isfile(path) else ""


@contextlib.contextmanager
def _marker(folder, job):
  """exclusive_use's advisory marker: FOLDER/.lock holds the holder's name while the block runs."""
  path = os.path.join(folder, LOCK_FILE)
  held = _marked_holder(path)
  if held:
    raise ValueError(
      f"{folder} is in use by {held} (an advisory marker: this filesystem has no locks); wait "
      f"for it to end, or delete {path} if that run is gone"
    )
  since = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
  write_text(path, f"{job} (process {os.getpid()} on {socket.gethostname()}, since {since})\n")
  try:
    yield
  finally:
    discard(path)
