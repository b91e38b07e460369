"""What a viewer checks first in a moving-digits video: a digit, the same one, and motion."""

import numpy as np

# A digit is seen in a frame where the recogniser gives it at least this probability.
SEEN = 0.5


def _check_probabilities(probabilities):
  probabilities = np.asarray(probabilities)
  if probabilities.ndim != 3:
    raise ValueError(
      f"expected digit probabilities [clips, frames, digits], got shape {list(probabilities.shape)}"
    )
  return probabilities


def digit_score(probabilities):
  """Share of frames in which some digit is seen (probability >= 0.5).

  Args:
    probabilities: float [clips, frames, 10], the recogniser's per-frame digit probabilities.

  Returns:
    A float in [0, 1]; about 1 for real built-in clips, about 0 for noise or digit-free frames.
  """
  return float(np.mean(_check_probabilities(probabilities).max(axis=-1) >= SEEN))


def identity_consistency(probabilities):
  """How often the digits seen stay the same from one frame to the next, in the spirit of MoCoGAN's
  average content distance (Tulyakov et al. 2018, https://arxiv.org/abs/1707.04993).

  Over pairs of consecutive frames in which a digit is seen in at least one, the share whose sets of
  seen digits are equal. A digit that turns into another, or flickers in and out, lowers it.

  Args:
    probabilities: float [clips, frames, 10].

  Returns:
    A float in [0, 1], or NaN when no frame shows a digit (nothing to be consistent about).
  """
  seen = _check_probabilities(probabilities) >= SEEN
  same = np.all(seen[:, 1:] == seen[:, :-1], axis=-1)
  judged = seen[:, 1:].any(axis=-1) | seen[:, :-1].any(axis=-1)
  return float(np.mean(same[judged])) if judged.any() else float("nan")


def motion(videos):
  """Mean absolute change from each frame to the next, in grey levels (0 to 255).

  A frozen video scores 0; real built-in clips about 5.

  Args:
    videos: uint8 [clips, frames, height, width, 3] in [0, 255].

  Returns:
    A float >= 0.
  """
  videos = np.asarray(videos)
  if videos.ndim != 5 or videos.shape[1] < 2:
    raise ValueError(
      f"expected videos [clips, frames >= 2, height, width, 3], got shape {list(videos.shape)}"
    )
  return float(np.mean(np.abs(np.diff(videos.astype(np.float32), axis=1))))
