"""OpenCV: video files and JPEG frame strips to square RGB frames, and clips to compact bytes."""

import os

import cv2
import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".m4v")
STRIP_EXTENSIONS = (".jpg", ".jpeg")
# How shards store a clip: one image of its frames stacked vertically (JPEG or PNG), or raw pixels.
ENCODINGS = ("jpeg", "png", "raw")

# A container whose header lists more frames than this share of them decoded is cut short. Frame
# counts that are estimated from the duration (mkv, webm) can be a frame or two off, hence not 100%.
_MIN_DECODED_SHARE = 0.9
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_JPEG_TAIL_BYTES = 32  # some writers pad a few bytes after the end marker


class UnusableVideoError(ValueError):
  """A file that cannot give frames; the message is the reason, as listed in manifest.json."""


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


def _check_file(path):
  if not os.path.exists(path):
    raise UnusableVideoError("file not found")
  if os.path.isfile(path) and os.path.getsize(path) == 0:
    raise UnusableVideoError("empty file (0 bytes)")


def read_video(path, *, size, frame_step=1):
  """Decodes every `frame_step`-th frame of a video file.

  Args:
    path: a video file OpenCV's FFmpeg backend can read (mp4, avi, mov, mkv, webm, mpg, m4v).
    size: side of the square output frames in pixels.
    frame_step: keep frames 0, frame_step, 2 * frame_step, ...

  Returns:
    uint8 [frames, size, size, 3], RGB.

  Raises:
    UnusableVideoError: the file is missing, empty, not a video, decodes no frames, or decodes
      clearly fewer frames than its header lists (truncated).
  """
  _check_file(path)
  capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
  try:
    if not capture.isOpened():
      raise UnusableVideoError(
        "cannot be opened as a video (not a video file, or a codec FFmpeg lacks)"
      )
    listed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    decoded = 0
    while True:
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
  if not decoded:
    raise UnusableVideoError("no frame could be decoded (corrupt or not a video)")
  if listed > 0 and decoded < _MIN_DECODED_SHARE * listed:
    raise UnusableVideoError(
      f"truncated: decoded {decoded} of the {listed} frames its header lists"
    )
  return np.stack(frames)


def read_strip(path, *, size, frame_step=1):
  """Decodes a JPEG strip: the frames of one clip stacked vertically (Vondrick et al.'s layout).

  Args:
    path: an image whose height is a whole multiple of its width (each frame is square).
    size: side of the square output frames in pixels.
    frame_step: keep frames 0, frame_step, 2 * frame_step, ...

  Returns:
    uint8 [frames, size, size, 3], RGB.

  Raises:
    UnusableVideoError: the file is missing, empty, not an image, or not a stack of square frames.
  """
  _check_file(path)
  with open(path, "rb") as f:
    data = f.read()
  # libjpeg may fill the rows missing from a cut JPEG with gray; the end marker is what is gone.
  if data[:2] == _JPEG_START and _JPEG_END not in data[-_JPEG_TAIL_BYTES:]:
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
  return np.stack([square_frame(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size) for frame in frames])


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
