"""The library refuses more than relive_tf.limits allows one command to make, before reading any
workdir (the CLI's flags refuse it first; these are the library's own checks; predict's is in
test_lstm.py)."""

import pytest

from relive_tf import limits
from relive_tf.gallery import build
from relive_tf.inference import generate
from relive_tf.inference import relive

CASES = [
  (
    lambda n, tmp: generate.generate(str(tmp / "w"), n, str(tmp / "o")),
    limits.GENERATED_VIDEOS,
    "ask for 1 to 10000 videos",
  ),
  (
    lambda n, tmp: relive.relive(str(tmp / "w"), "photo.png", str(tmp / "o.gif"), num=n),
    limits.RELIVED_VIDEOS,
    "make 1 to 64 videos from one photo",
  ),
  (
    lambda n, tmp: build.build_gallery([str(tmp / "w")], str(tmp / "o"), [], num_videos=n),
    limits.GALLERY_VIDEOS,
    "ask for 1 to 64 videos per workdir",
  ),
]


@pytest.mark.parametrize(("make", "most", "message"), CASES)
def test_one_past_the_limit_and_zero_are_refused_by_the_library(make, most, message, tmp_path):
  for num in (0, most + 1):
    with pytest.raises(ValueError, match=f"num is {num}; {message}"):
      make(num, tmp_path)
  assert not (tmp_path / "o").exists() and not (tmp_path / "o.gif").exists()
