"""A run's data settings, unpacked once: its training batches, sample batch and held-out clips."""

import tensorflow as tf

from relive_tf.data import held_out
from relive_tf.data import pipeline


def data_settings(config):
  """{"source", "path", "seed", "frames", "size", "skip_corrupt"} of a config's data
  (configs/*.py); skip_corrupt is off where a config or an older workdir's lacks it."""
  data = config.data
  return {
    "source": data.source,
    "path": data.path,
    "seed": config.seed,
    "frames": data.frames,
    "size": data.size,
    "skip_corrupt": data.get("skip_corrupt", False),
  }


def training_batches(config, *, batch_size, start=0, num_shards=1, shard_index=0):
  """pipeline.training_batches of the config's data, with its model's noise."""
  return pipeline.training_batches(
    **data_settings(config),
    batch_size=batch_size,
    noise_dim=config.model.noise_dim,
    start=start,
    num_shards=num_shards,
    shard_index=shard_index,
  )


def sample_batch(config):
  """config.train.num_samples examples from the start of the training data: the inputs the
  summaries' GIFs are made from and the networks are built on."""
  return next(iter(training_batches(config, batch_size=config.train.num_samples)))


def held_out_settings(config, data=None):
  """held_out.settings of a config's data: where clips it never trained on come from.

  Args:
    config: a workdir's config.
    data: None for the config's own data, "synthetic", or a folder of prepared shards.
  """
  return held_out.settings(
    source=config.data.source, path=config.data.path, seed=config.seed, data=data
  )


def held_out_clips(config, data=None, frames=None):
  """(index, uint8 clip) pairs the run never trained on: endless synthetic clips, or the shards'
  test split once, in stored order, so that no clip is counted or shown twice (an endless pass
  repeated a split's few clips, shuffled).

  Args:
    config: a workdir's config.
    data: None for the config's own data, "synthetic", or a folder of prepared shards.
    frames: clip length; None for the config's data.frames.
  """
  settings = held_out_settings(config, data)
  shape = dict(frames=frames or config.data.frames, size=config.data.size)
  if settings["source"] == "synthetic":
    return pipeline.clips(**settings, **shape)
  # Imported here so that the synthetic path never needs the shard reader's dependencies.
  from relive_tf.data import shards  # noqa: PLC0415

  clips = shards.clip_records(settings["path"], split=settings["split"], **shape)
  return clips.map(lambda record: record["clip"]).enumerate()


def held_out_batches(config, *, batch_size, data=None, frames=None):
  """pipeline.training_batches-style batches of held_out_clips, with noise drawn from their seed.

  Args:
    config: a workdir's config.
    batch_size: clips per batch (the last batch of a split may hold fewer).
    data: None for the config's own data, "synthetic", or a folder of prepared shards.
    frames: clip length; None for the config's data.frames.
  """
  settings = held_out_settings(config, data)
  if settings["source"] == "synthetic":
    return pipeline.training_batches(
      **settings,
      frames=frames or config.data.frames,
      size=config.data.size,
      batch_size=batch_size,
      noise_dim=config.model.noise_dim,
    )
  clips = held_out_clips(config, data, frames)
  examples = clips.map(pipeline.examples(settings["seed"], config.model.noise_dim))
  return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)
