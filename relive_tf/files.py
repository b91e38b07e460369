"""Atomic file writes (a temporary name, then os.replace), and folders held by one job at a time."""

import contextlib
import fcntl
import json
import os

from relive_tf.errors import UserError

LOCK_FILE = ".lock"


def write_json(path, value):
  """Writes `value` as indented JSON to `path` atomically."""
  temporary = f"{path}.partial"
  with open(temporary, "w", encoding="utf-8") as f:
    json.dump(value, f, indent=2)
    f.write("\n")
  os.replace(temporary, path)


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
