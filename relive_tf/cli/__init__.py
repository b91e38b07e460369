"""The `relive` command: picks a subcommand, whose module defines its flags and calls the library.

The library raises ValueError or TypeError for input it cannot use, naming the value and the fix;
here, at the boundary, those become one-line errors (UserError is the CLI's own), and so does a
TensorFlow error that carries a failed data check (errors.data_check_message: a damaged shard met
inside a graph). Any other error raised deeper (TensorFlow, NumPy) is a bug and keeps its traceback.
"""

import importlib
import sys

from relive_tf import errors

# Raised by relive_tf itself about the input it was given (ArithmeticError: a diverged training).
_INPUT_ERRORS = (ValueError, TypeError, ArithmeticError)

# name -> (module under relive_tf.cli, one line of help). Each module has define_flags() and main().
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


def _usage():
  width = max(map(len, SUBCOMMANDS))
  lines = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items())
  return USAGE.format(lines=lines)


def run(argv=None):
  """Entry point of the `relive` console script."""
  argv = list(sys.argv if argv is None else argv)
  if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
    print(_usage())
    sys.exit(0 if len(argv) >= 2 else 2)
  name = argv[1]
  if name not in SUBCOMMANDS:
    sys.stderr.write(f"relive: unknown subcommand {name!r}\n\n{_usage()}\n")
    sys.exit(2)
  module = importlib.import_module(f"relive_tf.cli.{SUBCOMMANDS[name][0]}")
  module.define_flags()

  # Imported once the subcommand is known: absl's flags are global, each module defines its own.
  from absl import app  # noqa: PLC0415
  from absl import flags  # noqa: PLC0415

  if {"-h", "--help", "--helpshort"} & set(argv[2:]):
    # absl's own --help describes the script's module, not the subcommand's.
    print(
      f"usage: relive {name} [--flags]\n\n{module.__doc__.strip()}\n\n"
      f"{flags.FLAGS.module_help(module.__name__)}"
    )
    sys.exit(0)

  program = f"relive {name}"
  try:
    args = flags.FLAGS([program] + argv[2:])
  except flags.Error as error:
    _exit_with_error(program, f"{error}; `{program} --help` lists the flags", status=2)
  except (AttributeError, KeyError) as error:  # ml_collections: --config.KEY names no key
    _exit_with_error(
      program,
      f"unknown config key {str(error).strip(chr(34))}; the config file lists the keys",
      status=2,
    )
  except (TypeError, ValueError) as error:  # ml_collections: a value of the wrong type
    _exit_with_error(program, f"bad config override: {error}", status=2)

  if len(args) > 1:
    _exit_with_error(
      program,
      f"unexpected arguments: {' '.join(args[1:])}; flags take the form --name=value",
      status=2,
    )

  def main(_):
    try:
      module.main()
    except errors.UserError as error:
      _exit_with_error(program, str(error), status=1)
    except _INPUT_ERRORS as error:
      if not _raised_by_relive_tf(error):
        raise
      _exit_with_error(program, str(error), status=1)
    except Exception as error:  # a damaged shard met while TensorFlow reads it
      message = errors.data_check_message(error)
      if message is None:
        raise
      _exit_with_error(program, message, status=1)

  app.run(main, argv=args, flags_parser=lambda _: args)


def _raised_by_relive_tf(error):
  """Whether the innermost frame of the error's traceback is relive_tf code: a `raise` of ours about
  the input, rather than an error inside a library it called."""
  traceback = error.__traceback__
  while traceback.tb_next is not None:
    traceback = traceback.tb_next
  return traceback.tb_frame.f_globals.get("__name__", "").startswith("relive_tf.")


def _exit_with_error(program, message, status):
  """Usage errors exit with 2, errors found while running with 1; neither prints a traceback."""
  sys.stderr.write(f"{program}: error: {message}\n")
  sys.exit(status)
