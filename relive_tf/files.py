"""Atomic file writes (a temporary name, then os.replace), and folders held by one job at a time."""

import contextlib
import fcntl
import json
import os
import uuid

LOCK_FILE = ".lock"


@contextlib.contextmanager
def atomic_write(path, suffix=""):
  """Yields a temporary path beside `path`, renamed to `path` when the block completes.

  Readers never see a half-written file: until the rename `path` is absent or the old file, and the
  data reaches the disk before the rename, so a crash of the machine cannot leave an empty file
  under the name either. On an exception the temporary file is deleted and `path` is left as it
  was. Each call has its own temporary name, so two processes writing one file do not mix their
  bytes.

  Args:
    path: the file to write.
    suffix: ending of the temporary name, for writers that pick the format by it (".png", ".mp4").

  Yields:
    The temporary path to write.
  """
  temporary = f"{path}.partial-{uuid.uuid4().hex[:8]}{suffix}"
  try:
    yield temporary
    with open(temporary, "rb+") as written:
      os.fsync(written.fileno())
    os.replace(temporary, path)
  except BaseException:
    if os.path.exists(temporary):
      os.remove(temporary)
    raise


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
def exclusive_use(folder, job):
  """Holds `folder` for one `job` (e.g. "relive train") at a time, across processes.

  Two runs writing one workdir or shard folder would overwrite each other's checkpoints or shards.
  The lock is an flock on FOLDER/.lock, which the system releases when the process ends, so a
  crashed run leaves nothing to clean up.

  Raises:
    ValueError: another process holds the folder, or it cannot be created or written.
  """
  if os.path.exists(folder) and not os.path.isdir(folder):
    raise ValueError(f"{folder!r} is a file; give a folder for {job}")
  try:
    os.makedirs(folder, exist_ok=True)
    # Opened here and closed by the `with` below: the lock is held while the caller's block runs.
    lock = open(os.path.join(folder, LOCK_FILE), "a+", encoding="utf-8")  # noqa: SIM115
  except OSError as error:
    raise ValueError(
      f"cannot write to {folder!r} for {job}: {error.strerror}; choose a writable folder"
    ) from None
  with lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      lock.seek(0)
      holder = lock.read().strip() or "another process"
      raise ValueError(
        f"{folder} is in use by {holder}; wait for it to end, or choose another folder"
      ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{job} (process {os.getpid()})\n")
    lock.flush()
    try:
      yield
    finally:
      lock.truncate(0)
      fcntl.flock(lock, fcntl.LOCK_UN)
