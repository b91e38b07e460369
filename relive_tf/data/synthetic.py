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

  Each digit is drawn into every frame at once, through windows onto the clip (one per frame, at
  the digit's corner), and only the digits' boxes are rounded into the uint8 clip: the drawing
  takes CPU from the train step on the same cores (docs/benchmarks.md, "The loop around the
  step"), and a loop over frames cost 1.4 times as much.

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
  digits = []  # (1 - alpha, color * alpha, glyph shape, corners [frames, 2])
  for _ in range(rng.integers(1, max_digits + 1)):
    glyph = glyphs[rng.integers(10)]
    height, width = glyph.shape
    color = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    color[rng.integers(3)] = 1.0  # keep digits saturated so they stand out from the background
    position = rng.uniform([0, 0], [size - height, size - width])
    velocity = rng.uniform(1.0, 2.5, 2) * rng.choice([-1, 1], 2)
    alpha = glyph[None]  # windows below are [..., 3, height, width]
    corners = np.array(_corners(position, velocity, frames, (size - height, size - width)))
    digits.append((1 - alpha, color[:, None, None] * alpha, glyph.shape, corners))
  drawn = np.empty((frames, size, size, 3), np.float32)
  drawn[:] = background
  video = np.empty((frames, size, size, 3), np.uint8)
  video[:] = np.round(background * 255).astype(np.uint8)
  for keep, ink, shape, corners in digits:  # in order: a later digit covers an earlier
    windows, boxes = _boxes(drawn, shape, corners)
    windows[boxes] = windows[boxes] * keep + ink
  for _, _, shape, corners in digits:
    windows, boxes = _boxes(drawn, shape, corners)
    video_windows, _ = _boxes(video, shape, corners)
    video_windows[boxes] = np.round(windows[boxes] * 255).astype(np.uint8)
  return video


def _boxes(clip, shape, corners):
  """(windows, boxes): windows[boxes] is the [frames, 3, height, width] box of `shape` at each
  frame's corner (row, column) of clip [frames, size, size, 3]; assigning to it writes the clip."""
  windows = np.lib.stride_tricks.sliding_window_view(clip, shape, axis=(1, 2), writeable=True)
  return windows, (np.arange(len(corners)), corners[:, 0], corners[:, 1])
