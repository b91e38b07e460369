"""Reliving a photo: a trained conditional WGAN makes the video the photo could have come from."""

import collections
import os

import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf.data import photos
from relive_tf.data import pipeline
from relive_tf.data import synthetic
from relive_tf.data import video_io
from relive_tf.errors import UserError
from relive_tf.metrics import image_quality
from relive_tf.models import vgan
from relive_tf.training import workdir as workdir_lib

def relive_videos(generator, photo, num, seed):
  """num videos made around one photo, each from its own noise.

  Args:
    generator: a trained cvgan.ConditionalGenerator.
    photo: uint8 [size, size, 3].
    num: number of videos.
    seed: noise seed: the same seed gives the same videos.

  Returns:
    uint8 [num, frames, size, size, 3].
  """
  photos = tf.repeat(pipeline.to_float_video(photo)[None], num, axis=0)
  noise = (tf.random.stateless_normal([num, generator.noise_dim], seed=[seed, 0])
           if generator.noise_dim else None)
  return pipeline.to_uint8_video(generator(photos, noise, training=False)).numpy()


def _load_conditional_config(workdir):
  """The config of a conditional WGAN workdir; a UserError for any other model type."""
  config = workdir_lib.load_config(workdir)
  if config.model_type != "cvgan":
    raise UserError(f"{workdir!r} holds a {config.model_type!r} model; reliving a photo needs a "
                    "conditional WGAN workdir ('cvgan', trained with configs/cvgan.py)")
  return config


def relive(workdir, photo, out, num=1, seed=0, side_by_side=False):
  """Writes the video(s) a trained conditional WGAN makes around a photo.

  Args:
    workdir: a conditional WGAN workdir written by `relive train --config=configs/cvgan.py`.
    photo: path of a JPEG, PNG, GIF, BMP or WebP image, read as the served relive_image signature
      reads its bytes (photos.load_photo).
    out: the video to write, GIF or MP4 by its extension.
    num: videos to make from the photo, laid out side by side in one file.
    seed: noise seed: the same seed gives the same videos.
    side_by_side: put the photo, held still, to the left of the videos.

  Returns:
    out.
  """
  if num <= 0:
    raise UserError(f"--num is {num}; ask for at least one video")
  extension = os.path.splitext(out)[1].lower().lstrip(".")
  if extension not in video_io.VIDEO_FORMATS:
    raise UserError(f"--out is {out!r}; its extension must be one of {video_io.VIDEO_FORMATS}")
  config = _load_conditional_config(workdir)
  picture = photos.load_photo(photo, config.data.size)
  _, recipe, step = workdir_lib.restore_trained(workdir)
  if num > 1 and not config.model.noise_dim:
    logging.warning("this model has no noise (model.noise_dim=0): the %d videos are the same", num)
  logging.info("reliving %s with %s at step %d (the photo is frame %d of %d)", photo, workdir, step,
               recipe.condition_index, config.data.frames)
  videos = relive_videos(recipe.generator, picture, num, seed)
  if side_by_side:
    still = np.repeat(picture[None, None], config.data.frames, axis=1)
    videos = np.concatenate([still, videos], axis=0)
  if os.path.dirname(out):
    os.makedirs(os.path.dirname(out), exist_ok=True)
  video_io.write_video(out, video_io.tile_videos(videos, columns=len(videos)))
  return out


def held_out_scores(workdir, num_clips=64, data_seed=1, batch_size=16, seed=0):
  """How a conditional WGAN's videos compare with held-out synthetic clips, frame by frame.

  Each clip's frame at the conditioning index is the photo; the generated video is compared with
  the whole clip. The baseline holds the photo still for every frame: what a model that only copies
  the photo would score. PSNR alone cannot tell a still video from one that moves the wrong way, so
  the scores also say how far frames move from the photo and how much the noise changes the video.

  Args:
    workdir: a conditional WGAN workdir.
    num_clips: held-out clips, indices 0..num_clips-1 of the synthetic data drawn with `data_seed`
      (training draws with config.seed; pick another seed to hold them out).
    data_seed: seed of the held-out clips.
    batch_size: clips per generator call.
    seed: noise seed; seed + 1 draws the second noise of "noise_spread".

  Returns:
    A dict of means over the clips: "condition_index" (int), "step" (int); float64 [frames] arrays
    "psnr" and "still_psnr" (dB, pixels in [0, 1]), "motion" and "real_motion" (mean |frame - photo|
    of the generated and the real clips, in grey levels 0..255); and floats "noise_spread" (mean
    |video - video from other noise|, grey levels; None without noise) and "background_psnr" (the
    background stream's image against the photo, dB; None with one stream).
  """
  config = _load_conditional_config(workdir)
  if data_seed == config.seed:
    raise UserError(f"data_seed is {data_seed}, the training seed: the clips would not be held out; "
                    "pick another seed")
  _, recipe, step = workdir_lib.restore_trained(workdir)
  index, data = recipe.condition_index, config.data
  generator = recipe.generator
  scores = collections.defaultdict(list)  # name -> per-batch arrays, clips first
  for start in range(0, num_clips, batch_size):
    clips = np.stack([synthetic.moving_digits_clip(data_seed, i, frames=data.frames, size=data.size)
                      for i in range(start, min(start + batch_size, num_clips))])
    photos = clips[:, index]
    noises = [tf.random.stateless_normal([len(clips), generator.noise_dim], seed=[s, start])
              for s in (seed, seed + 1)] if generator.noise_dim else [None]
    inputs = pipeline.to_float_video(photos)
    foreground, mask, background = generator.streams(inputs, noises[0], training=False)
    videos = pipeline.to_uint8_video(vgan.compose_video(foreground, mask, background)).numpy()
    scores["psnr"].append(image_quality.frame_psnr(videos, clips).numpy())
    scores["still_psnr"].append(image_quality.frame_psnr(
        np.repeat(photos[:, None], data.frames, axis=1), clips).numpy())
    scores["motion"].append(_mean_abs(videos, photos[:, None], axis=(2, 3, 4)))
    scores["real_motion"].append(_mean_abs(clips, photos[:, None], axis=(2, 3, 4)))
    if noises[0] is not None:
      other = generator(inputs, noises[1], training=False)
      scores["noise_spread"].append(
          _mean_abs(videos, pipeline.to_uint8_video(other).numpy(), axis=(1, 2, 3, 4)))
    if background is not None:
      scores["background_psnr"].append(image_quality.frame_psnr(
          pipeline.to_uint8_video(background[:, None]), photos[:, None]).numpy()[:, 0])
  result = {"condition_index": index, "step": step, "noise_spread": None, "background_psnr": None}
  for name, parts in scores.items():
    mean = np.concatenate(parts).astype(np.float64).mean(axis=0)
    result[name] = float(mean) if mean.ndim == 0 else mean
  return result


def _mean_abs(a, b, axis):
  """Mean |a - b| of uint8 arrays over `axis`, in grey levels."""
  return np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=axis)
