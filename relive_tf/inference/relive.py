"""Reliving a photo: a trained conditional WGAN makes the video the photo could have come from."""

import os

import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf import files
from relive_tf import limits
from relive_tf.data import photos
from relive_tf.data import pipeline
from relive_tf.data import video_io
from relive_tf.training import checkpoints
from relive_tf.training import cvgan as cvgan_training
from relive_tf.training import workdir as workdir_lib


def relive_videos(generator, photo, num, seed, batch_size=16):
  """num videos made around one photo, each from its own noise, batch_size at a time.

  Args:
    generator: a trained cvgan.ConditionalGenerator.
    photo: uint8 [size, size, 3].
    num: number of videos.
    seed: noise seed: the same seed gives the same videos, whatever batch_size.
    batch_size: videos per generator call, which bounds its memory.

  Returns:
    uint8 [num, frames, size, size, 3].
  """
  photos = tf.repeat(pipeline.to_float_video(photo)[None], min(num, batch_size), axis=0)
  noise = (
    tf.random.stateless_normal([num, generator.noise_dim], seed=[seed, 0])
    if generator.noise_dim
    else None
  )
  batches = []
  for start in range(0, num, batch_size):
    count = min(batch_size, num - start)
    batch_noise = None if noise is None else noise[start : start + count]
    videos = generator(photos[:count], batch_noise, training=False)
    batches.append(pipeline.to_uint8_video(videos).numpy())
  return np.concatenate(batches)


def relive(workdir, photo, out, num=1, seed=0, side_by_side=False):
  """Writes the video(s) a trained conditional WGAN makes around a photo.

  Args:
    workdir: a conditional WGAN workdir written by `relive train --config=configs/cvgan.py`.
    photo: path of a JPEG, PNG, GIF, BMP or WebP image, read as the served relive_image signature
      reads its bytes (photos.load_photo).
    out: the video to write, GIF or MP4 by its extension.
    num: videos to make from the photo (1 to limits.RELIVED_VIDEOS), laid out side by side in one
      file.
    seed: noise seed: the same seed gives the same videos.
    side_by_side: put the photo, held still, to the left of the videos.

  Returns:
    out.

  Raises:
    ValueError: num outside 1..limits.RELIVED_VIDEOS, an unknown video extension, an out that is
      the photo, a photo that cannot be read, or a workdir without a trained conditional WGAN.
  """
  if not 1 <= num <= limits.RELIVED_VIDEOS:
    raise ValueError(
      f"num is {num}; make 1 to {limits.RELIVED_VIDEOS} videos from one photo (they share one file)"
    )
  extension = os.path.splitext(out)[1].lower().lstrip(".")
  if extension not in video_io.VIDEO_FORMATS:
    raise ValueError(f"out is {out!r}; its extension must be one of {video_io.VIDEO_FORMATS}")
  if files.same_file(out, photo):
    raise ValueError(f"out {out} is the photo; give another file to write")
  config, family = workdir_lib.load_config(workdir, cvgan_training.FAMILY, "reliving a photo")
  picture = photos.load_photo(photo, config.data.size)
  trained = checkpoints.restore(workdir, config, family)
  if num > 1 and not config.model.noise_dim:
    logging.warning("this model has no noise (model.noise_dim=0): the %d videos are the same", num)
  logging.info(
    "reliving %s with %s at step %d (the photo is frame %d of %d)",
    photo,
    workdir,
    trained.step,
    trained.trainer.condition_index,
    config.data.frames,
  )
  videos = relive_videos(trained.trainer.sampling_generator, picture, num, seed)
  if side_by_side:
    still = np.repeat(picture[None, None], config.data.frames, axis=1)
    videos = np.concatenate([still, videos], axis=0)
  files.make_folder(os.path.dirname(files.absolute(out)))
  video_io.write_video(out, video_io.tile_videos(videos, columns=len(videos)))
  return out
