"""Errors the CLI prints as one line: UserError, WriteError, LostWorkerError, and the in-graph data
check marker."""

import re

# Starts the message of the data checks that run inside TensorFlow graphs (a damaged shard found
# while reading), which can only fail with a TensorFlow error: data_check_message finds it again.
DATA_CHECK_PREFIX = "relive_tf data check: "
_DATA_CHECK = re.compile(re.escape(DATA_CHECK_PREFIX) + r"([^\]\n]+)")


class UserError(Exception):
  """Bad input from the user: a flag, a file, a config or a workdir that cannot be used as given.

  Raised in relive_tf/cli only; the library below raises ValueError or TypeError. The message
  states the value, what was required and what to do.
  """


class WriteError(OSError):
  """A write that failed midway (a full disk, a lost permission, a failing device).

  The message names what was being written, the cause, what is kept and what to do; the CLI prints
  it as one line. What was half written is deleted before it is raised.
  """


class LostWorkerError(ConnectionError):
  """A worker of a multi-worker run stopped (crashed, killed, preempted, unreachable)."""


def write_error(what, path, cause, kept):
  """A WriteError: "cannot write WHAT (PATH): CAUSE; KEPT: free some space or fix the permissions,
  then run the same command again".

  Args:
    what: what was being written ("the checkpoint of step 4").
    path: where.
    cause: the OSError or tensorflow OpError raised by the write.
    kept: what survives, as a clause ("the checkpoint of step 2 is kept").
  """
  text = getattr(cause, "strerror", None) or getattr(cause, "message", None) or str(cause)
  # A TensorFlow error from a function starts with "Graph execution error:"; the cause follows.
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  lines = [line for line in lines if not line.startswith("Graph execution error")]
  reason = lines[0] if lines else type(cause).__name__
  return WriteError(
    f"cannot write {what} ({path}): {reason}; {kept}: free some space or fix the permissions, "
    "then run the same command again"
  )


# TensorFlow's words for a path whose scheme no registered file system reads (s3:// without
# tensorflow-io, a typo such as gz://).
_UNKNOWN_FILESYSTEM = re.compile(
  r"File system scheme '([^']*)' not implemented \(file: '([^']*)'\)"
)


def unknown_filesystem_message(error):
  """The message for a TensorFlow error about a path with a scheme no file system reads, or None.

  Args:
    error: any exception, e.g. the tf.errors.UnimplementedError of tf.io.gfile.exists("s3://b/x").

  Returns:
    One line naming the path and the scheme, and what to do; None for any other error.
  """
  match = _UNKNOWN_FILESYSTEM.search(str(error))
  if not match:
    return None
  scheme, path = match.groups()
  return (
    f"{path!r}: TensorFlow reads no {scheme}:// paths here; give a local or gs:// path, or install "
    f'the TensorFlow plugin that adds {scheme}:// (BUILD.md, "Files on any filesystem")'
  )


def data_check_message(error):
  """The message of a failed in-graph data check that a TensorFlow error carries, or None.

  Args:
    error: any exception, e.g. the tf.errors.InvalidArgumentError of a train step.

  Returns:
    The check's one-line message (naming the damaged file and the fix), or None when `error` is
    not from such a check.
  """
  match = _DATA_CHECK.search(str(error))
  return match[1].strip() if match else None
