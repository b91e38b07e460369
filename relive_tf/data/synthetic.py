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


def moving_digits_clip(seed, index, frames=32, size=64, max_digits=2):
  """One synthetic clip.

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
  video = np.repeat(background[None], frames, axis=0)
  glyphs = _digit_glyphs(size)
  for _ in range(rng.integers(1, max_digits + 1)):
    glyph = glyphs[rng.integers(10)]
    height, width = glyph.shape
    color = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    color[rng.integers(3)] = 1.0  # keep digits saturated so they stand out from the background
    position = rng.uniform([0, 0], [size - height, size - width])
    velocity = rng.uniform(1.0, 2.5, 2) * rng.choice([-1, 1], 2)
    for t in range(frames):
      top, left = np.round(position).astype(int)
      alpha = glyph[..., None]
      patch = video[t, top : top + height, left : left + width]
      video[t, top : top + height, left : left + width] = patch * (1 - alpha) + color * alpha
      position += velocity
      for axis, limit in enumerate((size - height, size - width)):
        if not 0 <= position[axis] <= limit:  # bounce off the frame edge
          velocity[axis] = -velocity[axis]
          position[axis] = np.clip(position[axis], 0, limit)
  return np.round(video * 255).astype(np.uint8)
