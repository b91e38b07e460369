"""How a conditional WGAN's videos compare with held-out clips frame by frame, around the photo."""

import collections

import numpy as np
import tensorflow as tf

from relive_tf.data import held_out
from relive_tf.data import pipeline
from relive_tf.data import synthetic
from relive_tf.metrics import image_quality
from relive_tf.models import vgan
from relive_tf.training import checkpoints
from relive_tf.training import cvgan as cvgan_training


def held_out_scores(workdir, num_clips=64, data_seed=None, batch_size=16, seed=0):
  """Frame-by-frame scores of a conditional WGAN on held-out synthetic clips.

  Each clip's frame at the conditioning index is the photo; the generated video is compared with
  the whole clip. The baseline holds the photo still for every frame: what a model that only copies
  the photo would score. PSNR alone cannot tell a still video from one that moves the wrong way, so
  the scores also say how far frames move from the photo and how much the noise changes the video.

  Args:
    workdir: a conditional WGAN workdir.
    num_clips: held-out clips, indices 0..num_clips-1 of the synthetic data drawn with `data_seed`.
    data_seed: seed of the held-out clips; by default the training seed's held-out one
      (data/held_out.py). The training seed itself is refused.
    batch_size: clips per generator call.
    seed: noise seed; seed + 1 draws the second noise of "noise_spread".

  Returns:
    A dict of means over the clips: "condition_index" (int), "step" (int); float64 [frames] arrays
    "psnr" and "still_psnr" (dB, pixels in [0, 1]), "motion" and "real_motion" (mean |frame - photo|
    of the generated and the real clips, in grey levels 0..255); and floats "noise_spread" (mean
    |video - video from other noise|, grey levels; None without noise) and "background_psnr" (the
    background stream's image against the photo, dB; None with one stream).

  Raises:
    ValueError: a workdir of another model, no checkpoint, or the training seed as data_seed.
  """
  trained = checkpoints.restore_trained(workdir, cvgan_training.FAMILY, "scoring photos")
  config = trained.config
  data_seed = config.seed + held_out.SEED_OFFSET if data_seed is None else data_seed
  if data_seed == config.seed:
    raise ValueError(
      f"data_seed is {data_seed}, the training seed: the clips would not be held "
      "out; pick another seed"
    )
  index, data = trained.trainer.condition_index, config.data
  generator = trained.trainer.sampling_generator
  scores = collections.defaultdict(list)  # name -> per-batch arrays, clips first
  for start in range(0, num_clips, batch_size):
    clips = np.stack(
      [
        synthetic.moving_digits_clip(data_seed, i, frames=data.frames, size=data.size)
        for i in range(start, min(start + batch_size, num_clips))
      ]
    )
    photos = clips[:, index]
    noises = (
      [
        tf.random.stateless_normal([len(clips), generator.noise_dim], seed=[s, start])
        for s in (seed, seed + 1)
      ]
      if generator.noise_dim
      else [None]
    )
    inputs = pipeline.to_float_video(photos)
    foreground, mask, background = generator.streams(inputs, noises[0], training=False)
    videos = pipeline.to_uint8_video(vgan.compose_video(foreground, mask, background)).numpy()
    scores["psnr"].append(image_quality.frame_psnr(videos, clips).numpy())
    scores["still_psnr"].append(
      image_quality.frame_psnr(np.repeat(photos[:, None], data.frames, axis=1), clips).numpy()
    )
    scores["motion"].append(_mean_abs(videos, photos[:, None], axis=(2, 3, 4)))
    scores["real_motion"].append(_mean_abs(clips, photos[:, None], axis=(2, 3, 4)))
    if noises[0] is not None:
      other = generator(inputs, noises[1], training=False)
      scores["noise_spread"].append(
        _mean_abs(videos, pipeline.to_uint8_video(other).numpy(), axis=(1, 2, 3, 4))
      )
    if background is not None:
      scores["background_psnr"].append(
        image_quality.frame_psnr(
          pipeline.to_uint8_video(background[:, None]), photos[:, None]
        ).numpy()[:, 0]
      )
  result = {
    "condition_index": index,
    "step": trained.step,
    "noise_spread": None,
    "background_psnr": None,
  }
  for name, parts in scores.items():
    mean = np.concatenate(parts).astype(np.float64).mean(axis=0)
    result[name] = float(mean) if mean.ndim == 0 else mean
  return result


def _mean_abs(a, b, axis):
  """Mean |a - b| of uint8 arrays over `axis`, in grey levels."""
  return np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=axis)
