"""The one exception type the CLI prints as a plain message, without a traceback."""

import re

# Starts the message of the data checks that run inside TensorFlow graphs (a damaged shard found
# while reading), which can only fail with a TensorFlow error: user_error_in turns it back.
DATA_CHECK_PREFIX = "relive_tf data check: "
_DATA_CHECK = re.compile(re.escape(DATA_CHECK_PREFIX) + r"([^\]\n]+)")


class UserError(Exception):
  """Bad input from the user: a flag, a file, a config or a workdir that cannot be used as given.

  The message states the value, what was required and what to do.
  """


def user_error_in(error):
  """The UserError a TensorFlow error carries from a failed in-graph data check, or None.

  Args:
    error: any exception, e.g. the tf.errors.InvalidArgumentError of a train step.

  Returns:
    UserError(the check's message), or None when `error` is not from such a check.
  """
  match = _DATA_CHECK.search(str(error))
  return UserError(match[1].strip()) if match else None
