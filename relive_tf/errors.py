"""The one exception type the CLI prints as a plain message, without a traceback."""


class UserError(Exception):
  """Bad input from the user: a flag, a file, a config or a workdir that cannot be used as given.

  The message states the value, what was required and what to do.
  """
