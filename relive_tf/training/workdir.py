"""A training workdir: its saved config, its checkpoints and restoring trained networks from them."""

import json
import os

import ml_collections
import tensorflow as tf

from relive_tf.errors import UserError

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
SUMMARY_DIR = "tb"


def load_config(workdir):
  """The config a workdir was trained with; a UserError when there is none."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.isfile(path):
    raise UserError(f"{workdir!r} holds no {CONFIG_FILE}: it is not a relive_tf workdir "
                    "(train one with `relive train --config=... --workdir=DIR`)")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def save_config(workdir, config):
  """Writes config.json, or checks that a resumed run keeps the model it was started with."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, CONFIG_FILE)
  if os.path.exists(path):
    saved = load_config(workdir)
    if saved.model_type != config.model_type:
      raise UserError(f"{workdir!r} holds a {saved.model_type!r} model, not {config.model_type!r}: "
                      "use another --workdir")
    saved_model = json.loads(saved.model.to_json())
    new_model = json.loads(config.model.to_json())
    if saved_model != new_model:
      changed = sorted(k for k in set(saved_model) | set(new_model)
                       if saved_model.get(k) != new_model.get(k))
      raise UserError(f"{workdir!r} was trained with other model settings ({', '.join(changed)}: "
                      f"{[saved_model.get(k) for k in changed]} there, "
                      f"{[new_model.get(k) for k in changed]} now): resume with the same model "
                      "config or use another --workdir")
  temporary = path + ".tmp"
  with open(temporary, "w") as f:
    f.write(config.to_json_best_effort(indent=2))
  os.replace(temporary, path)


def make_checkpoint(recipe, **counters):
  """A tf.train.Checkpoint of the recipe's networks, optimizers and the given counter variables.

  Variables are keyed by their Keras paths rather than by the object graph, which misses layers
  held in Python lists; optimizer variables by their path without the optimizer's name, which Keras
  numbers per process. The learning rate is left out so that a resumed run takes the config's.
  """
  networks = {name: {variable.path: variable for variable in network.weights}
              for name, network in recipe.networks.items()}
  optimizers = {name: {variable.path.split("/", 1)[-1]: variable
                       for variable in optimizer.variables
                       if not variable.path.endswith("/learning_rate")}
                for name, optimizer in recipe.optimizers.items()}
  return tf.train.Checkpoint(networks=networks, optimizers=optimizers, **counters)


def restore_trained(workdir):
  """Rebuilds a workdir's model from its config and restores the latest checkpoint.

  Returns:
    (config, recipe, step): the recipe exposes the trained networks (e.g. recipe.generator).
  """
  from relive_tf.training import recipes  # pylint: disable=g-import-not-at-top (cycle)
  config = load_config(workdir)
  directory = os.path.join(workdir, CHECKPOINT_DIR)
  latest = tf.train.latest_checkpoint(directory) if os.path.isdir(directory) else None
  if latest is None:
    raise UserError(f"{workdir!r} holds no checkpoint yet: train it first "
                    f"(`relive train --workdir={workdir} ...`)")
  recipe = recipes.build(config, tf.distribute.get_strategy())
  step = tf.Variable(0, dtype=tf.int64)
  make_checkpoint(recipe, step=step).restore(latest).expect_partial()
  return config, recipe, int(step.numpy())
