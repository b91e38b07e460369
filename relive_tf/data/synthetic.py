"""Built-in moving digits: bouncing colored digits over a static textured background, no download.

Every clip is a pure function of (seed, index), so a run can resume at any example and two runs with
the same seed see the same data. The static background and the moving digits are exactly what the
two-stream generator's background and foreground streams should separate.
"""

import functools

import cv2
import numpy as np


@functools.cache
def _digit_glyphs(size):
  """Ten float32 [h, w] alpha masks, one per digit, about a third of a size x size frame tall."""
  scale = size / 64
  thickness = max(1, round(2 * scale))
  glyphs = []
  for digit in range(10):
    text = str(digit)
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    canvas = np.zeros((height + baseline + 2, width + 2), np.uint8)
    cv2.putText(
      canvas, text, (1, height + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA
    )
    glyphs.append(canvas.astype(np.float32) / 255.0)
  return glyphs


def _background(rng, size):
  """A smooth random color field with a fixed texture: float32 [size, size, 3] in [0, 1]."""
  coarse = rng.uniform(0.0, 1.0, (4, 4, 3)).astype(np.float32)
  field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
  texture = rng.uniform(-0.05, 0.05, (size // 4, size // 4, 1)).astype(np.float32)
  texture = cv2.resize(texture, (size, size), interpolation=cv2.INTER_NEAREST)[..., None]
  return np.clip(0.1 + 0.45 * field + texture, 0.0, 1.0)


def _corners(position, velocity, frames, limits):
  """The rounded top-left corner (row, column) in each frame of a glyph that starts at `position`,
  moves by `velocity` pixels a frame and bounces off the edges (0 and `limits`)."""
  position, velocity = [float(p) for p in position], [float(v) for v in velocity]
  corners = []
  for _ in range(frames):
    corners.append((round(position[0]), round(position[1])))
    for axis in (0, 1):
      position[axis] += velocity[axis]
      if not 0 <= position[axis] <= limits[axis]:  # bounce off the frame edge
        velocity[axis] = -velocity[axis]
        position[axis] = min(max(position[axis], 0), limits[axis])
  return corners


def moving_digits_clip(seed, index, frames=32, size=64, max_digits=2):
  """One synthetic clip.

  Drawn frame by frame on one float frame, and only the digits' boxes rounded into the uint8
  clip: float copies of the whole clip made the built-in data cost twice the CPU, taken from the
  train step on the same cores (docs/benchmarks.md, "The loop around the step").

  Args:
    seed: dataset seed.
    index: clip number; the clip depends on (seed, index) alone.
    frames: clip length.
    size: frame height and width in pixels.
    max_digits: each clip holds 1..max_digits digits.

  Returns:
    uint8 [frames, size, size, 3].
  """
  rng = np.random.default_rng([int(seed), int(index)])
  background = _background(rng, size)
  glyphs = _digit_glyphs(size)
  digits = []  # (1 - alpha, color * alpha, glyph height, width, corner per frame)
  for _ in range(rng.integers(1, max_digits + 1)):
    glyph = glyphs[rng.integers(10)]
    height, width = glyph.shape
    color = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    color[rng.integers(3)] = 1.0  # keep digits saturated so they stand out from the background
    position = rng.uniform([0, 0], [size - height, size - width])
    velocity = rng.uniform(1.0, 2.5, 2) * rng.choice([-1, 1], 2)
    alpha = glyph[..., None]
    corners = _corners(position, velocity, frames, (size - height, size - width))
    digits.append((1 - alpha, color * alpha, height, width, corners))
  video = np.empty((frames, size, size, 3), np.uint8)
  video[:] = np.round(background * 255).astype(np.uint8)
  for t in range(frames):
    frame = background.copy()
    for keep, ink, height, width, corners in digits:  # in order: a later digit covers an earlier
      top, left = corners[t]
      patch = frame[top : top + height, left : left + width]
      patch[:] = patch * keep + ink
    for _, _, height, width, corners in digits:
      top, left = corners[t]
      box = (slice(top, top + height), slice(left, left + width))
      video[t][box] = np.round(frame[box] * 255).astype(np.uint8)
  return video
