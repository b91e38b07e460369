"""One-line messages for what absl and ml_collections raise about the command line."""

import ast
import difflib
import os
import re

from absl import flags


def _innermost(error):
  """The first exception of a chain: ml_collections re-raises a config file's own error, or the
  reason a file did not load, inside a new one."""
  while (error.__cause__ or error.__context__) is not None:
    error = error.__cause__ or error.__context__
  return error


def _names(items):
  """Names joined as people write them: "--a", "--a and --b", "--a, --b and --c"."""
  items = list(items)
  return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def flag_value_error(error, required, program):
  """The message of an absl IllegalFlagValueError, a line per problem: a value a flag's parser
  refused (a config file whose get_config() raised among them), missing required flags, or values
  the flags' checks refused.

  Args:
    error: the IllegalFlagValueError.
    required: names of the subcommand's required flags.
    program: "relive train", for the pointer to --help.
  """
  text = str(error)
  if error.__context__ is not None:
    # Raised parsing a value: ml_collections embeds a config file's own error and its traceback
    # ("flag --config=PATH: Error whilst parsing config file:\n\nTraceback ...").
    if "\n" in text:
      text = f"{text.partition(': ')[0]}: {_innermost(error)}"
    # Python's words for a number it could not read ("invalid literal for int() with base 10").
    text = re.sub(r": invalid literal for int\(\) with base 10: .*$", ": not a whole number", text)
    text = re.sub(r": could not convert string to float: .*$", ": not a number", text)
    return text.removeprefix("flag ")
  # Raised by the flags' checks, a line per refused flag: "flag --NAME=VALUE: what is wrong". A
  # config flag's value is an object, left out: its check names the file. A repeated flag's list
  # ("--NAME=['a', 'b']: a: what is wrong") gives way to the value its check names. A config's
  # own value (get_config() gave a number or a list) is left out: the message names its type.
  text = re.sub(r"(?m)^flag --(\w+)=.*?: (?=--\1's get_config\(\))", "", text)
  lines = [
    re.sub(
      r"--(\w+)=\[[^\n]*?\]: ",
      r"--\1=",
      re.sub(r"=<[^>\n]* object at 0x[0-9a-f]+>", "", line).removeprefix("flag "),
    )
    for line in text.splitlines()
  ]
  others = [line for line in lines if "must have a value other than None" not in line]
  # Only flags marked required are reported missing (`relive prepare --verify` needs none of them).
  unset = [
    name for name in required if f"--{name}=None: " in text and flags.FLAGS[name].value is None
  ]
  missing = [f"--{name}" for name in unset if not flags.FLAGS[name].present]
  if len(missing) < len(unset):  # a config file given, whose get_config() returned None
    others.insert(0, not_a_config_dict(None))
  if missing:
    verb, pronoun = ("is", "it") if len(missing) == 1 else ("are", "them")
    others.insert(0, f"{_names(missing)} {verb} required; `{program} --help` describes {pronoun}")
  return "\n".join(others)


def unknown_config_key(error, args):
  """The message of ml_collections' AttributeError or KeyError for --config.KEY=VALUE naming no key.

  Its text is the key's repr and a suggestion on the next line ("'num_step'\\nDid you mean
  "num_steps" instead of "num_step"?"); the override is found among `args` by that key.
  """
  text = str(error.args[0]) if error.args else str(error)
  # An AttributeError holds the KeyError's text as a string literal, escapes and all.
  while text[:1] in ("'", '"') and text[-1:] == text[:1]:
    text = ast.literal_eval(text)
  if "get_config" in text:  # the config file itself has no get_config()
    return f"the --config file defines no get_config(): {text}"
  first, _, rest = text.partition("\n")
  key = first.strip("'\"")
  suggestion = re.search(r'Did you mean "([^"]+)"', rest)
  overrides = [
    arg.lstrip("-").partition("=")[0] for arg in args if arg.lstrip("-").startswith("config.")
  ]
  override = next((name for name in overrides if key in name.split(".")[1:]), None)
  if override is None:
    message = f"the config has no key {key!r}"
  else:
    message = f"--{override}: the config has no key {key!r} there"
  if suggestion:
    fixed = (
      ".".join(suggestion[1] if part == key else part for part in override.split("."))
      if override
      else suggestion[1]
    )
    message += f"; did you mean --{fixed}?" if override else f"; did you mean {fixed!r}?"
  return f"{message}{'' if message.endswith('?') else '.'} The config file lists its keys"


def unknown_flag(error, names, program):
  """The message of an absl UnrecognizedFlagError, suggesting only the subcommand's own flags
  (`names`) and --verbosity: absl's suggestions include its debugging flags (--run_with_pdb).
  Only --config takes dotted names, its --config.KEY overrides, once --config=FILE is given."""
  name = error.flagname
  head, dot, rest = name.partition(".")
  if dot and head == "config" and "config" in names:
    return f"--{name} overrides a key of the --config file: give --config=FILE as well"
  if dot:  # --confg.seed: a misspelt override
    config_like = "config" in names and difflib.get_close_matches(head, ["config"])
    suggestions = [f"--config.{rest}"] if config_like else []
  else:
    suggestions = [f"--{match}" for match in difflib.get_close_matches(name, [*names, "verbosity"])]
  guess = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
  return f"unknown flag --{name}{guess}; `{program} --help` lists the flags"


def override_before_config(error):
  """The message of ml_collections' FlagOrderError, which names the override but not the fix: an
  override (--config.KEY=VALUE) given before --config=FILE, whose keys it overrides."""
  found = re.match(r"Found (\S+) in argv before a value for --(\w+) was specified", str(error))
  if not found:
    return str(error)
  override, name = found.groups()
  return f"{override} comes before --{name}: give --{name}=FILE first, then its overrides"


def config_given_twice(configs):
  """The message for --config given more than once (`configs`, its values in order)."""
  given = " and ".join(f"--config={config}" for config in configs)
  return (
    f"{given}: give --config once; a file's variants combine in one value, as in "
    "--config=configs/vgan.py:tiny,poster"
  )


def config_syntax_error(error):
  """The message of a SyntaxError raised loading --config: a file that is not Python."""
  return (
    f"--config={error.filename} is not a Python config file ({error.msg}, line {error.lineno}); "
    "give one such as configs/vgan.py:tiny"
  )


def config_code_error(path, error):
  """The message of a NameError or ImportError raised running a --config file's code: a workdir's
  config.json given as --config (JSON's `true` is no Python name), or a module it imports that is
  not installed."""
  return (
    f"--config={path} failed to load ({type(error).__name__}: {error}); give a Python config "
    "file such as configs/vgan.py:tiny (a workdir's config.json is not one: resume with "
    "--workdir alone and the --config it was started with)"
  )


def not_a_config_dict(config):
  """The message for a --config file whose get_config() returned something other than an
  ml_collections.ConfigDict (None, a dict, a number)."""
  name = type(config).__name__
  what = "None" if config is None else f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
  return (
    f"--config's get_config() returned {what}, not an ml_collections.ConfigDict; start from one "
    "of the repository's configs/*.py"
  )


# The repository's config files (relive_tf is installed from the repository, editable).
REPO_CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "configs")


def config_load_error(path, error):
  """Why ml_collections could not load a --config file, and the config files beside where it was
  looked for.

  Args:
    path: the flag's value, "configs/nope.py:tiny"; None where it cannot be told (given in a
      --flagfile).
    error: the OSError ml_collections raises on first use of a config it could not load.
  """
  if path is None:  # ml_collections' message lists each place tried; its last line says why
    reason = str(_innermost(error)).strip().splitlines()[-1].strip()
    return f"cannot load the --config file ({reason}); give one such as configs/vgan.py:tiny"
  file = path.partition(":")[0]
  cause = _innermost(error)
  if isinstance(cause, IsADirectoryError):
    reason = "is a folder, not a config file"
  elif isinstance(cause, FileNotFoundError) or not os.path.exists(file):
    reason = "does not exist"
  else:
    reason = f"cannot be read ({getattr(cause, 'strerror', None) or cause})"
  folder = file if os.path.isdir(file) else os.path.dirname(file) or "."
  if not os.path.isdir(folder):
    folder = "configs"
  found = (
    sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".py"))
    if os.path.isdir(folder)
    else []
  )
  # A relative path is read from the current folder; the repository's configs may be elsewhere.
  shipped = os.path.join(REPO_CONFIGS, os.path.basename(file))
  if found:
    more = f" and {len(found) - 4} more .py files" if len(found) > 4 else ""
    hint = f"give one of {', '.join(found[:4])}{more}"
  elif os.path.isfile(shipped):
    hint = f"give its full path, {shipped}"
  elif os.path.isfile(os.path.join(REPO_CONFIGS, "vgan.py")):
    hint = f"give a config file such as {os.path.join(REPO_CONFIGS, 'vgan.py')}"
  else:
    hint = "give a config file such as the repository's configs/vgan.py"
  return f"{file} {reason}: {hint}, with a variant after a colon (configs/vgan.py:tiny)"


def path_error(error):
  """The message of an OSError about a path the command was given (error.filename is set)."""
  second = f" and {error.filename2!r}" if error.filename2 else ""
  reason = (error.strerror or str(error)).lower()
  return f"cannot use {error.filename!r}{second}: {reason}; check the path and its permissions"
