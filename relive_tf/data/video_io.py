"""Writing videos to GIF and H.264 MP4 (what browsers and TensorBoard play)."""

import io
import os

import numpy as np
from PIL import Image

from relive_tf import files

DEFAULT_FPS = 8
VIDEO_FORMATS = ("gif", "mp4")


def _check_video(video):
  video = np.asarray(video)
  if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8 or not all(video.shape):
    raise ValueError(
      f"expected a uint8 video [frames, height, width, 3] of at least one pixel and "
      f"frame, got {video.dtype} {list(video.shape)}"
    )
  return video


def even_sides(video):
  """Pads [frames, height, width, 3] to even height and width by repeating the last row or column.

  H.264 in yuv420p stores color per 2x2 pixels, so its encoder refuses odd sides.
  """
  height, width = video.shape[1:3]
  return np.pad(video, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")


# How each frame's 256 colors are chosen: Pillow's median cut, or its fast octree, about 30x faster
# (18 against 550 ms for 32 frames of 64x256) for a mean error of 5.45 instead of 4.65 levels on the
# moving digits (bench/step_pieces.py); the training loop's sample GIFs take the fast one.
QUANTIZERS = {"median_cut": Image.Quantize.MEDIANCUT, "fast_octree": Image.Quantize.FASTOCTREE}


def gif_frame_durations(frames, fps):
  """Milliseconds each frame shows, in the whole centiseconds a GIF stores, frame i ending within
  5 ms of (i + 1) / fps seconds: at 8 fps 120 and 130 ms, 125 on average (one delay of 120
  played 4 % fast).

  Raises:
    ValueError: fps outside (0, 100], where a frame would last under a centisecond.
  """
  if not 0 < fps <= 100:
    raise ValueError(f"a GIF's frames last whole centiseconds: fps must be in (0, 100], not {fps}")
  ends = [round(100 * frame / fps) * 10 for frame in range(frames + 1)]
  return [end - start for start, end in zip(ends, ends[1:])]


def encode_gif(video, fps=DEFAULT_FPS, quantizer="median_cut"):
  """uint8 [frames, height, width, 3] -> the bytes of an endlessly looping animated GIF playing at
  fps frames a second (gif_frame_durations).

  quantizer: one of QUANTIZERS, how each frame's palette is chosen.

  Raises:
    ValueError: not a uint8 video, fps outside (0, 100], or an unknown quantizer.
  """
  video = _check_video(video)
  durations = gif_frame_durations(len(video), fps)
  if quantizer not in QUANTIZERS:
    raise ValueError(f"GIF quantizer {quantizer!r}: use one of {sorted(QUANTIZERS)}")
  images = [Image.fromarray(frame).quantize(256, QUANTIZERS[quantizer]) for frame in video]
  buffer = io.BytesIO()
  images[0].save(
    buffer,
    format="GIF",
    save_all=True,
    append_images=images[1:],
    duration=durations,
    loop=0,
  )
  return buffer.getvalue()


def write_video(path, video, fps=DEFAULT_FPS):
  """Writes uint8 [frames, height, width, 3] to `path`, GIF or H.264 MP4 by its extension.

  The file appears under its name only when complete (files.atomic_write); on any failure no file
  appears and the error is raised. MP4 needs even sides: an odd height or width is padded by one
  row or column (even_sides).

  Raises:
    ValueError: the extension is not one of VIDEO_FORMATS, or the video not uint8 [t, h, w, 3]
      with at least one frame and pixel.
    RuntimeError: ffmpeg wrote no MP4 (it reports its error on stderr).
  """
  video = _check_video(video)
  extension = os.path.splitext(path)[1].lower().lstrip(".")
  if extension not in VIDEO_FORMATS:
    raise ValueError(f"cannot write {path!r}: the extension must be one of {VIDEO_FORMATS}")
  if extension == "gif":
    files.write_text(path, encode_gif(video, fps))
    return
  import imageio.v2 as imageio  # noqa: PLC0415 (loads ffmpeg, which only MP4 needs)

  with files.atomic_write(path, suffix=f".{extension}") as temporary:
    # macro_block_size=1 keeps 64x64 as it is (imageio would resize to multiples of 16).
    with imageio.get_writer(
      temporary,
      format="FFMPEG",
      fps=fps,
      codec="libx264",
      pixelformat="yuv420p",
      macro_block_size=1,
    ) as writer:
      for frame in even_sides(video):
        writer.append_data(frame)
    # ffmpeg reports a failed encoder on stderr and leaves an empty file rather than raising.
    if not os.path.isfile(temporary) or not os.path.getsize(temporary):
      raise RuntimeError(
        f"ffmpeg wrote no MP4 for {path!r} ({list(video.shape)} frames); its error is printed above"
      )


def tile_videos(videos, columns):
  """Lays out uint8 [n, frames, h, w, 3] as one grid video [frames, rows * h, columns * w, 3]."""
  videos = np.asarray(videos)
  count, frames, height, width, channels = videos.shape
  rows = -(-count // columns)
  padded = np.zeros((rows * columns, frames, height, width, channels), videos.dtype)
  padded[:count] = videos
  grid = padded.reshape(rows, columns, frames, height, width, channels)
  return grid.transpose(2, 0, 3, 1, 4, 5).reshape(frames, rows * height, columns * width, channels)
