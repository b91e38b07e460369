"""What each synthetic moving-digits clip shows (digits, colors, motion), replayed from its seed."""

import collections

import numpy as np

from relive_tf.data import synthetic

# Initial direction of motion of a digit, indexed 2 * moves_down + moves_right.
DIRECTIONS = ("up-left", "up-right", "down-left", "down-right")

DigitTrack = collections.namedtuple("DigitTrack", ["digit", "color", "position", "velocity"])
DigitTrack.__doc__ = """One digit of a clip: digit 0..9, color float32 [3] in [0, 1], its top-left
corner [row, column] in pixels at frame 0, velocity [rows, columns] per frame at frame 0 (it bounces
later)."""


def digit_tracks(seed, index, size=64, max_digits=2):
  """The digits that synthetic.moving_digits_clip(seed, index, size=size) draws, in drawing order.

  The clip generator does not return what it drew, so this replays its random draws in the same
  order (the background first, then per digit: glyph, color, saturated channel, position,
  velocity). tests/test_metrics.py checks the replay against rendered clips, so a change to the
  generator's draws fails there rather than silently mislabeling the feature network's training
  data.

  Args:
    seed, index, size, max_digits: as for synthetic.moving_digits_clip.

  Returns:
    A list of 1..max_digits DigitTrack.
  """
  rng = np.random.default_rng([int(seed), int(index)])
  # synthetic's own helpers, so that the same draws are consumed in the same order.
  synthetic._background(rng, size)
  glyphs = synthetic._digit_glyphs(size)
  tracks = []
  for _ in range(rng.integers(1, max_digits + 1)):
    digit = int(rng.integers(10))
    height, width = glyphs[digit].shape
    color = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    color[rng.integers(3)] = 1.0
    position = rng.uniform([0, 0], [size - height, size - width])
    velocity = rng.uniform(1.0, 2.5, 2) * rng.choice([-1, 1], 2)
    tracks.append(DigitTrack(digit, color, position, velocity))
  return tracks


def clip_labels(seed, index, size=64, max_digits=2):
  """Multi-hot labels of one clip: which digits appear and in which directions digits start moving.

  Returns:
    (digits float32 [10], directions float32 [len(DIRECTIONS)]), 1 where present.
  """
  digits = np.zeros(10, np.float32)
  directions = np.zeros(len(DIRECTIONS), np.float32)
  for track in digit_tracks(seed, index, size=size, max_digits=max_digits):
    digits[track.digit] = 1.0
    directions[2 * int(track.velocity[0] > 0) + int(track.velocity[1] > 0)] = 1.0
  return digits, directions
