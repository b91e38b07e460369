"""The video WGAN shipped with relive_tf (relive_tf/assets/vgan_tiny): one checkpoint of a
`relive train` run cut down to the network that samples videos, so that `relive generate`,
`relive evaluate` and `relive gallery` show a trained model before a user has trained one.

  relive train --config=configs/vgan.py:tiny --workdir=runs/shipped \
      --config.train.num_steps=12000 --config.train.checkpoint_every=500 \
      --config.train.max_checkpoints=30
  python -m relive_tf.training.shipped --workdir=runs/shipped --step=STEP

The folder is a workdir whose checkpoints are replaced by the sampling generator's weights (a fifth
of a checkpoint's size; no critic or optimizer state): config.json, generator.weights.h5 (Keras's
weights file) and shipped.json, written last, which names the source, step and network, makes
checkpoints.restore load the weights and `relive train` refuse the folder. docs/results.md has the
run it ships and its scores.
"""

import os
import re
import sys
import uuid

import tensorflow as tf
from absl import app
from absl import flags

from relive_tf import errors
from relive_tf import files
from relive_tf.training import checkpoints
from relive_tf.training import vgan as vgan_training
from relive_tf.training import workdir as workdir_lib

VGAN_TINY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "vgan_tiny")
# What ship writes in its folder, and the reports `relive evaluate --report` adds there, which
# describe the model a new ship replaces.
_WRITTEN = re.compile(
  rf"{re.escape(workdir_lib.CONFIG_FILE)}|{re.escape(workdir_lib.SHIPPED_FILE)}|"
  rf"{re.escape(workdir_lib.SHIPPED_WEIGHTS)}|evaluation_.*_step\d+\.json"
)

FLAGS = flags.FLAGS


def ship(workdir, out_dir, step=None):
  """Writes out_dir as a workdir holding the sampling generator of one of workdir's checkpoints.

  The folder is written beside out_dir first and swapped in whole, so a failed or interrupted ship
  leaves the model shipped before in place.

  Args:
    workdir: a video WGAN workdir written by `relive train`.
    out_dir: the shipped folder: new, empty or written by ship before (then replaced).
    step: the checkpoint's step; None for the newest.

  Returns:
    The description written to out_dir/shipped.json: {"workdir", "step", "network"}.

  Raises:
    ValueError: workdir holds no video WGAN or no readable checkpoint (of `step`), out_dir is
      workdir, lies in it or holds it, out_dir holds files that ship did not write, or the folder
      beside it cannot be created.
    errors.WriteError: a write or rename failed midway (a full disk); out_dir is as it was.
  """
  source, target = files.resolved(workdir), files.resolved(out_dir)
  if files.is_inside(source, target) or files.is_inside(target, source):
    raise ValueError(
      f"out {out_dir!r} is the workdir {workdir!r}, lies inside it or holds it; give another folder"
    )
  _check_replaceable(out_dir)
  config, family = workdir_lib.load_config(workdir, vgan_training.FAMILY, "shipping a model")
  paths = checkpoints.checkpoint_prefixes(os.path.join(workdir, workdir_lib.CHECKPOINT_DIR))
  steps = ", ".join(os.path.basename(path).removeprefix("ckpt-") for path in paths)
  if step is not None:
    paths = [path for path in paths if os.path.basename(path) == f"ckpt-{step}"]
    if not paths:
      raise ValueError(
        f"{workdir!r} holds no checkpoint of step {step}; choose one of: {steps or 'none yet'}"
      )
  try:
    trained = checkpoints.restore(workdir, config, family, paths)
  except ValueError:
    if step is None:
      raise
    raise ValueError(
      f"the checkpoint of step {step} in {workdir!r} is damaged; choose another --step of {steps}"
    ) from None
  generator = trained.trainer.sampling_generator
  name = next(key for key, network in trained.trainer.networks.items() if network is generator)
  description = {"workdir": workdir, "step": trained.step, "network": name}
  staging = f"{target.rstrip('/')}.partial-{uuid.uuid4().hex[:8]}"
  try:
    _write(staging, workdir, generator, description)
    _swap_in(staging, target)
  except (OSError, tf.errors.OpError) as error:
    kept = "the folder is as it was"
    raise errors.write_error("the shipped model", out_dir, error, kept) from None
  finally:
    if tf.io.gfile.exists(staging):
      tf.io.gfile.rmtree(staging)
  return description


def _check_replaceable(out_dir):
  """Refuses an out_dir that holds anything but an earlier ship's files (_WRITTEN), before
  anything is read or written."""
  if not tf.io.gfile.isdir(out_dir):
    if tf.io.gfile.exists(out_dir):
      raise ValueError(f"out {out_dir!r} is a file; give a folder")
    return
  names = files.listdir(out_dir)
  if names and workdir_lib.SHIPPED_FILE not in names:
    raise ValueError(f"{out_dir!r} holds files of no shipped model; give a new or empty folder")
  others = [name for name in names if not _WRITTEN.fullmatch(name)]
  if others:
    raise ValueError(
      f"{out_dir!r} is a shipped model that also holds {', '.join(sorted(others))}; move those "
      "out first, or give a new folder"
    )


def _write(folder, workdir, generator, description):
  """The shipped model in `folder`: config.json, the generator's weights, shipped.json last."""
  files.make_folder(folder)
  tf.io.gfile.copy(
    os.path.join(workdir, workdir_lib.CONFIG_FILE), os.path.join(folder, workdir_lib.CONFIG_FILE)
  )
  generator.save_weights(os.path.join(folder, workdir_lib.SHIPPED_WEIGHTS))
  files.write_json(os.path.join(folder, workdir_lib.SHIPPED_FILE), description)


def _swap_in(staging, out_dir):
  """Renames staging to out_dir; an earlier out_dir (checked by _check_replaceable) is renamed
  aside first, back where the rename fails, and deleted last."""
  replaced = f"{staging}-replaced"
  if tf.io.gfile.isdir(out_dir):
    tf.io.gfile.rename(out_dir, replaced)
  else:
    files.make_folder(os.path.dirname(out_dir))
  try:
    tf.io.gfile.rename(staging, out_dir)
  except (OSError, tf.errors.OpError):
    if tf.io.gfile.exists(replaced):
      tf.io.gfile.rename(replaced, out_dir)
    raise
  if tf.io.gfile.exists(replaced):
    tf.io.gfile.rmtree(replaced)


def define_flags():
  flags.DEFINE_string("workdir", None, "a video WGAN workdir written by `relive train`")
  flags.DEFINE_integer("step", None, "the checkpoint's step (default: the newest)")
  flags.DEFINE_string("out", VGAN_TINY, "the shipped folder")
  flags.mark_flag_as_required("workdir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    description = ship(FLAGS.workdir, FLAGS.out, FLAGS.step)
  except (ValueError, errors.WriteError) as error:
    sys.exit(f"python -m relive_tf.training.shipped: error: {error}")
  print(f"shipped the {description['network']} at step {description['step']} in {FLAGS.out}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
