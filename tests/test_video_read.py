"""Decoding videos and JPEG strips: pixels, sampling, cropping, refusals, frame counts that lie."""

import contextlib
import os
import pathlib
import re

import cv2
import numpy as np
import pytest

from relive_tf.data import video_read

from helpers import expected_frames
from helpers import ffmpeg_video
from helpers import mean_abs_error
from helpers import smooth_video
from helpers import trim_copy
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
  decoded = video_read.read_video(write_avi(tmp_path / "a.avi", source), size=16)
  assert decoded.frames.shape == (12, 16, 16, 3) and decoded.frames.dtype == np.uint8
  assert decoded.warning is None
  assert mean_abs_error(decoded.frames, expected_frames(source, 16)) < 3


def test_read_video_keeps_every_frame_step_th_frame(tmp_path):
  source = smooth_video(11, 16, 16)
  video = video_read.read_video(write_avi(tmp_path / "a.avi", source), size=16, frame_step=3).frames
  assert len(video) == 4  # frames 0, 3, 6, 9
  np.testing.assert_allclose(video[..., 2].mean(axis=(1, 2)), [20, 50, 80, 110], atol=3)


def test_read_video_stops_after_max_frames_kept(tmp_path):
  path = write_avi(tmp_path / "a.avi", smooth_video(11, 16, 16))
  whole = video_read.read_video(path, size=16).frames
  np.testing.assert_array_equal(
    video_read.read_video(path, size=16, max_frames=4).frames, whole[:4]
  )
  stepped = video_read.read_video(path, size=16, frame_step=3, max_frames=2).frames
  np.testing.assert_array_equal(stepped, whole[[0, 3]])


@pytest.mark.parametrize(
  "make, reason",
  [
    (lambda path: pathlib.Path(path).write_bytes(b""), "empty file"),
    (lambda path: pathlib.Path(path).write_text("not a video\n" * 50), "no frame could be decoded"),
    (lambda path: None, "file not found"),
  ],
)
def test_read_video_refuses_unusable_files_with_the_reason(tmp_path, make, reason):
  path = str(tmp_path / "broken.avi")
  make(path)
  with pytest.raises(video_read.UnusableVideoError, match=reason):
    video_read.read_video(path, size=16)


def test_a_cut_video_gives_the_frames_that_decode_with_a_warning_quoting_ffmpeg(tmp_path):
  path = truncate(write_avi(tmp_path / "cut.avi", smooth_video(20, 16, 16)), 0.6)
  decoded = video_read.read_video(path, size=16)
  assert 0 < len(decoded.frames) < 20
  assert decoded.warning.startswith("cut or damaged (FFmpeg: ")
  assert decoded.warning.endswith(
    f"used the {len(decoded.frames)} frames that decoded of the 20 its header lists"
  )


def test_a_cut_videos_warning_counts_the_frames_kept_at_a_frame_step(tmp_path):
  # It said "used the N frames that decoded", counting the frames frame_step drops.
  path = truncate(write_avi(tmp_path / "cut.avi", smooth_video(20, 16, 16)), 0.6)
  decoded = video_read.read_video(path, size=16, frame_step=2)
  kept = len(decoded.frames)
  grabbed = int(re.search(rf"used the {kept} kept of the (\d+) frames that", decoded.warning)[1])
  assert grabbed in (2 * kept - 1, 2 * kept)


def test_a_warning_names_the_header_count_only_when_the_stream_ended_short(tmp_path, monkeypatch):
  @contextlib.contextmanager
  def ffmpeg_complained():
    yield ["Invalid data found when processing input"]

  frames = [np.zeros((16, 16, 3), np.uint8)] * 2
  monkeypatch.setattr(video_read, "_ffmpeg_errors", ffmpeg_complained)
  monkeypatch.setattr(video_read, "_decode_frames", lambda *args: (frames, 2, 20))
  path = write_avi(tmp_path / "v.avi", smooth_video(4, 16, 16))
  stopped = video_read.read_video(path, size=16, max_frames=2).warning
  ended = video_read.read_video(path, size=16).warning
  assert stopped.endswith("used the 2 frames that decoded")
  assert ended.endswith("used the 2 frames that decoded of the 20 its header lists")


def test_a_cut_mp4_without_its_index_names_ffmpegs_reason(tmp_path):
  path = truncate(ffmpeg_video(tmp_path / "cut.mp4", smooth_video(30, 48, 64)), 0.6)
  with pytest.raises(video_read.UnusableVideoError, match=r"\(FFmpeg: moov atom not found\)"):
    video_read.read_video(path, size=16)


@pytest.fixture(name="gop100", scope="module")
def gop100_fixture(tmp_path_factory):
  """(source frames [100, 48, 64, 3], path of their trim_copy)."""
  source = smooth_video(100, 48, 64)
  return source, trim_copy(tmp_path_factory.mktemp("gop100") / "trim_copy.mp4", source)


def test_a_stream_copy_trim_gives_the_frames_every_player_shows(gop100):
  source, path = gop100
  capture = cv2.VideoCapture(path)
  assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 100  # what the header claims
  capture.release()
  decoded = video_read.read_video(path, size=16)
  assert len(decoded.frames) == 60 and decoded.warning is None
  assert mean_abs_error(decoded.frames, expected_frames(source[40:], 16)) < 4


_VFR = ("-vf", "setpts='if(lt(N,20),N/30,20/30+(N-20)*0.2)/TB'", "-fps_mode", "vfr")


@pytest.mark.parametrize(
  "name, output, inputs",
  [
    # Case 08: 20 frames 1/30 s apart, then 20 frames 0.2 s apart: OpenCV estimates 135 frames.
    ("vfr.mkv", _VFR + ("-c:v", "libx264", "-pix_fmt", "yuv420p"), ()),
    ("vfr.webm", _VFR + ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"), ()),
    # Audio that outlasts the video (4 s against 1.6 s): the container's duration is the audio's.
    (
      "audio_longer.mkv",
      ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "libvorbis"),
      ("-f", "lavfi", "-i", "sine=frequency=440:duration=4"),
    ),
    (
      "audio_longer.webm",
      ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"),
      ("-f", "lavfi", "-i", "sine=frequency=440:duration=4"),
    ),
  ],
)
def test_every_frame_of_a_video_whose_length_is_estimated_is_used(tmp_path, name, output, inputs):
  path = ffmpeg_video(
    tmp_path / name,
    smooth_video(40, 48, 64),
    fps=30 if "vfr" in name else 25,
    output=output,
    inputs=inputs,
  )
  capture = cv2.VideoCapture(path)
  assert capture.get(cv2.CAP_PROP_FRAME_COUNT) > 60  # the estimate lies
  capture.release()
  decoded = video_read.read_video(path, size=16)
  assert len(decoded.frames) == 40 and decoded.warning is None


@pytest.mark.parametrize(
  "extension, codec",
  [
    (".mpeg", ("-c:v", "mpeg1video")),
    (".mpg", ("-c:v", "mpeg2video")),
    (".ts", ("-c:v", "libx264", "-pix_fmt", "yuv420p")),
    (".mts", ("-c:v", "libx264", "-pix_fmt", "yuv420p")),
    (".3gp", ("-c:v", "h263", "-s", "176x144")),
    (".wmv", ("-c:v", "wmv2")),
    (".flv", ("-c:v", "flv")),
    (".ogv", ("-c:v", "libtheora")),
    (".gif", ()),
  ],
)
def test_containers_ffmpeg_reads_are_videos_by_their_extension(tmp_path, extension, codec):
  assert extension in video_read.VIDEO_EXTENSIONS
  path = ffmpeg_video(tmp_path / f"clip{extension}", smooth_video(12, 48, 64), output=codec)
  assert len(video_read.read_video(path, size=16).frames) == 12


def test_a_file_name_that_is_not_utf8_is_read(tmp_path):
  write_avi(tmp_path / "latin1.avi", smooth_video(6, 16, 16))
  path = os.path.join(os.fsencode(tmp_path), b"caf\xe9.avi")  # Latin-1, as unzip leaves names
  os.rename(os.fsencode(tmp_path / "latin1.avi"), path)
  for name in (path, os.fsdecode(path)):  # bytes, and str as os.listdir gives it
    assert len(video_read.read_video(name, size=16).frames) == 6


def test_a_relative_name_with_a_colon_is_a_file_not_an_ffmpeg_protocol(tmp_path, monkeypatch):
  write_avi(tmp_path / "take:2.avi", smooth_video(6, 16, 16))
  monkeypatch.chdir(tmp_path)
  assert len(video_read.read_video("take:2.avi", size=16).frames) == 6


def test_read_strip_splits_the_stacked_frames(tmp_path):
  source = smooth_video(6, 32, 32)
  decoded = video_read.read_strip(write_strip(tmp_path / "s.jpg", source), size=16, frame_step=2)
  assert decoded.frames.shape == (3, 16, 16, 3) and decoded.warning is None
  assert mean_abs_error(decoded.frames, expected_frames(source[::2], 16)) < 3


def test_read_strip_refuses_a_picture_that_is_not_a_stack_of_squares(tmp_path):
  path = tmp_path / "s.jpg"
  cv2.imwrite(str(path), np.zeros((40, 32, 3), np.uint8))
  with pytest.raises(video_read.UnusableVideoError, match="not a strip of square frames"):
    video_read.read_strip(str(path), size=16)


def test_read_strip_refuses_a_truncated_jpeg(tmp_path):
  path = truncate(write_strip(tmp_path / "s.jpg", smooth_video(4, 32, 32)), 0.7)
  with pytest.raises(video_read.UnusableVideoError, match="truncated"):
    video_read.read_strip(path, size=16)


def test_read_strip_reads_a_whole_jpeg_with_bytes_after_its_end(tmp_path):
  # Only the last 32 bytes were searched for the end marker: padding past them read as a cut.
  path = pathlib.Path(write_strip(tmp_path / "s.jpg", smooth_video(4, 32, 32)))
  path.write_bytes(path.read_bytes() + bytes(64))
  assert video_read.read_strip(str(path), size=16).frames.shape == (4, 16, 16, 3)


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
