"""Checkpoints of a trainer keyed by variable path, and restoring a workdir's trained networks."""

import os

import tensorflow as tf
from absl import logging

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


def read(checkpoint, path):
  """checkpoint.restore(path), with a damaged checkpoint (cut or corrupt files) as a ValueError
  that names it and the fix, rather than TensorFlow's IndexError or DataLossError.

  Returns:
    The restore's status (tf.train.Checkpoint.restore).

  Raises:
    ValueError: the checkpoint's files cannot be read.
  """
  try:
    return checkpoint.restore(path)
  except (IndexError, tf.errors.DataLossError, tf.errors.OutOfRangeError) as error:
    raise ValueError(f"checkpoint {path} is damaged ({type(error).__name__}: {error})") from None


def read_newest(checkpoint, directory):
  """Restores the newest checkpoint in `directory` that can be read: a damaged newer one (a cut
  or corrupt file) is passed over with a warning, so a run resumes from the one before it.

  Returns:
    (its path, the restore's status), or (None, None) when the folder holds no checkpoint.

  Raises:
    ValueError: every checkpoint there is damaged.
  """
  state = tf.train.get_checkpoint_state(directory) if tf.io.gfile.isdir(directory) else None
  if state is None or not state.model_checkpoint_path:
    return None, None
  paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
  paths = [path for path in paths if tf.io.gfile.exists(f"{path}.index")]
  for newer, path in enumerate(reversed(paths)):
    try:
      status = read(checkpoint, path)
    except ValueError as error:
      if newer + 1 == len(paths):
        raise ValueError(
          f"every checkpoint in {directory} is damaged (the oldest: {error}): train again in a "
          "new workdir"
        ) from None
      logging.warning("%s: using the checkpoint before it", error)
      continue
    return path, status
  return None, None


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
    ValueError: no checkpoint yet, or every one damaged (a damaged newest one is passed over with
      a warning: read_newest).
  """
  if latest_checkpoint(workdir) is None:
    raise ValueError(f"{workdir!r} holds no checkpoint yet: train it first (`relive train`)")
  trainer = trainer_lib.build(family, config, tf.distribute.get_strategy())
  step = tf.Variable(0, dtype=tf.int64)
  directory = os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)
  _, status = read_newest(make_checkpoint(trainer, step=step), directory)
  status.expect_partial()
  return family_lib.Trained(
    workdir=workdir, config=config, family=family, trainer=trainer, step=int(step.numpy())
  )
