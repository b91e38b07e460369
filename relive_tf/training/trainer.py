"""The Trainer protocol the loop runs, and what trainers share: optimizers, a batch to build on."""

from collections.abc import Mapping
from typing import Protocol

import keras
import tensorflow as tf

OPTIMIZERS = ("rmsprop", "adam")


class Trainer(Protocol):
  """A model family's networks, optimizers and compiled train step, built in a strategy's scope.

  The loop around it owns the strategy, the data, checkpoints, summaries and progress; a trainer
  only updates its networks. Family.build_trainer makes one from a config.

  Attributes:
    networks: {name: keras.Model}: what checkpoints save, by variable path, and summaries
      histogram.
    optimizers: {name: keras optimizer}, saved beside the networks; empty in a trainer built
      without a sample batch (for inference).
    batches_per_step: global batches one train_step takes from the iterator.
  """

  networks: Mapping[str, keras.Model]
  optimizers: Mapping[str, keras.optimizers.Optimizer]
  batches_per_step: int

  def train_step(self, iterator) -> Mapping[str, tf.Tensor]:
    """One update on the next batches of a distributed iterator (pipeline.training_batches).

    Returns:
      Scalar metrics summed over replicas, each replica's share already divided by the global
      batch size; logged as train/<name>.
    """

  def sample_videos(self) -> tf.Tensor:
    """float32 [n, frames, height, width, 3] in [-1, 1] from fixed inputs: the GIF summary."""


def make_optimizer(name, learning_rate, adam_beta1, adam_beta2):
  """RMSProp (the WGAN paper's, for weight clipping) or Adam (WGAN-GP's betas).

  Raises:
    ValueError: `name` is not one of OPTIMIZERS.
  """
  if name == "rmsprop":
    return keras.optimizers.RMSprop(learning_rate)
  if name == "adam":
    return keras.optimizers.Adam(learning_rate, beta_1=adam_beta1, beta_2=adam_beta2)
  raise ValueError(f"train.optimizer is {name!r}; use one of {OPTIMIZERS}")


def zero_batch(*, frames, size, noise_dim):
  """One all-zero example shaped like a training batch: enough to create every network weight.

  Returns:
    {"index": int64 [1], "video": float32 [1, frames, size, size, 3] and, with noise_dim > 0,
    "noise": float32 [1, noise_dim]}.
  """
  batch = {"index": tf.zeros([1], tf.int64), "video": tf.zeros([1, frames, size, size, 3])}
  if noise_dim:
    batch["noise"] = tf.zeros([1, noise_dim])
  return batch


def build(family, config, strategy, sample_batch=None):
  """family.build_trainer(config, strategy, sample_batch), Keras seeded from config.seed first so
  that one seed gives one set of initial weights."""
  keras.utils.set_random_seed(config.seed)
  return family.build_trainer(config, strategy, sample_batch)
