"""The CLI's own exception: what relive_tf/cli raises or maps library errors to, printed without a
traceback."""


class UserError(Exception):
  """Bad input from the user: a flag, a file, a config or a workdir that cannot be used as given.

  Raised in relive_tf/cli only; the library below raises ValueError or TypeError. The message
  states the value, what was required and what to do.
  """
