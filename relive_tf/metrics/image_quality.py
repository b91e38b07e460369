"""Per-frame MSE, PSNR and SSIM between two videos."""

import numpy as np
import tensorflow as tf

from relive_tf.data import pipeline

# tf.image.ssim's Gaussian window (11x11, sigma 1.5, as in Wang et al. 2004) needs frames this
# large.
_SSIM_FILTER_SIZE = 11


def to_unit_range(videos):
  """uint8 in [0, 255] or float in [-1, 1] (the generators' tanh range) -> float32 in [0, 1]."""
  return (pipeline.as_float_video(videos) + 1.0) / 2.0


def _check_pair(predicted, target):
  predicted, target = to_unit_range(predicted), to_unit_range(target)
  if predicted.shape.rank != 5 or predicted.shape[-1] != 3 or predicted.shape != target.shape:
    raise ValueError(
      f"expected two videos of the same shape [batch, frames, height, width, 3], got "
      f"{predicted.shape.as_list()} and {target.shape.as_list()}"
    )
  return predicted, target


def frame_mse(predicted, target):
  """Mean squared error of each frame, pixels scaled to [0, 1].

  Args:
    predicted, target: [batch, frames, height, width, 3], both uint8 in [0, 255] or float in [-1, 1]
      (the two may differ in dtype).

  Returns:
    float32 [batch, frames].
  """
  predicted, target = _check_pair(predicted, target)
  return tf.reduce_mean(tf.square(predicted - target), axis=[2, 3, 4])


def frame_psnr(predicted, target):
  """Peak signal-to-noise ratio of each frame in dB, peak 1 on pixels scaled to [0, 1].

  Args:
    predicted, target: [batch, frames, height, width, 3], uint8 in [0, 255] or float in [-1, 1].

  Returns:
    float32 [batch, frames]; +inf where a frame is reproduced exactly.
  """
  predicted, target = _check_pair(predicted, target)
  return tf.image.psnr(predicted, target, max_val=1.0)


def psnr_of_mse(mse):
  """PSNR in dB of a mean squared error on pixels in [0, 1] (peak 1): -10 log10(mse).

  Args:
    mse: float array, each >= 0.

  Returns:
    float64 array of its shape; +inf where mse is 0.
  """
  with np.errstate(divide="ignore"):
    return -10.0 * np.log10(np.asarray(mse, np.float64))


def frame_ssim(predicted, target):
  """Structural similarity of each frame (Wang et al. 2004; tf.image.ssim's 11x11 Gaussian window).

  Args:
    predicted, target: [batch, frames, height, width, 3] with height, width >= 11, uint8 in [0, 255]
      or float in [-1, 1].

  Returns:
    float32 [batch, frames] in [-1, 1]; 1 where a frame is reproduced exactly.
  """
  predicted, target = _check_pair(predicted, target)
  height, width = predicted.shape[2:4]
  if height < _SSIM_FILTER_SIZE or width < _SSIM_FILTER_SIZE:
    raise ValueError(
      f"SSIM needs frames of at least {_SSIM_FILTER_SIZE}x{_SSIM_FILTER_SIZE} pixels, "
      f"got {height}x{width}"
    )
  return tf.image.ssim(predicted, target, max_val=1.0, filter_size=_SSIM_FILTER_SIZE)
