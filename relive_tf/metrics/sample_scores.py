"""What a viewer checks first in a moving-digits video: a digit, the same one, moving."""

import dataclasses

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


def _check_videos(videos):
  videos = np.asarray(videos)
  if videos.ndim != 5 or videos.shape[1] < 2:
    raise ValueError(
      f"expected videos [clips, frames >= 2, height, width, 3], got shape {list(videos.shape)}"
    )
  return videos


def digit_score(probabilities):
  """Share of frames in which some digit is seen (probability >= 0.5).

  Args:
    probabilities: float [clips, frames, 10], the recogniser's per-frame digit probabilities.

  Returns:
    A float in [0, 1]; about 1 for real built-in clips, about 0 for noise or digit-free frames.
  """
  return FrameScores.of(probabilities).digit_score()


def identity_consistency(probabilities):
  """How often a clip's frames show the same digits: MoCoGAN's average content distance
  (Tulyakov et al. 2018, https://arxiv.org/abs/1707.04993) with the recognised digit set as the
  content and equality as the measure, turned into a share.

  Over every pair of frames of a clip (not only neighbours) in which a digit is seen in at least
  one, the share whose sets of seen digits are equal. A digit that turns into another halfway
  scores about 0.5; one that flickers in and out, or blurs into a blob, lowers it too.

  Args:
    probabilities: float [clips, frames, 10].

  Returns:
    A float in [0, 1], or NaN when no frame shows a digit (nothing to be consistent about).
  """
  return FrameScores.of(probabilities).identity_consistency()


def motion(videos):
  """Mean absolute change from each frame to the next, in grey levels (0 to 255).

  A frozen video scores 0; real built-in clips about 5.

  Args:
    videos: uint8 [clips, frames, height, width, 3] in [0, 255].

  Returns:
    A float >= 0.
  """
  return float(np.mean(frame_changes(videos)))


def frame_changes(videos):
  """Mean |frame t+1 - frame t| of each clip, in grey levels: float64 [clips, frames - 1]."""
  videos = _check_videos(videos).astype(np.float32)
  return np.abs(videos[:, 1:] - videos[:, :-1]).mean(axis=(2, 3, 4)).astype(np.float64)


@dataclasses.dataclass(frozen=True)
class FrameScores:
  """What the three scores are made of, kept per frame, so that clips can be scored in batches and
  over chosen frames (at a distance from a photo, at a horizon).

  Attributes:
    present: bool [clips, frames, 10]: the digits seen in each frame.
    change: float64 [clips, frames - 1]: mean |frame t + 1 - frame t| in grey levels, or None when
      made from probabilities alone.
  """

  present: np.ndarray
  change: np.ndarray | None = None

  @classmethod
  def of(cls, probabilities, videos=None):
    """The judgements of clips from their digit probabilities [clips, frames, 10] and, for motion,
    the uint8 clips [clips, frames, height, width, 3] themselves."""
    return cls(
      present=_check_probabilities(probabilities) >= SEEN,
      change=None if videos is None else frame_changes(videos),
    )

  @classmethod
  def concatenate(cls, parts):
    """The judgements of the clips of all `parts` (FrameScores of clips of one length)."""
    changes = [part.change for part in parts]
    return cls(
      present=np.concatenate([part.present for part in parts]),
      change=None if any(change is None for change in changes) else np.concatenate(changes),
    )

  @property
  def num_frames(self):
    return self.present.shape[1]

  def digit_score(self, frames=None):
    """digit_score over the frames listed in `frames` (all by default)."""
    present = self.present if frames is None else self.present[:, list(frames)]
    return float(np.mean(present.any(axis=-1)))

  def identity_consistency(self, pairs=None):
    """identity_consistency over the pairs of frames (t, u) listed in `pairs` (all pairs t < u of
    a clip by default); NaN when no digit is seen in any of them."""
    if pairs is None:
      pairs = [(t, u) for t in range(self.num_frames) for u in range(t + 1, self.num_frames)]
    first, second = (list(frames) for frames in zip(*pairs)) if pairs else ([], [])
    a, b = self.present[:, first], self.present[:, second]
    same = np.all(a == b, axis=-1)
    judged = a.any(axis=-1) | b.any(axis=-1)
    return float(np.mean(same[judged])) if judged.any() else float("nan")

  def motion(self, steps=None):
    """motion over the steps from frame t to t + 1 whose t `steps` lists (all by default)."""
    if self.change is None:
      raise ValueError("motion needs the clips: make the scores with FrameScores.of(p, videos)")
    change = self.change if steps is None else self.change[:, list(steps)]
    return float(np.mean(change))

  def summary(self):
    """{"digit_score", "identity_consistency", "motion"} over all frames."""
    return {
      "digit_score": self.digit_score(),
      "identity_consistency": self.identity_consistency(),
      "motion": self.motion(),
    }
