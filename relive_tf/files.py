"""Atomic file writes (a temporary name, then os.replace), and folders held by one job at a time."""

import contextlib
import fcntl
import json
import os
import uuid

from relive_tf.errors import UserError

LOCK_FILE = ".lock"
PARTIAL = ".partial"  # in the names of files being written; they vanish on success and on error


@contextlib.contextmanager
def atomic_path(path):
  """A temporary path beside `path` for any writer; it becomes `path` when the block ends.

  The temporary name is hidden, unique (two writers never share it) and keeps the extension, which
  some writers (ffmpeg, PIL) read to pick the format. When the block ends, the file is flushed to
  disk and renamed to `path`: readers see the old file or the whole new one. On an exception it is
  deleted and `path` is left as it was.

  Yields:
    The temporary path to write.

  Raises:
    FileNotFoundError: the block ended without writing the temporary file.
  """
  folder, name = os.path.split(path)
  stem, extension = os.path.splitext(name)
  temporary = os.path.join(folder, f".{stem}.{uuid.uuid4().hex[:8]}{PARTIAL}{extension}")
  try:
    yield temporary
    with open(temporary, "rb+") as f:
      os.fsync(f.fileno())
    os.replace(temporary, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(temporary)
    raise


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding="utf-8"):
  """Opens a file object whose contents become `path` whole when the block ends (see atomic_path).

  Args:
    path: the file to write.
    mode: "w" (text, in `encoding`) or "wb" (bytes).
    encoding: the text encoding; ignored for bytes.
  """
  with atomic_path(path) as temporary:
    with open(temporary, mode, encoding=None if "b" in mode else encoding) as f:
      yield f


def write_json(path, value):
  """Writes `value` as indented JSON to `path` atomically (see atomic_path).

  Strings that hold undecodable file-name bytes (surrogate escapes, as os.listdir gives them) are
  written as JSON escapes ("caf\\udce9.mp4"), which json.load reads back as the same string.
  """
  with atomic_write(path) as f:
    json.dump(value, f, indent=2)
    f.write("\n")


@contextlib.contextmanager
def exclusive_use(folder, job):
  """Holds `folder` for one `job` (e.g. "relive train") at a time, across processes.

  Two runs writing one workdir or shard folder would overwrite each other's checkpoints or shards.
  The lock is an flock on FOLDER/.lock, which the system releases when the process ends, so a
  crashed run leaves nothing to clean up.

  Raises:
    UserError: another process holds the folder, or it cannot be created or written.
  """
  if os.path.exists(folder) and not os.path.isdir(folder):
    raise UserError(f"{folder!r} is a file; give a folder for {job}")
  try:
    os.makedirs(folder, exist_ok=True)
    lock = open(os.path.join(folder, LOCK_FILE), "a+", encoding="utf-8")
  except OSError as error:
    raise UserError(f"cannot write to {folder!r} for {job}: {error.strerror}; choose a writable "
                    "folder") from None
  with lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      lock.seek(0)
      holder = lock.read().strip() or "another process"
      raise UserError(f"{folder} is in use by {holder}; wait for it to end, or choose another "
                      "folder") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{job} (process {os.getpid()})\n")
    lock.flush()
    try:
      yield
    finally:
      lock.truncate(0)
      fcntl.flock(lock, fcntl.LOCK_UN)
