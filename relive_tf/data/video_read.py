"""OpenCV: video files and JPEG frame strips to square RGB frames, and clips to compact bytes."""

import contextlib
import dataclasses
import os
import re
import sys
import tempfile

import cv2
import numpy as np

from relive_tf import files

# Containers OpenCV's FFmpeg reads; a layout passes other files over by their extension. Animated
# GIFs are videos to FFmpeg too (TGIF-style data sets).
VIDEO_EXTENSIONS = (
  ".mp4",
  ".m4v",
  ".mov",
  ".qt",
  ".avi",
  ".divx",
  ".mkv",
  ".webm",
  ".mpg",
  ".mpeg",
  ".mpe",
  ".m1v",
  ".m2v",
  ".vob",
  ".ts",
  ".mts",
  ".m2ts",
  ".3gp",
  ".3g2",
  ".wmv",
  ".asf",
  ".flv",
  ".f4v",
  ".ogv",
  ".dv",
  ".mxf",
  ".nut",
  ".y4m",
  ".gif",
)
STRIP_EXTENSIONS = (".jpg", ".jpeg")
# How shards store a clip: one image of its frames stacked vertically (JPEG or PNG), or raw pixels.
ENCODINGS = ("jpeg", "png", "raw")
# libjpeg's JPEG_MAX_DIMENSION: a JPEG strip holds at most this many rows (frames x size).
JPEG_MAX_ROWS = 65_500
# OpenCV's default CV_IO_MAX_IMAGE_PIXELS: the largest image (a clip's strip) it encodes or decodes.
MAX_CLIP_PIXELS = 1 << 30

# A line FFmpeg logs: "[h264 @ 0x55c9...] message" by default, "[OPENCV:FFMPEG:16] message" when
# OPENCV_FFMPEG_LOGLEVEL is set. OpenCV's own lines ("[ WARN:0@0.02] ...") do not match.
_FFMPEG_LINE = re.compile(
  r"^\[(?:[^\]@]+ @ (?:0x)?[0-9a-fA-F]+|OPENCV:FFMPEG:\d+)\] (?P<message>.*\S)"
)


class UnusableVideoError(ValueError):
  """A file that cannot give frames; the message is the reason, as listed in manifest.json."""


@dataclasses.dataclass(frozen=True)
class DecodedVideo:
  """The frames of a file, and what went wrong on the way if something did.

  Attributes:
    frames: uint8 [frames, size, size, 3], RGB.
    warning: None, or why the frames may be fewer or worse than the file meant to hold (a cut or
      damaged file: the decoder's first complaint and how many frames it gave).
  """

  frames: np.ndarray
  warning: str | None = None


def square_frame(frame, size):
  """Resizes the shorter side of a frame to `size` and center-crops the longer side.

  The center square is cut first and then resized, which gives the same picture as resizing first
  with less work.

  Args:
    frame: uint8 [height, width, channels].
    size: side of the output square in pixels.

  Returns:
    uint8 [size, size, channels].
  """
  height, width = frame.shape[:2]
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  square = frame[top : top + side, left : left + side]
  if side == size:
    return np.ascontiguousarray(square)
  # INTER_AREA averages the source pixels under each output pixel, so shrinking does not alias.
  interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
  return cv2.resize(square, (size, size), interpolation=interpolation)


@contextlib.contextmanager
def local_file(path):
  """Yields a local name of a video or strip: `path` itself, or a temporary copy of a remote file
  (gs://, a plugin filesystem), which OpenCV and FFmpeg cannot open; the copy is deleted after.

  Raises:
    UnusableVideoError: a remote file cannot be read.
  """
  with contextlib.ExitStack() as stack:
    try:
      local = stack.enter_context(files.local_copy(path))
    except OSError as error:
      raise UnusableVideoError(f"cannot be read: {error.strerror}") from None
    yield local


def _check_file(path):
  if not os.path.exists(path):
    raise UnusableVideoError("file not found")
  if os.path.isfile(path) and os.path.getsize(path) == 0:
    raise UnusableVideoError("empty file (0 bytes)")


@contextlib.contextmanager
def _openable_name(path):
  """A name of `path` that OpenCV can open.

  The name is absolute: FFmpeg reads a relative "name:rest" as a protocol. OpenCV takes names as
  UTF-8 and crashes (segmentation fault) on a str that holds undecodable bytes (os.listdir's
  surrogate escapes of a Latin-1 name): such a file is opened through a symbolic link with an ASCII
  name in a temporary folder.
  """
  path = os.path.abspath(path)
  try:
    path.encode("utf-8")
  except UnicodeEncodeError:
    extension = os.path.splitext(path)[1]
    with tempfile.TemporaryDirectory(prefix="relive_video_") as folder:
      link = os.path.join(folder, "video" + (extension if extension.isascii() else ""))
      os.symlink(path, link)
      yield link
    return
  yield path


@contextlib.contextmanager
def _ffmpeg_errors():
  """Collects the messages FFmpeg logs while the block runs, into the list it yields.

  FFmpeg prints errors (a cut file's "File ended prematurely", "partial file", damaged packets) on
  the process's stderr, which OpenCV does not report otherwise; file descriptor 2 points to a
  temporary file meanwhile. `relive prepare` and `relive predict` decode in worker processes, so
  nothing else of theirs writes to stderr then.
  """
  messages = []
  with tempfile.TemporaryFile() as log:
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
      yield messages
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      log.seek(0)
      for line in log.read().decode("utf-8", "replace").splitlines():
        match = _FFMPEG_LINE.match(line)
        if match:
          messages.append(match["message"])


def _decode_frames(path, size, frame_step, max_frames=None):
  """(every frame_step-th frame square-cropped, at most max_frames of them, frames decoded, frames
  listed in the header)."""
  capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
  try:
    if not capture.isOpened():
      return [], 0, 0
    listed = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    frames = []
    decoded = 0
    while max_frames is None or len(frames) < max_frames:
      # grab() decodes without the color conversion and copy, enough for the frames we drop.
      if decoded % frame_step:
        if not capture.grab():
          break
      else:
        ok, frame = capture.read()
        if not ok:
          break
        frames.append(square_frame(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size))
      decoded += 1
  finally:
    capture.release()
  # Some containers give nonsense here (negative, or 2**61); it is only quoted in warnings.
  return frames, decoded, int(listed) if 0 < listed < 1e9 else 0


def read_video(path, *, size, frame_step=1, max_frames=None):
  """Decodes every `frame_step`-th frame of a video file, until its stream ends or max_frames are
  kept.

  A container's frame count is only a hint (edit lists, variable frame rates, audio longer than the
  video and wrong AVI headers all make it lie), so the frames that decode are the video. When FFmpeg
  reports errors (a cut or damaged file), the frames that decoded are used and the result carries a
  warning that quotes FFmpeg.

  Args:
    path: a video file OpenCV's FFmpeg backend can read (VIDEO_EXTENSIONS, whatever the name:
      str, bytes or os.PathLike; names that are not valid UTF-8 too).
    size: side of the square output frames in pixels.
    frame_step: keep frames 0, frame_step, 2 * frame_step, ...
    max_frames: stop after keeping this many (None: the whole stream); a long video's head alone.

  Returns:
    A DecodedVideo: frames uint8 [frames, size, size, 3] RGB, and a warning or None.

  Raises:
    UnusableVideoError: the file is missing, empty, not a video, or decodes no frame; the message
      quotes FFmpeg's first complaint when it made one.
  """
  path = os.fsdecode(path)
  _check_file(path)
  with _openable_name(path) as name, _ffmpeg_errors() as errors:
    frames, decoded, listed = _decode_frames(name, size, frame_step, max_frames)
  said = f" (FFmpeg: {errors[0]})" if errors else ""
  if not decoded:
    raise UnusableVideoError(
      f"no frame could be decoded: not a video, a codec FFmpeg lacks, or a "
      f"file cut before its first frame{said}"
    )
  warning = None
  if errors:
    # Of the header's count only when the stream ended there, not at max_frames.
    ended = max_frames is None or len(frames) < max_frames
    of_listed = f" of the {listed} its header lists" if ended and decoded < listed else ""
    used = f"the {len(frames)} kept of " if frame_step > 1 else ""
    warning = f"cut or damaged{said}: used {used}the {decoded} frames that decoded{of_listed}"
  return DecodedVideo(np.stack(frames), warning)


def jpeg_is_cut(data):
  """Whether a JPEG file's bytes stop before its image does: no end-of-image marker after the main
  image's first scan, or its header segments run past the end. The segments are walked from the
  start, so that the markers of an EXIF thumbnail (inside a segment) are passed over. Told apart
  before decoding because libjpeg prints a line of its own about a cut file."""
  position = 2  # after the start-of-image marker
  while position + 4 <= len(data):
    if data[position] != 0xFF:
      return False  # no marker where one belongs: damaged otherwise, as the decoder will say
    marker = data[position + 1]
    if marker == 0xFF:  # a fill byte before a marker
      position += 1
    elif marker == 0xDA:  # start of scan: entropy-coded data, which escapes every 0xFF it holds
      return data.find(b"\xff\xd9", position) < 0
    else:
      position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
  return True


def read_strip(path, *, size, frame_step=1):
  """Decodes a JPEG strip: the frames of one clip stacked vertically (Vondrick et al.'s layout).

  Args:
    path: an image whose height is a whole multiple of its width (each frame is square).
    size: side of the square output frames in pixels.
    frame_step: keep frames 0, frame_step, 2 * frame_step, ...

  Returns:
    A DecodedVideo (never with a warning: a cut strip is refused, see Raises).

  Raises:
    UnusableVideoError: the file is missing, empty, not an image, cut short (its lost rows would
      decode as gray), or not a stack of square frames.
  """
  path = os.fsdecode(path)
  _check_file(path)
  with open(path, "rb") as f:
    data = f.read()
  # libjpeg may fill the rows missing from a cut JPEG with gray; the end marker is what is gone.
  if data.startswith(b"\xff\xd8") and jpeg_is_cut(data):
    raise UnusableVideoError("truncated: the JPEG has no end-of-image marker")
  image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
  if image is None:
    raise UnusableVideoError("cannot be decoded as an image (corrupt or not a JPEG)")
  height, width = image.shape[:2]
  if height % width:
    raise UnusableVideoError(
      f"not a strip of square frames: {height}x{width} pixels (height x "
      f"width), the height must be a whole multiple of the width"
    )
  frames = image.reshape(height // width, width, width, 3)[::frame_step]
  return DecodedVideo(
    np.stack([square_frame(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size) for frame in frames])
  )


def encode_clip(clip, encoding, jpeg_quality=90):
  """Encodes a clip for a shard: its frames stacked vertically as one JPEG or PNG, or raw bytes.

  One image per clip shares one JPEG header and set of tables among the frames (docs/benchmarks.md
  compares the encodings). JPEG keeps full-resolution color (4:4:4): 4:2:0 would keep the color
  of a 64x64 frame at 32x32.

  Args:
    clip: uint8 [frames, size, size, 3], RGB.
    encoding: one of ENCODINGS.
    jpeg_quality: JPEG quality, 1..100.

  Returns:
    bytes; decoded, they reshape to [frames, size, size, 3].
  """
  if encoding == "raw":
    return np.ascontiguousarray(clip, np.uint8).tobytes()
  frames, height, width, channels = clip.shape
  strip = cv2.cvtColor(clip.reshape(frames * height, width, channels), cv2.COLOR_RGB2BGR)
  if encoding == "jpeg":
    params = [
      cv2.IMWRITE_JPEG_QUALITY,
      jpeg_quality,
      cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
      cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    ]
    ok, data = cv2.imencode(".jpg", strip, params)
  elif encoding == "png":
    ok, data = cv2.imencode(".png", strip)
  else:
    raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")
  if not ok:
    raise RuntimeError(f"OpenCV could not encode a {list(clip.shape)} clip as {encoding}")
  return data.tobytes()
