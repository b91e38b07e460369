"""The Trainer protocol the loop runs, and what trainers share: optimizers, a batch to build on."""

import contextlib
from collections.abc import Mapping
from typing import Protocol

import keras
import tensorflow as tf

OPTIMIZERS = ("rmsprop", "adam")
# train.precision: Keras dtype policies. The mixed ones keep float32 weights and losses and compute
# the layers in 16 bits.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


class Trainer(Protocol):
  """A model family's networks, optimizers and compiled train step, built in a strategy's scope.

  The loop around it owns the strategy, the data, checkpoints, summaries and progress; a trainer
  only updates its networks. Family.build_trainer makes one from a config.

  Attributes:
    networks: {name: keras.Model or keras.layers.Layer}: what checkpoints save, by variable path,
      and summaries histogram.
    optimizers: {name: keras optimizer}, saved beside the networks; empty in a trainer built
      without a sample batch (for inference).
    batches_per_step: global batches one train_step takes from the iterator.
    replica_steps: names of the methods train_step runs on each replica (strategy.run); with
      train.jit_compile, `build` compiles each with XLA.
  """

  networks: Mapping[str, keras.layers.Layer]
  optimizers: Mapping[str, keras.optimizers.Optimizer]
  batches_per_step: int
  replica_steps: tuple[str, ...]

  def train_step(self, iterator) -> Mapping[str, tf.Tensor]:
    """One update on the next batches of a distributed iterator (pipeline.training_batches).

    A tf.function, or a property giving the one the next update runs when a family picks between
    compiled steps (the predictor's teacher-forced and sampled steps); benchmarks trace it.

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
    optimizer = keras.optimizers.RMSprop(learning_rate)
  elif name == "adam":
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=adam_beta1, beta_2=adam_beta2)
  else:
    raise ValueError(f"train.optimizer is {name!r}; use one of {OPTIMIZERS}")
  if keras.config.dtype_policy().name == "mixed_float16":
    # float16 gradients of a loss near 1 underflow; apply_gradients scales the loss up first.
    return keras.optimizers.LossScaleOptimizer(optimizer)
  return optimizer


def apply_gradients(optimizer, tape, loss, variables):
  """Updates variables with the tape's gradients of loss.

  A LossScaleOptimizer (train.precision=mixed_float16) gets the gradients of its scaled loss, which
  it unscales before the update: the scale enters as the tape's output gradient, so the loss itself
  stays as computed, in float32.
  """
  scale = (
    optimizer.scale_loss(tf.ones_like(loss))
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    else None
  )
  gradients = tape.gradient(loss, variables, output_gradients=scale)
  optimizer.apply_gradients(zip(gradients, variables))


def float32(tensor):
  """A network output in float32 (None stays None): losses and summaries are computed in float32
  whatever train.precision the layers run in."""
  return None if tensor is None else tf.cast(tensor, tf.float32)


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


def training_options(config):
  """(precision, jit_compile) of a config's train section; float32 and no XLA where a config, or
  an older workdir's, lacks the keys.

  Raises:
    ValueError: a precision that is not one of PRECISIONS.
  """
  precision = config.train.get("precision", "float32")
  if precision not in PRECISIONS:
    raise ValueError(f"train.precision is {precision!r}; use one of {PRECISIONS}")
  return precision, bool(config.train.get("jit_compile", False))


@contextlib.contextmanager
def dtype_policy(name):
  """Keras layers made inside take the dtype policy `name` (they keep it after)."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(name)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def build(family, config, strategy, sample_batch=None):
  """family.build_trainer(config, strategy, sample_batch), Keras seeded from config.seed first so
  that one seed gives one set of initial weights.

  A trainer built to train (given a sample batch) gets train.precision's dtype policy and, with
  train.jit_compile, its replica steps compiled by XLA; networks built for inference stay float32
  (their weights are float32 either way, so any checkpoint restores into them).
  """
  keras.utils.set_random_seed(config.seed)
  if sample_batch is None:
    return family.build_trainer(config, strategy, sample_batch)
  precision, jit_compile = training_options(config)
  with dtype_policy(precision):
    trainer = family.build_trainer(config, strategy, sample_batch)
  if jit_compile:
    # Per replica, not train_step: XLA cannot compile the iterator's GetNext that train_step holds.
    for name in trainer.replica_steps:
      setattr(trainer, name, tf.function(getattr(trainer, name), jit_compile=True))
  return trainer
