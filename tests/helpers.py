"""What the tests share: configs, the `relive` command, training and restoring, fixture videos."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import cv2
import imageio_ffmpeg
import numpy as np
import tensorflow as tf

from relive_tf import families
from relive_tf.data import shards
from relive_tf.data import synthetic
from relive_tf.data import video_read
from relive_tf.gallery import events
from relive_tf.training import checkpoints
from relive_tf.training import loop

REPO = pathlib.Path(__file__).resolve().parents[1]


def load_config(name, variant="tiny", **overrides):
  """configs/<name>.py's get_config(variant), with dotted overrides such as train__num_steps=2.

  Raises:
    KeyError: an override names no option of the config (a typo would otherwise test nothing).
  """
  spec = importlib.util.spec_from_file_location(f"configs.{name}", REPO / "configs" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(variant)
  with config.unlocked():
    for key, value in overrides.items():
      *parents, leaf = key.split("__")
      node = config
      for parent in parents:
        node = node[parent]
      if leaf not in node:
        raise KeyError(f"{key}: configs/{name}.py:{variant} has no option {key.replace('__', '.')}")
      node[leaf] = value
  return config


def one_device():
  return tf.distribute.OneDeviceStrategy("/cpu:0")


def train(config, workdir, strategy=None):
  """Trains `config` in `workdir` with its registered family, on one CPU unless told otherwise."""
  return loop.train_and_evaluate(
    config, str(workdir), families.get(config.model_type), strategy or one_device()
  )


def restore(workdir):
  """A workdir of any registered family, restored (family.Trained)."""
  return checkpoints.restore_trained(str(workdir), families.FAMILIES.values())


def run_cli(*args, cwd=None):
  """Runs the `relive` command as a user would; returns the finished process."""
  command = os.path.join(os.path.dirname(sys.executable), "relive")
  return subprocess.run(
    [command, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600, check=False
  )


def summary_values(workdir):
  """{tag: [(step, value), ...]} of every summary in a workdir's TensorBoard runs, as TensorBoard
  shows them: one value per step, the resumed run's where runs overlap (events.read_series)."""
  series, _ = events.read_series(os.path.join(str(workdir), "tb"))
  return {
    tag: [(step, tf.make_ndarray(value.tensor)) for step, value in points]
    for tag, points in series.items()
  }


def prepared_records(out, split, frames, size):
  """Every record of a prepared split in stored order, as dicts of NumPy values."""
  return [
    {key: value.numpy() for key, value in record.items()}
    for record in shards.clip_records(str(out), split=split, frames=frames, size=size)
  ]


def reasons(manifest, source):
  """{path relative to source: reason} of a manifest's skipped files."""
  return {os.path.relpath(entry["path"], source): entry["reason"] for entry in manifest["skipped"]}


# Fixture videos.


def ucf101_tree(root, classes, groups, frames=10):
  """UCF-101/<Class>/v_<Class>_gGG_c01.avi for every class and group; returns the video ids."""
  ids = []
  for label in classes:
    os.makedirs(root / label)
    for group in groups:
      video_id = f"{label}/v_{label}_g{group:02d}_c01.avi"
      write_avi(root / video_id, smooth_video(frames, 24, 32, seed=group))
      ids.append(video_id)
  return ids


def smooth_video(frames, height, width, seed=0):
  """uint8 [frames, height, width, 3] RGB: drifting color waves, and blue = 20 + 10 * frame number.

  Smooth pictures keep the MJPEG and JPEG errors small; the flat blue channel tells frames apart.
  """
  y, x = np.mgrid[0:height, 0:width] / max(height, width)
  t = np.arange(frames)[:, None, None] / 16 + seed
  red = 128 + 90 * np.sin(2 * np.pi * (x + t))
  green = 128 + 90 * np.cos(2 * np.pi * (y - t))
  blue = np.broadcast_to(20 + 10 * np.arange(frames)[:, None, None], red.shape)
  return np.round(np.stack([red, green, blue], axis=-1)).astype(np.uint8)


def moving_digits_video(frames, height, width, seed=3):
  """uint8 [frames, height, width, 3] RGB of built-in moving digits, cropped to height x width."""
  side = max(height, width)
  clip = synthetic.moving_digits_clip(seed, 0, frames=frames, size=side)
  top, left = (side - height) // 2, (side - width) // 2
  return clip[:, top : top + height, left : left + width]


def write_avi(path, video, fps=10):
  """Writes uint8 [frames, height, width, 3] RGB as an MJPEG .avi; returns the path as a string."""
  height, width = video.shape[1:3]
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
  assert writer.isOpened(), f"OpenCV cannot write {path}"
  for frame in video:
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  return str(path)


def write_strip(path, video, quality=95):
  """Writes uint8 [frames, side, side, 3] RGB as one JPEG of the frames stacked vertically."""
  frames, side = video.shape[:2]
  strip = cv2.cvtColor(video.reshape(frames * side, side, 3), cv2.COLOR_RGB2BGR)
  assert cv2.imwrite(str(path), strip, [cv2.IMWRITE_JPEG_QUALITY, quality])
  return str(path)


def ffmpeg_video(
  path, video, *, fps=25, output=("-c:v", "libx264", "-pix_fmt", "yuv420p"), inputs=()
):
  """Encodes uint8 [frames, height, width, 3] RGB with the ffmpeg of imageio-ffmpeg.

  Args:
    path: the file to write; its extension picks the container.
    video: the frames.
    fps: the input frame rate.
    output: ffmpeg output options (codec, filters).
    inputs: more ffmpeg inputs after the frames, e.g. ("-f", "lavfi", "-i", "sine=duration=4").

  Returns:
    The path, as a string.
  """
  frames, height, width, _ = video.shape
  command = [
    imageio_ffmpeg.get_ffmpeg_exe(),
    "-y",
    "-loglevel",
    "error",
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "-s",
    f"{width}x{height}",
    "-r",
    str(fps),
    "-i",
    "-",
    *inputs,
    *output,
    str(path),
  ]
  subprocess.run(command, input=np.ascontiguousarray(video).tobytes(), check=True)
  return str(path)


def ffmpeg(*arguments):
  """Runs the ffmpeg of imageio-ffmpeg quietly."""
  subprocess.run(
    [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *arguments], check=True
  )


def trim_copy(path, source):
  """Writes the last 60 of `source`'s 100 frames as a stream-copy trim (case 03): H.264 at 25 fps
  with one keyframe, cut with `ffmpeg -ss 1.6 -c copy`, which keeps the 40 packets before the cut
  for decoding and an edit list that hides them, so the header counts 100 frames."""
  full = ffmpeg_video(
    f"{path}.full.mp4",
    source,
    output=("-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "100", "-bf", "0"),
  )
  ffmpeg("-ss", "1.6", "-i", full, "-c", "copy", str(path))
  os.remove(full)
  return str(path)


def truncate(path, share):
  """Keeps the first `share` of a file's bytes."""
  with open(path, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(data[: int(len(data) * share)])
  return str(path)


def mean_abs_error(first, second):
  return float(np.mean(np.abs(first.astype(np.float32) - second.astype(np.float32))))


def expected_frames(video, size):
  return np.stack([video_read.square_frame(frame, size) for frame in video])
