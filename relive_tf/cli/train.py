"""`relive train`: trains (or resumes) a model from a config in a workdir."""

from absl import flags
from ml_collections import config_flags

from relive_tf import families
from relive_tf.training import loop

FLAGS = flags.FLAGS


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
    "folder for config.json, checkpoints/ and TensorBoard tb/; an existing one is resumed",
  )
  flags.mark_flags_as_required(["config", "workdir"])


def main():
  family = families.get(FLAGS.config.model_type)
  loop.train_and_evaluate(FLAGS.config, FLAGS.workdir, family)
  use = (
    f"; use the {family.title} with `relive {family.command} --workdir={FLAGS.workdir}`"
    if family.command
    else ""
  )
  print(
    f"trained: checkpoints in {FLAGS.workdir}/checkpoints, TensorBoard logs in "
    f"{FLAGS.workdir}/tb (tensorboard --logdir {FLAGS.workdir}/tb){use}"
  )
