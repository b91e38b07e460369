"""Sampling videos from a trained video WGAN and writing them as GIF or MP4 files."""

import os

import tensorflow as tf
from absl import logging

from relive_tf.data import pipeline
from relive_tf.data import video_io
from relive_tf.training import checkpoints
from relive_tf.training import vgan as vgan_training


def sample_videos(generator, num, seed, batch_size=16):
  """num videos from noise drawn from `seed`: uint8 [num, frames, size, size, 3]."""
  noise = tf.random.stateless_normal([num, generator.noise_dim], seed=[seed, 0])
  batches = [
    pipeline.to_uint8_video(generator(noise[i : i + batch_size], training=False))
    for i in range(0, num, batch_size)
  ]
  return tf.concat(batches, axis=0).numpy()


def generate(workdir, num, out_dir, seed=0, video_format="gif"):
  """Writes `num` videos sampled from the latest checkpoint of a video WGAN workdir.

  Returns:
    The paths written, out_dir/video_0000.gif and so on.

  Raises:
    ValueError: num below 1, an unknown format, or a workdir without a trained video WGAN.
  """
  if num <= 0:
    raise ValueError(f"num is {num}; ask for at least one video")
  if video_format not in video_io.VIDEO_FORMATS:
    raise ValueError(f"format is {video_format!r}; use one of {video_io.VIDEO_FORMATS}")
  trained = checkpoints.restore_trained(workdir, vgan_training.FAMILY, "sampling videos")
  logging.info("sampling %d videos from %s at step %d", num, workdir, trained.step)
  videos = sample_videos(trained.trainer.generator, num, seed)
  tf.io.gfile.makedirs(out_dir)
  paths = []
  for i, video in enumerate(videos):
    path = os.path.join(out_dir, f"video_{i:04d}.{video_format}")
    video_io.write_video(path, video)
    paths.append(path)
  return paths
