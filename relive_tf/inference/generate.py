"""Sampling videos from a trained video WGAN and writing them as GIF or MP4 files."""

import os
import re

import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf import files
from relive_tf import limits
from relive_tf import progress
from relive_tf.data import pipeline
from relive_tf.data import video_io
from relive_tf.training import checkpoints
from relive_tf.training import vgan as vgan_training

_VIDEO_NAME = re.compile(r"video_\d{4,}\.(gif|mp4)")  # what generate writes


def sampled_batches(generator, num, seed, batch_size=16):
  """Yields the videos of sample_videos in batches of up to batch_size, uint8 [b, frames, size,
  size, 3]: the noise of all num is drawn first, so a batch's videos do not depend on batch_size."""
  noise = tf.random.stateless_normal([num, generator.noise_dim], seed=[seed, 0])
  for i in range(0, num, batch_size):
    yield pipeline.to_uint8_video(generator(noise[i : i + batch_size], training=False)).numpy()


def sample_videos(generator, num, seed, batch_size=16):
  """num videos from noise drawn from `seed`: uint8 [num, frames, size, size, 3]."""
  return np.concatenate(list(sampled_batches(generator, num, seed, batch_size)))


def generate(workdir, num, out_dir, seed=0, video_format="gif"):
  """Writes `num` videos sampled from the latest checkpoint of a video WGAN workdir.

  Each batch of 16 is written before the next is made: the videos held in memory stay one batch
  whatever num (up to limits.GENERATED_VIDEOS, whose noise is drawn first), and an interrupted run
  keeps the videos written.

  Returns:
    The paths written, out_dir/video_0000.gif and so on.

  Raises:
    ValueError: num outside 1..limits.GENERATED_VIDEOS, an unknown format, a workdir without a
      trained video WGAN, or an out_dir that cannot be created.
  """
  if not 1 <= num <= limits.GENERATED_VIDEOS:
    raise ValueError(
      f"num is {num}; ask for 1 to {limits.GENERATED_VIDEOS} videos (run again with another seed "
      "for more)"
    )
  if video_format not in video_io.VIDEO_FORMATS:
    raise ValueError(f"format is {video_format!r}; use one of {video_io.VIDEO_FORMATS}")
  trained = checkpoints.restore_trained(workdir, vgan_training.FAMILY, "sampling videos")
  logging.info(
    "sampling %s from %s at step %d", progress.counted(num, "video"), workdir, trained.step
  )
  files.make_folder(out_dir)
  earlier = [name for name in tf.io.gfile.listdir(out_dir) if _VIDEO_NAME.fullmatch(name)]
  if earlier:
    names = {f"video_{index:04d}.{video_format}" for index in range(num)}
    logging.warning(
      "%s already holds %s of an earlier run: the new ones replace %d of them, the rest stay; "
      "give an empty folder to keep runs apart",
      out_dir,
      progress.counted(len(earlier), "video"),
      len(names.intersection(earlier)),
    )
  paths = []
  for videos in sampled_batches(trained.trainer.sampling_generator, num, seed):
    for video in videos:
      path = os.path.join(out_dir, f"video_{len(paths):04d}.{video_format}")
      video_io.write_video(path, video)
      paths.append(path)
    if num > len(videos):
      logging.info("wrote %d of %d videos", len(paths), num)
  return paths
