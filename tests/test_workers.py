"""Decoding in worker processes: a crashing, hanging or failing call is a reason, not the end."""

import os

import cv2
import pytest

from relive_tf.data import video_read
from relive_tf.data import workers

from helpers import smooth_video
from helpers import write_avi


def answers(pool, count):
  """The first `count` answers of a pool, by position."""
  collected = {}
  while len(collected) < count:
    collected.update((position, (result, reason)) for position, result, reason in pool.results())
  return collected


def test_a_crashing_decoder_is_that_calls_reason_and_the_pool_goes_on(tmp_path):
  path = write_avi(tmp_path / "good.avi", smooth_video(4, 16, 16))
  pool = workers.DecodingPool(1, timeout_s=60)
  try:
    while not pool.has_idle():
      pool.results()
    # OpenCV crashes on a name holding a lone surrogate (a Latin-1 name, as os.listdir gives it).
    pool.submit(0, cv2.VideoCapture, os.fsdecode(b"caf\xe9.avi"))
    assert answers(pool, 1)[0] == (None, "the decoder crashed (signal SIGSEGV) on this file")
    while not pool.has_idle():
      pool.results()
    pool.submit(1, video_read.read_video, path, size=8)
    result, reason = answers(pool, 1)[1]
    assert reason is None and result.frames.shape == (4, 8, 8, 3)
  finally:
    pool.close()


@pytest.mark.parametrize(
  "function, arguments, reason",
  [
    (video_read.read_video, ("missing.avi",), "file not found"),
    (
      int,
      ("seven",),
      "decoding failed: ValueError: invalid literal for int() with base 10: 'seven'",
    ),
  ],
)
def test_errors_of_a_call_come_back_as_its_reason(function, arguments, reason):
  pool = workers.DecodingPool(1, timeout_s=60)
  try:
    while not pool.has_idle():
      pool.results()
    kwargs = {"size": 8} if function is video_read.read_video else {}
    pool.submit(0, function, *arguments, **kwargs)
    assert answers(pool, 1)[0] == (None, reason)
  finally:
    pool.close()


def test_read_video_in_a_worker_gives_the_frames_or_raises_the_reason(tmp_path):
  path = write_avi(tmp_path / "a.avi", smooth_video(5, 16, 16))
  assert workers.read_video(path, size=8).frames.shape == (5, 8, 8, 3)
  with pytest.raises(video_read.UnusableVideoError, match="file not found"):
    workers.read_video(str(tmp_path / "missing.avi"), size=8)
