"""Checkpoints of a trainer keyed by variable path, and restoring a workdir's trained networks."""

import os
import re
import time

import tensorflow as tf
from absl import logging
from google.protobuf import text_format

from relive_tf import errors
from relive_tf import files
from relive_tf.training import family as family_lib
from relive_tf.training import trainer as trainer_lib
from relive_tf.training import workdir as workdir_lib

STATE_FILE = "checkpoint"  # tf.train.CheckpointManager's list of the checkpoints in its folder
_INDEX_FILE = re.compile(r"(ckpt-(\d+))\.index")  # the loop saves ckpt-STEP


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
  """checkpoint.restore(path), with a damaged checkpoint (cut, corrupt or missing files) as a
  ValueError that names it and the fix, rather than TensorFlow's IndexError or OpError.

  Returns:
    The restore's status (tf.train.Checkpoint.restore).

  Raises:
    ValueError: the checkpoint's files cannot be read.
  """
  try:
    return checkpoint.restore(path)
  # OpError: DataLossError and OutOfRangeError for cut or corrupt files, a plain OpError for an
  # index file without its data file (a partial copy).
  except (IndexError, tf.errors.OpError) as error:
    raise ValueError(f"checkpoint {path} is damaged ({type(error).__name__}: {error})") from None


def checkpoint_prefixes(directory, repair=False):
  """The prefixes of the checkpoints in `directory` whose index file is there, oldest first.

  They come from the folder's state file (STATE_FILE). Where that file is missing, empty or
  unreadable (a partial copy, an editor), or names no checkpoint that is there, they come from the
  ckpt-STEP files themselves, with a warning, so that a resumed run starts from them instead of
  from step 0 over them; with `repair` (the run's chief, before its tf.train.CheckpointManager
  reads the file) the file is written anew.

  Returns:
    A list of paths without the .index suffix; empty for a folder without checkpoints.

  Raises:
    errors.WriteError: the state file could not be written anew (a folder in its place, a lost
      permission).
  """
  if not tf.io.gfile.isdir(directory):
    return []
  try:
    state = tf.train.get_checkpoint_state(directory)  # None for a missing or garbled file
  except ValueError:  # an empty one
    state = None
  if state is not None:
    paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    paths = [path for path in paths if tf.io.gfile.exists(f"{path}.index")]
    if paths:
      return paths
  found = sorted(
    (int(match[2]), os.path.join(directory, match[1]))
    for name in tf.io.gfile.listdir(directory)
    if (match := _INDEX_FILE.fullmatch(name))
  )
  paths = [path for _, path in found]
  if paths:
    state_file = os.path.join(directory, STATE_FILE)
    if repair:
      try:
        _write_state(state_file, paths)
      except (OSError, tf.errors.OpError) as error:
        raise errors.write_error(
          "the checkpoints' state file", state_file, error, "the checkpoints are kept"
        ) from None
    logging.warning(
      "%s is missing, empty, unreadable or names none of the checkpoints beside it: %s the %d "
      "there (%s to %s)",
      state_file,
      "rewrote it listing" if repair else "using",
      len(paths),
      os.path.basename(paths[0]),
      os.path.basename(paths[-1]),
    )
  return paths


def _write_state(state_file, paths):
  """A state file listing `paths` by name, as tf.train.CheckpointManager writes it, with their
  files' times (no later than now) as its timestamps, so that it deletes them in turn beyond
  train.max_checkpoints (update_checkpoint_state, which writes the file itself, is deprecated and
  sets no times)."""
  now = time.time()
  times = [min(tf.io.gfile.stat(f"{path}.index").mtime_nsec / 1e9, now) for path in paths]
  names = [os.path.basename(path) for path in paths]
  state = tf.compat.v1.train.generate_checkpoint_state_proto(
    os.path.dirname(state_file),
    names[-1],
    all_model_checkpoint_paths=names,
    all_model_checkpoint_timestamps=times,
    last_preserved_timestamp=min(times) - 1,
  )
  files.write_text(state_file, text_format.MessageToString(state))


def read_newest(checkpoint, directory, paths):
  """Restores the newest of `paths` (checkpoint_prefixes(directory)) that can be read: a damaged
  newer one (a cut or corrupt file) is passed over with a warning, so a run resumes from the one
  before it.

  Returns:
    (its path, the restore's status), or (None, None) for no paths.

  Raises:
    ValueError: every checkpoint there is damaged.
  """
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


def restore(workdir, config, family, paths=None):
  """restore_trained's second half, for a caller that has read the config (workdir.load_config)
  and may have listed the checkpoints (`paths`: checkpoint_prefixes of the workdir's folder, so
  that a missing state file is warned about once).

  A shipped model (training/shipped.py) has no checkpoint: its network's weights file is loaded,
  at the step its description names.

  Raises:
    ValueError: no checkpoint yet, or every one damaged (a damaged newest one is passed over with
      a warning: read_newest); for a shipped model, its weights or description missing or
      damaged, with the fix for that.
  """
  if workdir_lib.is_shipped(workdir):
    return _restore_shipped(workdir, config, family)
  directory = os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)
  if paths is None:
    paths = checkpoint_prefixes(directory)
  if not paths:
    running = files.holder(workdir)
    if running:
      raise ValueError(
        f"{workdir!r} holds no checkpoint yet: {running} is training it; try again after its "
        "first checkpoint (train.checkpoint_every steps)"
      )
    raise ValueError(f"{workdir!r} holds no checkpoint yet: train it first (`relive train`)")
  trainer = trainer_lib.build(family, config, tf.distribute.get_strategy())
  step = tf.Variable(0, dtype=tf.int64)
  _, status = read_newest(make_checkpoint(trainer, step=step), directory, paths)
  status.expect_partial()
  return family_lib.Trained(
    workdir=workdir, config=config, family=family, trainer=trainer, step=int(step.numpy())
  )


def _restore_shipped(workdir, config, family):
  """restore for a shipped model: its networks built, the shipped one's weights loaded.

  Raises:
    ValueError: the weights file or the description is missing or damaged; the fix is the folder
      as shipped, not training.
  """
  trainer = trainer_lib.build(family, config, tf.distribute.get_strategy())
  try:
    description = files.read_json(os.path.join(workdir, workdir_lib.SHIPPED_FILE))
    network = trainer.networks[description["network"]]
    network.load_weights(os.path.join(workdir, workdir_lib.SHIPPED_WEIGHTS))
    step = int(description["step"])
  except (OSError, ValueError, KeyError, TypeError) as error:
    raise ValueError(
      f"{workdir!r} is {workdir_lib.SHIPPED_MODEL} whose weights or description are missing or "
      f"damaged ({type(error).__name__}); restore the folder (reinstall relive_tf, or `git "
      "checkout` it in the repository)"
    ) from None
  return family_lib.Trained(
    workdir=workdir, config=config, family=family, trainer=trainer, step=step
  )
