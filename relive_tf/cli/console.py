"""What a `relive` command prints: its own lines, and other libraries' only at --verbosity=1."""

import contextlib
import logging as std_logging
import os
import re
import shutil
import sys
import tempfile

from absl import logging

# relive_tf's own source files: the log records from there are the ones a user sees by default.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Lines of TensorFlow's C++ logging, in absl's format ("I0000 00:00:1796083.5 6137 port.cc:153] "),
# and the notice it prints while it logs before absl is initialized, which TF_CPP_MIN_LOG_LEVEL does
# not reach: "oneDNN custom operations are on" and "Could not find cuda drivers", twice each.
_NATIVE_LOG_LINE = re.compile(
  r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] |"
  r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)"
)


def _own_or_error(record):
  """Keeps relive_tf's records and others' errors: TensorFlow also logs through absl ("Sharding
  callback duration" at each checkpoint), and Python warnings are routed to logging here."""
  return record.pathname.startswith(_PACKAGE_DIR) or record.levelno >= std_logging.ERROR


class _PlainFormatter(std_logging.Formatter):
  """relive's lines as they are; a warning or an error says so first."""

  def format(self, record):
    message = super().format(record)
    if record.levelno >= std_logging.WARNING:
      return f"{record.levelname.lower()}: {message}"
    return message


def setup(verbosity):
  """Sets up what one command prints, then loads TensorFlow; call before anything imports it.

  Args:
    verbosity: absl's --verbosity. 0 (the default): relive's own lines, plain; -1: its warnings
      and errors only; 1 and up: also its debug lines (the resolved config) and everything
      TensorFlow and the other libraries log, in absl's format with time and source line.
  """
  verbose = verbosity >= 1
  # Read once, when TensorFlow loads. Level 3 also hides errors that are no error for a user,
  # "failed call to cuInit" on a machine without a GPU; what fails reaches Python as an exception.
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"
  std_logging.captureWarnings(True)
  if not verbose:
    handler = logging.get_absl_handler()
    handler.setFormatter(_PlainFormatter())
    handler.addFilter(_own_or_error)
  with _native_stderr_filtered(keep=lambda line: verbose or not _NATIVE_LOG_LINE.match(line)):
    import tensorflow  # noqa: F401, PLC0415 (loaded here, where its start-up lines are filtered)


@contextlib.contextmanager
def _native_stderr_filtered(keep):
  """Sends what is written to file descriptor 2 while the block runs (native code's stderr) to a
  temporary file, then writes the lines `keep` accepts to stderr."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode(errors="replace")
      sys.stderr.write("".join(line for line in text.splitlines(keepends=True) if keep(line)))
      sys.stderr.flush()


def leave(status):
  """Ends the process with `status` now, its output flushed, skipping the interpreter's shutdown:
  for a command whose work is all written and whose libraries would hold that shutdown up."""
  std_logging.shutdown()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)


def command(name):
  """How to type `name` ("relive", "tensorboard"), installed beside the running relive: bare when
  PATH finds that one, else its path as relive was invoked (".venv/bin/relive" in `make demo`)."""
  beside = os.path.join(os.path.dirname(sys.argv[0]), name)
  found = shutil.which(name)
  if found is None or os.path.realpath(found) != os.path.realpath(beside):
    return beside
  return name
