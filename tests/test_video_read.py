"""Decoding video files and JPEG strips: pixels, frame sampling, cropping, reasons for refusals."""

import pathlib

import cv2
import numpy as np
import pytest

from relive_tf.data import video_read

from helpers import expected_frames
from helpers import mean_abs_error
from helpers import smooth_video
from helpers import truncate
from helpers import write_avi
from helpers import write_strip


def test_square_frame_keeps_the_center_of_the_longer_side():
  frame = np.zeros((30, 40, 3), np.uint8)
  frame[:, :5] = 255  # left margin, cropped away
  frame[:, 35:] = 255  # right margin, cropped away
  frame[:, 5:35] = np.arange(30, dtype=np.uint8)[:, None, None]
  np.testing.assert_array_equal(video_read.square_frame(frame, 30), frame[:, 5:35])


def test_square_frame_resizes_the_shorter_side_to_size():
  tall = np.full((90, 60, 3), 77, np.uint8)
  square = video_read.square_frame(tall, 16)
  assert square.shape == (16, 16, 3)
  np.testing.assert_array_equal(square, 77)


def test_read_video_matches_the_source_frames_within_mjpeg_error(tmp_path):
  source = smooth_video(12, 24, 32)
  video = video_read.read_video(write_avi(tmp_path / "a.avi", source), size=16)
  assert video.shape == (12, 16, 16, 3) and video.dtype == np.uint8
  assert mean_abs_error(video, expected_frames(source, 16)) < 3


def test_read_video_keeps_every_frame_step_th_frame(tmp_path):
  source = smooth_video(11, 16, 16)
  video = video_read.read_video(write_avi(tmp_path / "a.avi", source), size=16, frame_step=3)
  assert len(video) == 4  # frames 0, 3, 6, 9
  np.testing.assert_allclose(video[..., 2].mean(axis=(1, 2)), [20, 50, 80, 110], atol=3)


@pytest.mark.parametrize(
  "make, reason",
  [
    (lambda path: pathlib.Path(path).write_bytes(b""), "empty file"),
    (
      lambda path: pathlib.Path(path).write_text("not a video\n" * 50),
      "cannot be opened as a video",
    ),
    (lambda path: truncate(write_avi(path, smooth_video(20, 16, 16)), 0.6), "truncated: decoded"),
    (lambda path: None, "file not found"),
  ],
)
def test_read_video_refuses_unusable_files_with_the_reason(tmp_path, make, reason):
  path = str(tmp_path / "broken.avi")
  make(path)
  with pytest.raises(video_read.UnusableVideoError, match=reason):
    video_read.read_video(path, size=16)


def test_read_strip_splits_the_stacked_frames(tmp_path):
  source = smooth_video(6, 32, 32)
  video = video_read.read_strip(write_strip(tmp_path / "s.jpg", source), size=16, frame_step=2)
  assert video.shape == (3, 16, 16, 3)
  assert mean_abs_error(video, expected_frames(source[::2], 16)) < 3


def test_read_strip_refuses_a_picture_that_is_not_a_stack_of_squares(tmp_path):
  path = tmp_path / "s.jpg"
  cv2.imwrite(str(path), np.zeros((40, 32, 3), np.uint8))
  with pytest.raises(video_read.UnusableVideoError, match="not a strip of square frames"):
    video_read.read_strip(str(path), size=16)


def test_read_strip_refuses_a_truncated_jpeg(tmp_path):
  path = truncate(write_strip(tmp_path / "s.jpg", smooth_video(4, 32, 32)), 0.7)
  with pytest.raises(video_read.UnusableVideoError, match="truncated"):
    video_read.read_strip(path, size=16)


@pytest.mark.parametrize("encoding", ["png", "raw"])
def test_lossless_encodings_keep_every_pixel(encoding):
  clip = smooth_video(4, 8, 8)
  data = np.frombuffer(video_read.encode_clip(clip, encoding), np.uint8)
  if encoding == "png":
    decoded = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
  else:
    decoded = data
  np.testing.assert_array_equal(decoded.reshape(clip.shape), clip)


def test_jpeg_encoding_stays_within_jpeg_error():
  clip = smooth_video(4, 16, 16)
  data = np.frombuffer(video_read.encode_clip(clip, "jpeg", jpeg_quality=90), np.uint8)
  decoded = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
  assert mean_abs_error(decoded.reshape(clip.shape), clip) < 3
