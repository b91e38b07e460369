"""Model types by name: each builds its networks, optimizers and train step from a config."""

import keras

from relive_tf.data import pipeline
from relive_tf.errors import UserError
from relive_tf.training import cvgan
from relive_tf.training import predictor
from relive_tf.training import wgan

# model_type -> builder(config, strategy, sample_batch) returning a recipe (see wgan.VideoWGAN).
BUILDERS = {
    "vgan": wgan.build_video_wgan,
    "cvgan": cvgan.build_conditional_wgan,
    "lstm": predictor.build_predictor,
}


def noise_dim(config):
  """Size of the per-example noise the data pipeline draws for this config (0: none)."""
  return config.model.get("noise_dim", 0)


def sample_batch(config, source=None, path=None):
  """config.train.num_samples examples from the start of the data: fixed inputs for the GIF summaries
  and for building the networks."""
  data = config.data
  dataset = pipeline.training_batches(
      source=source or data.source, path=path if path is not None else data.path,
      seed=config.seed, frames=data.frames, size=data.size,
      batch_size=config.train.num_samples, noise_dim=noise_dim(config),
      skip_corrupt=data.get("skip_corrupt", False))
  return next(iter(dataset))


def build(config, strategy, batch=None):
  """The recipe for config.model_type, with every weight created.

  Args:
    config: a model config (configs/*.py).
    strategy: the tf.distribute strategy whose scope holds the variables.
    batch: inputs to build on and to sample from; by default synthetic data of the config's shape,
      which needs no files (restoring an export or a generator on another machine).
  """
  if config.model_type not in BUILDERS:
    raise UserError(f"unknown model_type {config.model_type!r}; known: {sorted(BUILDERS)}")
  if batch is None:
    batch = sample_batch(config, source="synthetic", path="")
  keras.utils.set_random_seed(config.seed)  # the same initial weights for the same seed
  return BUILDERS[config.model_type](config, strategy, batch)
