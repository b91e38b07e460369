"""The `relive` command: picks a subcommand, whose module defines its flags and calls the library.

Subcommand modules import the library (and with it TensorFlow) inside main(): `--help` and a bad
flag never load TensorFlow, and TensorFlow's log level is set from --verbosity before it loads.

The library raises ValueError or TypeError for input it cannot use, naming the value and the fix;
here, at the boundary, those become one-line errors (UserError is the CLI's own), and so do the
operating system's errors about a path and a TensorFlow error that carries a failed data check
(errors.data_check_message: a damaged shard met inside a graph). Any other error raised deeper
(TensorFlow, NumPy) is a bug and keeps its traceback. Ctrl-C ends a command with status 130 and one
line.
"""

import contextlib
import importlib
import signal
import sys
import textwrap

from absl import app
from absl import flags
from ml_collections.config_flags import config_flags

from relive_tf import errors
from relive_tf.cli import console
from relive_tf.cli import messages
from relive_tf.training import stopping

# Raised by relive_tf itself about the input it was given (ArithmeticError: a diverged training;
# ConnectionError: a lost worker of a multi-worker run).
_INPUT_ERRORS = (ValueError, TypeError, ArithmeticError, ConnectionError)

# name -> (module under relive_tf.cli, one line of help). Each module has define_flags(), main()
# and REQUIRED, the names of the flags it cannot run without; OTHER_USAGE, where it has one, is
# another use that needs none of them.
SUBCOMMANDS = {
  "train": ("train", "train a model from a config (configs/*.py) in a workdir, or resume it"),
  "generate": ("generate", "write videos sampled from a trained video WGAN"),
  "relive": ("relive", "write the video a trained conditional WGAN makes around a photo"),
  "predict": ("predict", "continue a real video with a trained next-frame predictor"),
  "prepare": (
    "prepare",
    "turn a folder of videos (UCF-101, ASLAN, Vondrick et al., any) into "
    "TFRecord shards for training",
  ),
  "evaluate": ("evaluate", "measure a trained workdir: distances and sample scores of its clips"),
  "gallery": (
    "gallery",
    "build a static web page of workdirs' videos, training curves and metrics",
  ),
  "export": ("export", "write a trained model as a versioned SavedModel for TF Serving"),
}

USAGE = """usage: relive SUBCOMMAND [--flags]

subcommands:
{lines}

`relive SUBCOMMAND --help` lists the flags of one subcommand."""

# absl's --verbosity (-v), which every subcommand takes.
VERBOSITY_HELP = (
  "-v 1, --verbosity=1: also print debug lines (the resolved config) and the log lines of "
  "TensorFlow and other libraries; -v -1: of the log lines, warnings and errors only (the "
  "result line a command ends with still prints)"
)
_WIDTH = 100


def _usage():
  width = max(map(len, SUBCOMMANDS))
  lines = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items())
  return USAGE.format(lines=lines)


def _values(arguments, name):
  """The values of every --name=VALUE or --name VALUE (or -name, as absl also takes) before a
  "--" in arguments, in order."""
  values = []
  for argument, following in zip(arguments, [*arguments[1:], None]):
    if argument == "--":
      break
    flag, equals, given = argument.removeprefix("-").removeprefix("-").partition("=")
    if argument.startswith("-") and flag == name:
      values.append(given if equals else following)
  return values


def _last_value(arguments, name):
  """The value of the last --name in arguments (_values), or None."""
  values = _values(arguments, name)
  return values[-1] if values else None


def run(argv=None):
  """Entry point of the `relive` console script."""
  argv = list(sys.argv if argv is None else argv)
  if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
    print(_usage())
    sys.exit(0 if len(argv) >= 2 else 2)
  name = argv[1]
  if name not in SUBCOMMANDS:
    sys.stderr.write(f"relive: error: unknown subcommand {name!r}\n\n{_usage()}\n")
    sys.exit(2)
  module = importlib.import_module(f"relive_tf.cli.{SUBCOMMANDS[name][0]}")
  module.define_flags()

  if {"-h", "--help", "--helpshort"} & set(argv[2:]):
    print(subcommand_help(name, module))
    sys.exit(0)

  program = f"relive {name}"
  configs = _values(argv[2:], "config")
  if len(configs) > 1:  # absl keeps the last; with overrides, ml_collections fails on the second
    _exit_with_error(program, messages.config_given_twice(configs), status=2)
  try:
    args = flags.FLAGS([program] + argv[2:])
  except flags.IllegalFlagValueError as error:
    _exit_with_error(program, messages.flag_value_error(error, module.REQUIRED, program), status=2)
  except flags.UnrecognizedFlagError as error:
    names = [flag.name for flag in flags.FLAGS.get_flags_for_module(module.__name__)]
    _exit_with_error(program, messages.unknown_flag(error, names, program), status=2)
  except config_flags.FlagOrderError as error:
    _exit_with_error(program, messages.override_before_config(error), status=2)
  except flags.Error as error:
    _exit_with_error(program, f"{error}; `{program} --help` lists the flags", status=2)
  except (AttributeError, KeyError) as error:  # ml_collections: --config.KEY names no key
    _exit_with_error(program, messages.unknown_config_key(error, argv[2:]), status=2)
  except SyntaxError as error:  # ml_collections: --config names a file that is not Python
    _exit_with_error(program, messages.config_syntax_error(error), status=2)
  except (NameError, ImportError) as error:  # the --config file's own code failed (a JSON file)
    message = messages.config_code_error(_last_value(argv[2:], "config"), error)
    _exit_with_error(program, message, status=2)
  except (TypeError, ValueError) as error:  # ml_collections: a value of the wrong type
    _exit_with_error(program, f"bad config override: {error}", status=2)
  except OSError as error:  # ml_collections: a --config.KEY override of a file it could not load
    message = messages.config_load_error(_last_value(argv[2:], "config"), error)
    _exit_with_error(program, f"--config: {message}", status=2)

  if len(args) > 1:
    _exit_with_error(
      program,
      f"unexpected arguments: {' '.join(args[1:])}; flags take the form --name=value",
      status=2,
    )

  try:  # a subcommand's checks of its flags' values that need no TensorFlow
    getattr(module, "check_settings", lambda: None)()
  except (ValueError, errors.UserError) as error:
    _exit_with_error(program, str(error), status=1)
  except OSError as error:  # a file it read (a workdir's config.json) that cannot be opened
    if error.filename is None:
      raise
    _exit_with_error(program, messages.path_error(error), status=1)

  def main(_):
    try:
      # A subcommand's `starting`, where it has one, holds from before TensorFlow loads.
      with getattr(module, "starting", contextlib.nullcontext)():
        console.setup(flags.FLAGS.verbosity)
        module.main()
    except errors.UserError as error:
      _exit_with_error(program, str(error), status=1)
    except app.UsageError as error:
      _exit_with_error(program, f"{error}; `{program} --help` lists the flags", status=2)
    except errors.LostWorkerError as error:
      # TensorFlow's exit waits at its coordination service's shutdown barrier for the lost peer
      # (ten minutes in a test); the checkpoints are written, nothing is left to finish.
      _exit_with_error(program, str(error), status=1, at_once=True)
    except _INPUT_ERRORS as error:
      if not _raised_by_relive_tf(error):
        raise
      _exit_with_error(program, str(error), status=1)
    except errors.WriteError as error:
      _exit_with_error(program, str(error), status=1)
    except OSError as error:
      if error.filename is None:
        raise
      _exit_with_error(program, messages.path_error(error), status=1)
    except stopping.Stopped as stop:
      sys.stderr.write(f"{program}: {stop}\n")
      sys.exit(stop.exit_status)
    except KeyboardInterrupt:
      sys.stderr.write(f"{program}: interrupted\n")
      sys.exit(128 + signal.SIGINT)
    except Exception as error:  # a damaged shard, or a path no file system of TensorFlow reads
      message = errors.data_check_message(error) or errors.unknown_filesystem_message(error)
      if message is None:
        raise
      _exit_with_error(program, message, status=1)

  app.run(main, argv=args, flags_parser=lambda _: args)


def subcommand_help(name, module):
  """`relive NAME --help`: usage with the required flags, the module's docstring, its flags."""
  defined = {flag.name: flag for flag in flags.FLAGS.get_flags_for_module(module.__name__)}
  optional = sorted(set(defined) - set(module.REQUIRED))
  # A module's OTHER_USAGE: flags that do another job without the required ones (prepare --verify).
  other = getattr(module, "OTHER_USAGE", None)
  sections = [
    f"usage: relive {name} "
    + " ".join(f"--{flag}={flag.upper()}" for flag in module.REQUIRED)
    + " [--flags]"
    + (f"\n   or: relive {name} {other}" if other else ""),
    module.__doc__.strip(),
    f"required flags{f' (none with {other})' if other else ''}:\n"
    + "\n".join(_flag_line(defined[flag]) for flag in module.REQUIRED),
    "optional flags:\n" + ("\n".join(_flag_line(defined[flag]) for flag in optional) or "  none"),
    "every subcommand:\n" + _wrap(VERBOSITY_HELP),
  ]
  return "\n\n".join(sections)


def _flag_line(flag):
  """A flag's help, wrapped: "--num: number of videos (a positive integer; default 8)"."""
  notes = []
  parser = flag.parser
  if getattr(parser, "lower_bound", None) is not None or getattr(parser, "upper_bound", None):
    notes.append(parser.syntactic_help)
  if flag.default not in (None, []):
    shown = repr(flag.default) if isinstance(flag.default, str) else flag.default
    notes.append(f"default {shown}")
  return _wrap(f"--{flag.name}: {flag.help}" + (f" ({'; '.join(notes)})" if notes else ""))


def _wrap(text):
  # Runs of spaces joined too: absl adds "\n    repeat this option ..." to a multi flag's help.
  text = " ".join(text.split())
  return textwrap.fill(text, _WIDTH, initial_indent="  ", subsequent_indent="      ")


def _raised_by_relive_tf(error):
  """Whether the innermost frame of the error's traceback is relive_tf code: a `raise` of ours about
  the input, rather than an error inside a library it called."""
  traceback = error.__traceback__
  while traceback.tb_next is not None:
    traceback = traceback.tb_next
  return traceback.tb_frame.f_globals.get("__name__", "").startswith("relive_tf.")


def _exit_with_error(program, message, status, at_once=False):
  """Usage errors exit with 2, errors found while running with 1; neither prints a traceback.
  A message of several lines (several refused flags) prints a line for each. at_once: leave
  without the interpreter's shutdown (console.leave), for a process whose libraries would block
  it."""
  for line in message.splitlines():
    sys.stderr.write(f"{program}: error: {line}\n")
  if at_once:
    console.leave(status)
  sys.exit(status)
