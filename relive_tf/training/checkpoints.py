"""Checkpoints of a trainer keyed by variable path, and restoring a workdir's trained networks."""

import os

import tensorflow as tf

from relive_tf.training import family as family_lib
from relive_tf.training import trainer as trainer_lib
from relive_tf.training import workdir as workdir_lib


def make_checkpoint(trainer, **counters):
  """A tf.train.Checkpoint of a trainer's networks, optimizers and the given counter variables.

  Variables are keyed by their Keras paths rather than by the object graph, which misses layers
  held in Python lists; optimizer variables by their path without the optimizer's name, which Keras
  numbers per process. The learning rate is left out so that a resumed run takes the config's.
  """
  networks = {
    name: {variable.path: variable for variable in network.weights}
    for name, network in trainer.networks.items()
  }
  optimizers = {
    name: {
      variable.path.split("/", 1)[-1]: variable
      for variable in optimizer.variables
      if not variable.path.endswith("/learning_rate")
    }
    for name, optimizer in trainer.optimizers.items()
  }
  return tf.train.Checkpoint(networks=networks, optimizers=optimizers, **counters)


def latest_checkpoint(workdir):
  """The path prefix of a workdir's latest checkpoint, or None."""
  directory = os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)
  return tf.train.latest_checkpoint(directory) if tf.io.gfile.isdir(directory) else None


def restore_trained(workdir, expect, purpose="this"):
  """Rebuilds a workdir's networks from its config and restores them from its latest checkpoint.

  The networks are built alone (Family.build_trainer without a sample batch): no optimizer, no
  data read, so a workdir trained on shards elsewhere restores anywhere.

  Args:
    workdir: a workdir written by `relive train`.
    expect: the Family, or the Families, the caller can use.
    purpose: what the caller does, for the message when the workdir holds another model type.

  Returns:
    A family.Trained.

  Raises:
    ValueError: no config.json, a model type not expected, or no checkpoint yet.
  """
  config, family = workdir_lib.load_config(workdir, expect, purpose)
  return restore(workdir, config, family)


def restore(workdir, config, family):
  """restore_trained's second half, for a caller that has read the config (workdir.load_config).

  Raises:
    ValueError: no checkpoint yet.
  """
  latest = latest_checkpoint(workdir)
  if latest is None:
    raise ValueError(f"{workdir!r} holds no checkpoint yet: train it first (`relive train`)")
  trainer = trainer_lib.build(family, config, tf.distribute.get_strategy())
  step = tf.Variable(0, dtype=tf.int64)
  make_checkpoint(trainer, step=step).restore(latest).expect_partial()
  return family_lib.Trained(
    workdir=workdir, config=config, family=family, trainer=trainer, step=int(step.numpy())
  )
