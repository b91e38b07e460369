"""The video WGAN shipped with relive_tf (relive_tf/assets/vgan_tiny): one checkpoint of a
`relive train` run cut down to the network that samples videos, so that `relive generate`,
`relive evaluate` and `relive gallery` show a trained model before a user has trained one.

  relive train --config=configs/vgan.py:tiny --workdir=runs/shipped \
      --config.train.num_steps=12000 --config.train.checkpoint_every=500 \
      --config.train.max_checkpoints=30
  python -m relive_tf.training.shipped --workdir=runs/shipped --step=STEP

The folder is a workdir without the critic and the optimizers' state (a fifth of a checkpoint's
size): config.json, checkpoints/ckpt-STEP and workdir.SHIPPED_FILE, which says where it came from
and makes `relive train` refuse to resume it. docs/results.md has the run it ships and its scores.
"""

import os

import tensorflow as tf
from absl import app
from absl import flags
from absl import logging

from relive_tf import files
from relive_tf.training import checkpoints
from relive_tf.training import vgan as vgan_training
from relive_tf.training import workdir as workdir_lib

VGAN_TINY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "vgan_tiny")

FLAGS = flags.FLAGS


def ship(workdir, out_dir, step=None):
  """Writes out_dir as a workdir holding the sampling generator of one of workdir's checkpoints.

  Args:
    workdir: a video WGAN workdir written by `relive train`.
    out_dir: the shipped folder: new, empty or written by ship before (then replaced).
    step: the checkpoint's step; None for the newest.

  Returns:
    The description written to out_dir/workdir.SHIPPED_FILE: {"workdir", "step", "network"}.

  Raises:
    ValueError: workdir holds no video WGAN or no checkpoint (of `step`), or out_dir holds files
      that ship did not write.
  """
  config, family = workdir_lib.load_config(workdir, vgan_training.FAMILY, "shipping a model")
  paths = checkpoints.checkpoint_prefixes(os.path.join(workdir, workdir_lib.CHECKPOINT_DIR))
  if step is not None:
    chosen = [path for path in paths if os.path.basename(path) == f"ckpt-{step}"]
    if not chosen:
      steps = ", ".join(os.path.basename(path).removeprefix("ckpt-") for path in paths)
      raise ValueError(
        f"{workdir!r} holds no checkpoint of step {step}; choose one of: {steps or 'none yet'}"
      )
    paths = chosen
  trained = checkpoints.restore(workdir, config, family, paths)
  generator = trained.trainer.sampling_generator
  name = next(key for key, network in trained.trainer.networks.items() if network is generator)
  _clear(out_dir)
  tf.io.gfile.copy(
    os.path.join(workdir, workdir_lib.CONFIG_FILE), os.path.join(out_dir, workdir_lib.CONFIG_FILE)
  )
  sampling = tf.train.Checkpoint(
    networks={name: checkpoints.keyed_variables(generator)},
    step=tf.Variable(trained.step, dtype=tf.int64),
  )
  directory = os.path.join(out_dir, workdir_lib.CHECKPOINT_DIR)
  tf.train.CheckpointManager(sampling, directory, max_to_keep=1).save(
    checkpoint_number=trained.step
  )
  description = {"workdir": workdir, "step": trained.step, "network": name}
  files.write_json(os.path.join(out_dir, workdir_lib.SHIPPED_FILE), description)
  logging.info("shipped the %s of %s at step %d in %s", name, workdir, trained.step, out_dir)
  return description


def _clear(out_dir):
  """Empties out_dir where ship wrote it before; refuses a folder holding anything else."""
  if not tf.io.gfile.isdir(out_dir):
    files.make_folder(out_dir)
    return
  if not files.listdir(out_dir):
    return
  if not files.isfile(os.path.join(out_dir, workdir_lib.SHIPPED_FILE)):
    raise ValueError(
      f"{out_dir!r} holds files that are not a shipped model; give a new or empty folder"
    )
  tf.io.gfile.rmtree(out_dir)
  files.make_folder(out_dir)


def define_flags():
  flags.DEFINE_string("workdir", None, "a video WGAN workdir written by `relive train`")
  flags.DEFINE_integer("step", None, "the checkpoint's step (default: the newest)")
  flags.DEFINE_string("out", VGAN_TINY, "the shipped folder")
  flags.mark_flag_as_required("workdir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  description = ship(FLAGS.workdir, FLAGS.out, FLAGS.step)
  print(f"{FLAGS.out}: {description}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
