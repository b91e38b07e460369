"""Writing videos: GIF and MP4 files are whole or absent, whatever the frame size."""

import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from relive_tf.data import synthetic
from relive_tf.data import video_io


def read_back(path):
  """The frames of a video file as uint8 [frames, height, width, 3] RGB (OpenCV)."""
  capture = cv2.VideoCapture(str(path))
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
  capture.release()
  return np.stack(frames)


def gray_video(frames, height, width):
  return np.full((frames, height, width, 3), 128, np.uint8)


@pytest.mark.parametrize("height, width", [(64, 64), (63, 63), (64, 63), (1, 1)])
def test_mp4_of_any_size_is_written_whole_with_odd_sides_padded(tmp_path, height, width):
  path = tmp_path / "v.mp4"
  video_io.write_video(str(path), gray_video(4, height, width))
  frames = read_back(path)
  assert frames.shape == (4, height + height % 2, width + width % 2, 3)
  assert np.abs(frames.astype(int) - 128).max() <= 2
  assert os.listdir(tmp_path) == ["v.mp4"]


def test_gif_keeps_every_frame(tmp_path):
  video = np.stack([np.full((5, 7, 3), value, np.uint8) for value in (0, 255, 0)])
  video_io.write_video(str(tmp_path / "v.gif"), video)
  assert read_back(tmp_path / "v.gif").shape == (3, 5, 7, 3)


@pytest.mark.parametrize("quantizer", sorted(video_io.QUANTIZERS))
def test_each_gif_quantizer_keeps_the_moving_digits_within_a_few_levels(tmp_path, quantizer):
  video = synthetic.moving_digits_clip(0, 0)
  path = tmp_path / "v.gif"
  path.write_bytes(video_io.encode_gif(video, quantizer=quantizer))
  # Measured: 3.1 levels for both on this clip; 4.7 and 5.4 on four clips side by side.
  assert np.abs(read_back(path).astype(int) - video).mean() < 8


def test_the_gif_quantizers_choose_different_palettes():
  video = synthetic.moving_digits_clip(0, 1)
  encoded = {name: video_io.encode_gif(video, quantizer=name) for name in video_io.QUANTIZERS}
  assert len(set(encoded.values())) == len(video_io.QUANTIZERS)


def test_an_unknown_gif_quantizer_is_refused():
  with pytest.raises(ValueError, match="GIF quantizer 'kmeans': use one of"):
    video_io.encode_gif(gray_video(2, 4, 4), quantizer="kmeans")


def test_a_gif_at_8_fps_plays_each_frame_its_eighth_of_a_second_on_average():
  video = synthetic.moving_digits_clip(0, 0, frames=16, size=16)  # no two frames alike
  image = Image.open(io.BytesIO(video_io.encode_gif(video, fps=8)))
  durations = []
  for index in range(image.n_frames):
    image.seek(index)
    durations.append(image.info["duration"])
  assert len(durations) == 16
  assert sum(durations) == 2000  # 16 frames at 125 ms, in centiseconds
  assert set(durations) == {120, 130}


@pytest.mark.parametrize("fps", [0, -8, 101])
def test_a_gif_frame_rate_without_whole_centiseconds_is_refused(fps):
  with pytest.raises(ValueError, match=r"fps must be in \(0, 100\]"):
    video_io.encode_gif(gray_video(2, 4, 4), fps=fps)


@pytest.mark.parametrize("extension", ["gif", "mp4"])
def test_a_video_of_no_frames_is_refused_and_leaves_no_file(tmp_path, extension):
  with pytest.raises(ValueError, match="at least one pixel and frame"):
    video_io.write_video(str(tmp_path / f"v.{extension}"), gray_video(0, 8, 8))
  assert not os.listdir(tmp_path)


def test_an_encoder_failure_raises_and_leaves_no_file(tmp_path, monkeypatch):
  monkeypatch.setattr(video_io, "even_sides", lambda video: video)  # libx264 refuses odd sides
  (tmp_path / "v.mp4").write_bytes(b"old")
  with pytest.raises(RuntimeError, match="ffmpeg wrote no MP4"):
    video_io.write_video(str(tmp_path / "v.mp4"), gray_video(2, 9, 9))
  assert os.listdir(tmp_path) == ["v.mp4"] and (tmp_path / "v.mp4").read_bytes() == b"old"
