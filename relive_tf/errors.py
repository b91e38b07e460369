"""The CLI's UserError, printed without a traceback, and the marker of in-graph data checks."""

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
