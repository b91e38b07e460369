"""Writes the README's GIF strip: real vs generated vs relived vs predicted clips, labelled.

  python tools/readme_strip.py --vgan=DIR --cvgan=DIR --lstm=DIR --out=docs/samples.gif

with DIR the trained workdirs of `relive train` (e.g. runs/vgan_tiny, runs/cvgan_tiny,
runs/lstm_tiny), all of one frame size. Each row takes one held-out real clip (the video WGAN's
held-out data) and shows, left to right: the clip; a video the video WGAN samples from noise; the
video the conditional WGAN makes around the clip's frame at its condition index (the photo,
labelled so on its frame); and the predictor's rollout after the clip's first frames (labelled
context), as long as the clip even where that is past the predictor's training clips. The GANs'
videos come from their sampling generators (the moving average of the weights when kept). The GIF
must stay under --max_kilobytes (README.md loads it); fewer --rows or --scale=1 make it smaller.
"""

import relive_tf  # noqa: F401, I001 (sets TensorFlow's environment before its import)

import io
import os

import cv2
import numpy as np
from PIL import Image
from absl import app
from absl import flags
from absl import logging

from relive_tf import files
from relive_tf.data import pipeline
from relive_tf.data import video_io
from relive_tf.inference import generate
from relive_tf.inference import relive
from relive_tf.training import checkpoints
from relive_tf.training import cvgan as cvgan_training
from relive_tf.training import inputs
from relive_tf.training import lstm as lstm_training
from relive_tf.training import vgan as vgan_training

_VGAN = flags.DEFINE_string("vgan", None, "a video WGAN workdir")
_CVGAN = flags.DEFINE_string("cvgan", None, "a conditional WGAN workdir")
_LSTM = flags.DEFINE_string("lstm", None, "a next-frame predictor workdir")
_OUT = flags.DEFINE_string("out", "docs/samples.gif", "the GIF to write")
_ROWS = flags.DEFINE_integer("rows", 1, "held-out clips, one row each")
_SCALE = flags.DEFINE_integer("scale", 2, "each pixel shown as scale x scale")
_SEED = flags.DEFINE_integer("seed", 0, "noise seed of the generated and relived videos")
_MAX_KILOBYTES = flags.DEFINE_integer("max_kilobytes", 500, "the largest GIF written")

PANELS = ("real", "generated", "relived", "predicted")
LABEL_PIXELS = 14  # height of the label band over each panel, before scaling
GAP_PIXELS = 4  # white space between panels and rows, after scaling


def _label(text, width, height):
  """A dark band [height, width, 3] with white text."""
  band = np.full((height, width, 3), 40, np.uint8)
  scale = height / 34
  cv2.putText(
    band,
    text,
    (4, int(height * 0.72)),
    cv2.FONT_HERSHEY_SIMPLEX,
    scale,
    (255, 255, 255),
    1,
    cv2.LINE_AA,
  )
  return band


def _panel(video, labels, scale):
  """A clip [t, s, s, 3] scaled up, under a label band; labels: one text per frame."""
  video = np.repeat(np.repeat(video, scale, axis=1), scale, axis=2)
  width = video.shape[2]
  bands = {text: _label(text, width, LABEL_PIXELS * scale) for text in set(labels)}
  return np.stack([np.concatenate([bands[text], frame]) for text, frame in zip(labels, video)])


def _beside(panels, axis):
  """Panels joined along `axis` (2: side by side, 1: stacked) with white gaps between them."""
  shape = list(panels[0].shape)
  shape[axis] = GAP_PIXELS
  gap = np.full(shape, 255, np.uint8)
  joined = [panels[0]]
  for panel in panels[1:]:
    joined += [gap, panel]
  return np.concatenate(joined, axis=axis)


def strip_video(vgan_workdir, cvgan_workdir, lstm_workdir, *, rows=2, scale=2, seed=0):
  """The strip's frames: uint8 [frames, height, width, 3], a row of PANELS per held-out clip.

  Args:
    vgan_workdir, cvgan_workdir, lstm_workdir: trained workdirs of one frame size; the strip is as
      long as the video WGAN's clips.
    rows: held-out clips, one row each.
    scale: each pixel shown as scale x scale.
    seed: noise seed of the generated and relived videos.

  Raises:
    ValueError: workdirs of other model types or of different frame sizes, or bad rows or scale.
  """
  if rows < 1 or scale < 1:
    raise ValueError(f"rows is {rows} and scale {scale}; both must be at least 1")
  vgan = checkpoints.restore_trained(vgan_workdir, vgan_training.FAMILY, "the README strip")
  cvgan = checkpoints.restore_trained(cvgan_workdir, cvgan_training.FAMILY, "the README strip")
  lstm = checkpoints.restore_trained(lstm_workdir, lstm_training.FAMILY, "the README strip")
  sizes = {trained.config.data.size for trained in (vgan, cvgan, lstm)}
  if len(sizes) > 1:
    raise ValueError(
      f"the workdirs make frames of the sizes {sorted(sizes)}; give ones of one size"
    )
  frames = vgan.config.data.frames
  if cvgan.config.data.frames != frames:
    raise ValueError(
      f"the video WGAN makes {frames} frames and the conditional WGAN "
      f"{cvgan.config.data.frames}; give workdirs of one clip length"
    )
  clips = np.stack(
    [clip for _, clip in inputs.held_out_clips(vgan.config).take(rows).as_numpy_iterator()]
  )
  generated = generate.sample_videos(vgan.trainer.sampling_generator, rows, seed)
  index = cvgan.trainer.condition_index
  relived = np.concatenate(
    [
      relive.relive_videos(cvgan.trainer.sampling_generator, clip[index], 1, seed + i)
      for i, clip in enumerate(clips)
    ]
  )
  context = lstm.config.train.context_frames
  lstm_training.check_rollout(context, frames - context, lstm.config.data.frames, measured=False)
  rollout = lstm.trainer.predictor.rollout(
    pipeline.to_float_video(clips[:, :context]), frames - context
  )
  predicted = np.concatenate([clips[:, :context], pipeline.to_uint8_video(rollout).numpy()], axis=1)
  labels = {
    "real": ["real"] * frames,
    "generated": ["generated"] * frames,
    "relived": ["photo" if t == index else "relived" for t in range(frames)],
    "predicted": ["context"] * context + ["predicted"] * (frames - context),
  }
  videos = {"real": clips, "generated": generated, "relived": relived, "predicted": predicted}
  return _beside(
    [
      _beside([_panel(videos[name][row], labels[name], scale) for name in PANELS], axis=2)
      for row in range(rows)
    ],
    axis=1,
  )


def encode_small_gif(video, colors=63, fps=video_io.DEFAULT_FPS):
  """uint8 [frames, height, width, 3] -> the bytes of a looping GIF made small for a README.

  One palette of `colors` colours (median cut over every fourth frame, no dithering) for every
  frame, and each frame after the first stores only the pixels that changed, the rest transparent
  over the frame before: still backgrounds then cost nothing after the first frame. A GIF of 64x64
  textured frames otherwise takes about 1 byte a pixel a frame.
  """
  sample = Image.fromarray(np.concatenate(list(video[::4]), axis=0))
  palette = sample.quantize(
    colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
  )
  transparent = colors  # the first index the palette leaves free
  rgb_palette = palette.getpalette()[: 3 * colors] + [0, 0, 0] * (256 - colors)
  images, previous = [], None
  for frame in video:
    indices = np.asarray(
      Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE), np.uint8
    )
    stored = indices.copy()
    if previous is not None:
      stored[indices == previous] = transparent
    previous = indices
    image = Image.fromarray(stored, mode="P")
    image.putpalette(rgb_palette)
    images.append(image)
  buffer = io.BytesIO()
  images[0].save(
    buffer,
    format="GIF",
    save_all=True,
    append_images=images[1:],
    duration=round(1000 / fps),
    loop=0,
    optimize=False,  # keeps the palette, and so the transparent index, as it is
    transparency=transparent,
    disposal=1,  # each frame is drawn over the one before
  )
  return buffer.getvalue()


def write_strip(path, video, max_kilobytes=500):
  """Writes the strip as a small looping GIF (encode_small_gif); returns its size in bytes.

  Raises:
    ValueError: the GIF would be larger than max_kilobytes (nothing is written).
  """
  data = encode_small_gif(video)
  if len(data) > max_kilobytes * 1000:
    raise ValueError(
      f"the strip's GIF is {len(data) / 1000:.0f} KB, over the {max_kilobytes} KB asked for; "
      "ask for fewer --rows or --scale=1"
    )
  files.gfile().makedirs(os.path.dirname(files.absolute(path)))
  files.write_text(path, data)
  return len(data)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  video = strip_video(
    _VGAN.value, _CVGAN.value, _LSTM.value, rows=_ROWS.value, scale=_SCALE.value, seed=_SEED.value
  )
  size = write_strip(_OUT.value, video, _MAX_KILOBYTES.value)
  logging.info("wrote %s: %d frames of %dx%d, %.0f KB", _OUT.value, *video.shape[:3], size / 1000)


if __name__ == "__main__":
  flags.mark_flags_as_required(["vgan", "cvgan", "lstm"])
  app.run(main)
