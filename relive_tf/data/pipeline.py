"""tf.data pipelines that feed the trainers: batches of clips in [-1, 1], indexed from a start.

Each example carries its global index, so a resumed run continues exactly where the last checkpoint
stopped (the trainer stores the index in the checkpoint) and noise drawn from (seed, index) is the
same whatever the number of replicas.
"""

import numpy as np
import tensorflow as tf

from relive_tf.data import synthetic


def synthetic_clips(*, seed, frames, size, start=0, num_shards=1, shard_index=0):
  """Endless synthetic moving-digit clips from index `start`; with num_shards > 1, only the indices
  equal to shard_index modulo num_shards (one input pipeline of a multi-worker run).

  Returns:
    A dataset of (index int64 [], clip uint8 [frames, size, size, 3]).
  """

  def render(index):
    return synthetic.moving_digits_clip(seed, index, frames=frames, size=size)

  def to_clip(index):
    clip = tf.numpy_function(render, [index], tf.uint8, stateful=False)
    return index, tf.ensure_shape(clip, [frames, size, size, 3])

  # One clip at a time, on a thread of its own: drawing is Python, which holds the GIL, so more
  # calls at once only contend for it and cost more CPU a clip (docs/benchmarks.md, "The loop
  # around the step").
  first = start + (shard_index - start) % num_shards
  return tf.data.Dataset.range(first, np.iinfo(np.int64).max, num_shards).map(
    to_clip, num_parallel_calls=1
  )


def clips(
  *,
  source,
  path,
  split,
  seed,
  frames,
  size,
  start=0,
  num_shards=1,
  shard_index=0,
  skip_corrupt=False,
):
  """Endless (index, uint8 clip) pairs from the synthetic data or prepared shards (where
  skip_corrupt leaves damaged records out: shards.indexed_clips)."""
  if source == "synthetic":
    return synthetic_clips(
      seed=seed,
      frames=frames,
      size=size,
      start=start,
      num_shards=num_shards,
      shard_index=shard_index,
    )
  # Imported here so that the synthetic path never needs the shard reader's dependencies.
  from relive_tf.data import shards  # noqa: PLC0415

  return shards.indexed_clips(
    path,
    split=split,
    seed=seed,
    frames=frames,
    size=size,
    start=start,
    num_shards=num_shards,
    shard_index=shard_index,
    skip_corrupt=skip_corrupt,
  )


def to_float_video(clip):
  """uint8 [..., 3] in [0, 255] -> float32 in [-1, 1], the generators' tanh range."""
  return tf.cast(clip, tf.float32) / 127.5 - 1.0


def as_float_video(videos):
  """uint8 videos in [0, 255] or float videos in [-1, 1] -> float32 in [-1, 1].

  Raises:
    TypeError: the videos are neither uint8 nor floating point.
  """
  videos = tf.convert_to_tensor(videos)
  if videos.dtype == tf.uint8:
    return to_float_video(videos)
  if not videos.dtype.is_floating:
    raise TypeError(
      f"expected uint8 videos in [0, 255] or float videos in [-1, 1], got {videos.dtype.name}"
    )
  return tf.cast(videos, tf.float32)


def to_uint8_video(video):
  """float32 in [-1, 1] -> uint8 in [0, 255]."""
  return tf.cast(tf.round(tf.clip_by_value((video + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def training_batches(
  *,
  source,
  path,
  seed,
  frames,
  size,
  batch_size,
  noise_dim=0,
  start=0,
  split="train",
  num_shards=1,
  shard_index=0,
  skip_corrupt=False,
):
  """Global batches for a train step.

  Args:
    source: "synthetic" or "shards".
    path: folder of prepared shards (source "shards").
    seed: data seed; clips and noise depend on (seed, index) alone.
    frames, size: clip shape.
    batch_size: global batch size.
    noise_dim: when > 0, each example also carries "noise" float32 [noise_dim] ~ N(0, 1).
    start: index of the first example (the data position of a resumed run).
    split: shard split to read.
    num_shards, shard_index: this input pipeline's share of the indices (multi-worker runs).
    skip_corrupt: leave damaged shard records out instead of failing (shards.indexed_clips).

  Returns:
    A dataset of dicts: "index" int64 [batch], "video" float32 [batch, frames, size, size, 3] in
    [-1, 1] and, with noise_dim, "noise" float32 [batch, noise_dim].
  """

  dataset = clips(
    source=source,
    path=path,
    split=split,
    seed=seed,
    frames=frames,
    size=size,
    start=start,
    num_shards=num_shards,
    shard_index=shard_index,
    skip_corrupt=skip_corrupt,
  )
  dataset = dataset.map(
    examples(seed, noise_dim), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
  )
  return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def examples(seed, noise_dim):
  """fn(index, uint8 clip) -> a training_batches example: "index", "video" in [-1, 1] and, with
  noise_dim > 0, "noise" float32 [noise_dim] ~ N(0, 1) drawn from (seed, index)."""

  def to_example(index, clip):
    example = {"index": index, "video": to_float_video(clip)}
    if noise_dim:
      example["noise"] = tf.random.stateless_normal([noise_dim], seed=tf.stack([seed, index]))
    return example

  return to_example
