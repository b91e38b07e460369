"""`relive train`: trains (or resumes) a model from a config in a workdir."""

import contextlib
import importlib
import importlib.util
import os
import signal

import ml_collections
from absl import flags
from ml_collections import config_flags

from relive_tf import errors
from relive_tf import files
from relive_tf.cli import checks
from relive_tf.cli import console
from relive_tf.cli import messages
from relive_tf.training import settings
from relive_tf.training import stopping
from relive_tf.training import workdir as workdir_lib

FLAGS = flags.FLAGS
REQUIRED = ("config", "workdir")


def define_flags():
  config_flags.DEFINE_config_file(
    "config",
    None,
    "model config file and variant, e.g. configs/vgan.py:tiny; override keys "
    "with --config.train.num_steps=100",
    lock_config=True,
  )
  flags.DEFINE_string(
    "workdir",
    None,
    "folder for config.json, checkpoints/ and the TensorBoard runs tb/train and tb/eval; "
    "an existing one is resumed",
  )
  flags.mark_flags_as_required(REQUIRED)
  checks.config_loaded("config")
  checks.output_folder("workdir", "the run")
  checks.utf8_name("workdir")


def check_settings():
  """Refuses a --config, or a local --workdir, that training would refuse, before TensorFlow
  loads: in a quarter of a second, not after the 5 s it takes to load. A config that holds a value
  of another type, a model type without a configs/ file to compare with and a remote workdir are
  left to main.

  Raises:
    errors.UserError: a config that is no ConfigDict, lacks model_type or lacks keys of its model
      type's configs/ file.
    ValueError: a setting settings.validate refuses; a workdir of another model type, a shipped
      model, or a folder `relive export` or `relive gallery` wrote (workdir.py).
    OSError: the workdir's config.json cannot be read.
  """
  model_type = _model_type(FLAGS.config)
  reference_file = _reference_config(model_type)
  if reference_file:
    _check_keys(FLAGS.config, model_type, reference_file)
  with contextlib.suppress(AttributeError, KeyError, OSError, TypeError):  # OSError: not loaded
    settings.validate(settings.with_loop_keys(FLAGS.config))
  if not files.is_remote(FLAGS.workdir):  # tf.io.gfile would read a remote one
    workdir_lib.check_not_other_output(FLAGS.workdir)
    if reference_file:
      workdir_lib.check_model_type(FLAGS.workdir, FLAGS.config)


class _SigtermWhileStarting(BaseException):
  """SIGTERM before the loop's first step. A BaseException, so that no `except Exception` it
  lands in (logging's handlers catch Exception while they write a line) swallows it."""


def _sigterm_while_starting(signal_number, frame):
  del signal_number, frame
  signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already: another one changes nothing
  raise _SigtermWhileStarting


@contextlib.contextmanager
def starting():
  """Entered by the CLI before TensorFlow loads (cli.run): a scheduler's SIGTERM from then to the
  loop's first step ends the run as one during training does, with status 0; the loop defers it to
  a step boundary from its first step on. (Installed in main, after TensorFlow had loaded, a
  SIGTERM in the command's first 2 seconds killed it with status 143.)"""
  signal.signal(signal.SIGTERM, _sigterm_while_starting)
  try:
    yield
  except _SigtermWhileStarting:
    raise stopping.Stopped(
      "stopped while starting (SIGTERM), before any step: run the same command to train",
      signal.SIGTERM,
    ) from None
  finally:
    _default_sigterm()


def _default_sigterm():
  """SIGTERM's default action back, but while a stop is under way: it stays ignored then."""
  if signal.getsignal(signal.SIGTERM) is _sigterm_while_starting:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main():
  try:
    from relive_tf import families  # noqa: PLC0415 (loads TensorFlow: after the flags, see cli)
    from relive_tf.training import distribution  # noqa: PLC0415
    from relive_tf.training import loop  # noqa: PLC0415

    family = families.get(FLAGS.config.model_type)  # a known one, or a ValueError naming them
    loop.train_and_evaluate(FLAGS.config, FLAGS.workdir, family)
  finally:
    _default_sigterm()  # trained, or stopping
  relive, tensorboard = console.command("relive"), console.command("tensorboard")
  use = (
    f"; use the {family.title} with `{relive} {family.command} --workdir={FLAGS.workdir} "
    f"{_other_required_flags(family.command)}`"
    if family.command
    else ""
  )
  print(
    f"trained: checkpoints in {FLAGS.workdir}/checkpoints, TensorBoard logs in "
    f"{FLAGS.workdir}/tb ({tensorboard} --logdir {FLAGS.workdir}/tb){use}"
  )
  if len(distribution.training_tasks()) <= 1:
    # Through tf.distribute's input pipeline (a GPU) the interpreter's shutdown frees the train
    # step's graph last, and with it an iterator whose destructor waited for tf.data's autotuning
    # thread: up to a minute after the line above (docs/reliability.md, "Exit"). Several workers
    # leave through TensorFlow's shutdown barrier.
    console.leave(0)


def _model_type(config):
  """The model_type of a --config file's config.

  Raises:
    errors.UserError: get_config() gave no ml_collections.ConfigDict, or one without model_type.
  """
  if not isinstance(config, ml_collections.ConfigDict):
    raise errors.UserError(messages.not_a_config_dict(config))
  if "model_type" not in config:
    raise errors.UserError("--config holds no model_type; start from one of the configs/*.py")
  return config.model_type


def _reference_config(model_type):
  """The repository's configs/MODEL_TYPE.py, whose keys a config of that type must hold; None for
  a model type without a file there (main names the known ones) or a package installed without
  the repository. Looked up among the folder's names: a model type is never made a path."""
  if not isinstance(model_type, str) or not os.path.isdir(messages.REPO_CONFIGS):
    return None
  name = f"{model_type}.py"
  return (
    os.path.join(messages.REPO_CONFIGS, name) if name in os.listdir(messages.REPO_CONFIGS) else None
  )


def _check_keys(config, model_type, reference_file):
  """Refuses a config that lacks keys of its model type's config file, configs/MODEL_TYPE.py (a
  custom file written from scratch, --config.model_type=lstm on configs/vgan.py, a section
  replaced by a dict override): the trainer would fail on the first one it reads, in a traceback.

  Raises:
    errors.UserError: naming the missing keys and the file to start from.
  """
  spec = importlib.util.spec_from_file_location("reference_config", reference_file)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  missing = sorted(workdir_lib.flat(module.get_config()).keys() - workdir_lib.flat(config).keys())
  if missing:
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    raise errors.UserError(
      f"the config lacks {', '.join(missing[:3])}{more}, which a {model_type!r} model needs "
      f"(model_type is {model_type!r}): start from configs/{model_type}.py and change its values"
    )


def _other_required_flags(command):
  """The required flags of `relive COMMAND` besides --workdir: "--out=OUT" for generate."""
  required = importlib.import_module(f"relive_tf.cli.{command}").REQUIRED
  return " ".join(f"--{name}={name.upper()}" for name in required if name != "workdir")
