"""The built-in per-frame digit recogniser: which digits a 64x64 frame shows, for the sample scores.

It measures samples and is never a training signal: the video models stay unsupervised. It is
trained on frames of the built-in moving digits, labelled by replaying their seeds (digit_labels),
and on frames that hold no digit: the data's backgrounds alone, with coloured blobs of a digit's
size, with digits blurred past reading, and noise. So a blob where a digit should be does not
count as a digit.
"""

import os

import cv2
import keras
import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf.data import synthetic
from relive_tf.metrics import digit_labels
from relive_tf.metrics import network_files
from relive_tf.metrics import sample_scores

NUM_DIGITS = 10
INFO_FILE = "digit_recognizer.json"
# The trained recogniser shipped with the package (`python -m relive_tf.metrics.shipped`).
SHIPPED = os.path.join(network_files.ASSETS, "digit_recognizer")
# Held-out whole clips (unperturbed, all frames) whose scores the description records.
REAL_CLIP_FRAMES = 32
# Kinds of digit-free frame, in the order negative_frame draws them.
NEGATIVE_KINDS = ("background", "blobs", "blurred_digits", "noise", "texture")


def build_digit_recognizer(size=64, width=32):
  """Frames float32 [batch, size, size, 3] in [-1, 1] -> digit logits [batch, 10] (multi-label).

  Four 3x3 convolutions of stride 2 (width, 2 width, 4 width, 4 width channels; batchnorm, ReLU),
  global average pooling and a dense layer: a digit is present where its sigmoid is >= 0.5.
  """
  frames = keras.Input([size, size, 3], name="frames")
  x = frames
  for layer, channels in enumerate([width, 2 * width, 4 * width, 4 * width], start=1):
    x = keras.layers.Conv2D(
      channels, 3, strides=2, padding="same", use_bias=False, name=f"conv{layer}"
    )(x)
    x = keras.layers.BatchNormalization(name=f"conv{layer}_bn")(x)
    x = keras.layers.ReLU()(x)
  x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
  logits = keras.layers.Dense(NUM_DIGITS, name="digits")(x)
  return keras.Model(frames, logits, name="digit_recognizer")


def _texture(rng, size):
  """Random structure at one scale: noise blocks of 1 to 8 pixels, or a grating; [size, size, 3]."""
  if rng.integers(2):
    block = int(rng.choice([1, 2, 4, 8]))
    noise = rng.uniform(-1.0, 1.0, (size // block, size // block, 3)).astype(np.float32)
    interpolation = cv2.INTER_NEAREST if rng.integers(2) else cv2.INTER_LINEAR
    return cv2.resize(noise, (size, size), interpolation=interpolation)
  rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
  angle, period = rng.uniform(0, np.pi), rng.uniform(2.0, 16.0)
  wave = np.sin(2 * np.pi * (rows * np.cos(angle) + columns * np.sin(angle)) / period)
  return wave[..., None] * rng.uniform(-1.0, 1.0, 3).astype(np.float32)


def perturb(frame, rng):
  """The frame, float32 [size, size, 3] in [0, 1], with what imperfect generated frames show: one
  of nothing, additive texture (noise, blocks, a checkerboard-like grating), a slight blur, or a
  contrast change. Applied alike to frames with and without digits, so that the recogniser decides
  by shape."""
  kind = rng.integers(4)
  if kind == 1:
    frame = frame + rng.uniform(0.02, 0.2) * _texture(rng, frame.shape[0])
  elif kind == 2:
    frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.3, 1.0))
  elif kind == 3:
    frame = 0.5 + (frame - 0.5) * rng.uniform(0.5, 1.3)
  return np.clip(frame, 0.0, 1.0)


def negative_frame(rng, size=64):
  """A frame that shows no readable digit, float32 [size, size, 3] in [0, 1].

  One of NEGATIVE_KINDS, drawn uniformly: a background of the built-in data alone; with one or two
  coloured ellipses of a digit's size; with one or two digits blurred (Gaussian sigma 2.5 to 5
  pixels at 64x64) into blobs; uniform noise, smoothed or not; or a background under strong texture.
  """
  kind = NEGATIVE_KINDS[rng.integers(len(NEGATIVE_KINDS))]
  if kind == "noise":
    noise = rng.uniform(0.0, 1.0, (size, size, 3)).astype(np.float32)
    if rng.integers(2):
      noise = cv2.GaussianBlur(noise, (0, 0), rng.uniform(0.5, 3.0))
    return np.clip(noise, 0, 1)
  frame = synthetic._background(rng, size)  # pylint: disable=protected-access
  if kind == "texture":
    return np.clip(frame + rng.uniform(0.2, 0.6) * _texture(rng, size), 0, 1)
  glyphs = synthetic._digit_glyphs(size)  # pylint: disable=protected-access
  for _ in range(rng.integers(1, 3) if kind != "background" else 0):
    height, width = glyphs[0].shape
    color = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    color[rng.integers(3)] = 1.0
    top, left = rng.integers(0, size - height), rng.integers(0, size - width)
    alpha = np.zeros((size, size), np.float32)
    if kind == "blobs":
      center = (int(left + width / 2), int(top + height / 2))
      axes = (int(rng.uniform(0.25, 0.6) * width), int(rng.uniform(0.25, 0.6) * height))
      cv2.ellipse(alpha, center, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
      alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.5, 2.0))
    else:
      glyph = glyphs[rng.integers(NUM_DIGITS)]
      alpha[top : top + glyph.shape[0], left : left + glyph.shape[1]] = glyph
      alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(2.5, 5.0) * size / 64)
      alpha = np.clip(alpha / max(alpha.max(), 1e-6), 0, 1)
    frame = frame * (1 - alpha[..., None]) + color * alpha[..., None]
  return np.clip(frame, 0, 1)


def _to_uint8(frame):
  return np.round(frame * 255).astype(np.uint8)


def labelled_frames(seed, num_clips, frames_per_clip=2, negative_share=0.5, size=64):
  """Training or held-out frames with their digit labels, all drawn from `seed`.

  Args:
    seed: data seed of the moving-digits clips and of the frame and negative draws.
    num_clips: clips to take frames from.
    frames_per_clip: random frames taken from each clip.
    negative_share: extra digit-free frames (label all zero), as a share of the digit frames' count.
    size: frame side in pixels.

  Returns:
    (frames uint8 [n, size, size, 3], labels float32 [n, 10]), shuffled.
  """
  rng = np.random.default_rng([int(seed), 0xD161])
  frames, labels = [], []
  for index in range(num_clips):
    clip = synthetic.moving_digits_clip(seed, index, size=size)
    digits, _ = digit_labels.clip_labels(seed, index, size=size)
    for t in rng.choice(len(clip), frames_per_clip, replace=False):
      frames.append(_to_uint8(perturb(clip[t].astype(np.float32) / 255.0, rng)))
      labels.append(digits)
  for _ in range(int(negative_share * len(frames))):
    frames.append(_to_uint8(perturb(negative_frame(rng, size), rng)))
    labels.append(np.zeros(NUM_DIGITS, np.float32))
  order = rng.permutation(len(frames))
  return np.stack(frames)[order], np.stack(labels)[order]


def _frame_scores(logits, labels):
  """Held-out figures: exact digit-set accuracy, and how often a digit is seen (p >= 0.5)."""
  present = logits > 0
  seen = present.any(axis=1)
  has_digit = labels.any(axis=1) if labels.dtype == bool else labels.max(axis=1) > 0.5
  return {
    "digit_set_accuracy": float(np.mean(np.all(present == (labels > 0.5), axis=1))),
    "real_frames_with_a_digit_seen": float(np.mean(seen[has_digit])),
    "digit_free_frames_with_a_digit_seen": float(np.mean(seen[~has_digit])),
  }


def held_out_clips(seed, num_clips, frames=REAL_CLIP_FRAMES, size=64):
  """Whole built-in clips the recogniser never saw: uint8 [num_clips, frames, size, size, 3] of data
  seed `seed` + 1 (the held-out frames' seed), as the sample scores see real clips."""
  return np.stack(
    [synthetic.moving_digits_clip(seed + 1, i, frames=frames, size=size) for i in range(num_clips)]
  )


def train_digit_recognizer(
  out_dir,
  *,
  size=64,
  width=32,
  num_clips=10_000,
  epochs=10,
  batch_size=128,
  learning_rate=1e-3,
  seed=2000,
  eval_clips=1024,
  real_clips=256,
):
  """Trains the recogniser on built-in frames of data seed `seed` and saves it in `out_dir`.

  Held-out figures come from clips of seed + 1: frames drawn as the training ones are
  (labelled_frames, `eval_clips` clips) and `real_clips` whole unperturbed clips of
  REAL_CLIP_FRAMES frames, scored as `relive evaluate` scores real clips (sample_scores). Writes
  model.keras (without the optimizer) and digit_recognizer.json (the arguments and the held-out
  figures), the description last, so a folder with it is complete. About 25 minutes on 2 idle CPU
  cores with the defaults.

  Returns:
    The description dict.
  """
  info = dict(
    size=size,
    width=width,
    num_clips=num_clips,
    epochs=epochs,
    batch_size=batch_size,
    learning_rate=learning_rate,
    seed=seed,
    eval_clips=eval_clips,
    real_clips=real_clips,
  )
  logging.info("training the digit recogniser for %dx%d frames: %s", size, size, info)
  keras.utils.set_random_seed(seed)
  logging.info(
    "rendering the frames of %d training clips and their digit-free negatives", num_clips
  )
  frames, labels = labelled_frames(seed, num_clips, size=size)
  model = build_digit_recognizer(size=size, width=width)
  model.compile(
    optimizer=keras.optimizers.Adam(learning_rate),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
  )
  logging.info("fitting on %d frames for %d epochs (a line per epoch)", len(frames), epochs)
  model.fit(
    frames.astype(np.float32) / 127.5 - 1.0,
    labels,
    batch_size=batch_size,
    epochs=epochs,
    verbose=2,
  )
  logging.info("measuring on frames of %d held-out clips and %d whole ones", eval_clips, real_clips)
  held_out_frames, held_out_labels = labelled_frames(seed + 1, eval_clips, size=size)
  logits = model.predict(
    held_out_frames.astype(np.float32) / 127.5 - 1.0, batch_size=256, verbose=0
  )
  info.update(_frame_scores(logits, held_out_labels))
  clips = held_out_clips(seed, real_clips, size=size)
  logits = model.predict(
    clips.reshape(-1, size, size, 3).astype(np.float32) / 127.5 - 1.0, batch_size=256, verbose=0
  )
  probabilities = (1.0 / (1.0 + np.exp(-logits))).reshape(*clips.shape[:2], NUM_DIGITS)
  info["real_clip_digit_score"] = sample_scores.digit_score(probabilities)
  info["real_clip_identity_consistency"] = sample_scores.identity_consistency(probabilities)
  logging.info(
    "digit recogniser held-out: digit sets %.3f, real frames with a digit seen %.3f, digit-free "
    "frames with one %.3f; whole real clips: digit score %.3f, identity consistency %.3f",
    info["digit_set_accuracy"],
    info["real_frames_with_a_digit_seen"],
    info["digit_free_frames_with_a_digit_seen"],
    info["real_clip_digit_score"],
    info["real_clip_identity_consistency"],
  )
  network_files.save(model, out_dir, INFO_FILE, info)
  logging.info("saved the digit recogniser in %s", out_dir)
  return info


class DigitRecognizer:
  """A trained recogniser, by default the one shipped with the package."""

  def __init__(self, path=SHIPPED, batch_size=512):
    """Loads the recogniser saved in `path` by train_digit_recognizer.

    Raises:
      ValueError: `path` holds no complete recogniser.
    """
    model, self.info = network_files.load(path, INFO_FILE, "digit recogniser", "digit_recognizer")
    self.path = path
    self.size = self.info["size"]
    self.description = (
      f"digit recogniser {network_files.shown(path)} "
      f"(digit sets {self.info['digit_set_accuracy']:.0%} held-out, "
      f"digit-free frames with a digit seen {self.info['digit_free_frames_with_a_digit_seen']:.1%})"
    )
    # One graph for any number of frames: scoring batch after batch never retraces.
    self._probabilities = tf.function(
      lambda frames: keras.ops.sigmoid(
        model(tf.cast(frames, tf.float32) / 127.5 - 1.0, training=False)
      ),
      input_signature=[tf.TensorSpec([None, self.size, self.size, 3], tf.uint8)],
    )
    self._batch_size = batch_size

  def probabilities(self, videos):
    """Per-frame digit probabilities.

    Args:
      videos: uint8 [clips, frames, size, size, 3], frames of the size it was trained on.

    Returns:
      float32 [clips, frames, 10] in [0, 1].

    Raises:
      ValueError: the frames are not uint8 or not of the recogniser's size.
    """
    videos = np.asarray(videos)
    size = self.size
    if videos.dtype != np.uint8 or videos.ndim != 5 or videos.shape[2:] != (size, size, 3):
      raise ValueError(
        f"the digit recogniser takes uint8 videos [clips, frames, {size}, {size}, 3], "
        f"got {videos.dtype} {list(videos.shape)}"
      )
    frames = videos.reshape(-1, size, size, 3)
    probabilities = [
      self._probabilities(frames[start : start + self._batch_size]).numpy()
      for start in range(0, len(frames), self._batch_size)
    ]
    return np.concatenate(probabilities).reshape(*videos.shape[:2], NUM_DIGITS)
