"""tools/readme_strip.py: the README's GIF strip of real, generated, relived and predicted clips."""

import importlib.util

import numpy as np
import pytest
from PIL import Image

from relive_tf.training import inputs

import helpers

_FRAMES, _SIZE, _SCALE = 16, 32, 2
# Tiny 32x32 workdirs trained for two steps; the predictor on 6-frame clips rolls out past them.
TINY = dict(data__frames=_FRAMES, data__size=_SIZE, train__num_steps=2, train__batch_size=2)
GAN = dict(TINY, train__critic_steps=1, train__num_samples=2)
LSTM = dict(TINY, data__frames=6, train__context_frames=3, train__num_samples=2)


def _strip_module():
  path = helpers.REPO / "tools" / "readme_strip.py"
  spec = importlib.util.spec_from_file_location("readme_strip", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(name="strip", scope="module")
def strip_fixture():
  return _strip_module()


@pytest.fixture(name="workdirs", scope="module")
def workdirs_fixture(trained_workdir):
  return (
    trained_workdir("vgan", **GAN),
    trained_workdir("cvgan", **GAN),
    trained_workdir("lstm", **LSTM),
  )


def test_the_strip_shows_four_labelled_panels_per_row_as_long_as_the_gan_clips(strip, workdirs):
  video = strip.strip_video(*workdirs, rows=2, scale=_SCALE)
  panel, label, gap = _SIZE * _SCALE, strip.LABEL_PIXELS * _SCALE, strip.GAP_PIXELS
  assert video.shape == (_FRAMES, 2 * (label + panel) + gap, 4 * panel + 3 * gap, 3)
  for i in range(1, 4):  # white columns between the panels
    column = i * (panel + gap) - gap
    assert np.all(video[:, :, column : column + gap] == 255)
  assert np.all(video[:, label + panel : label + panel + gap] == 255)  # and between the rows
  # The first panel is the first held-out clip, scaled up, under its dark label band.
  config = helpers.restore(workdirs[0]).config
  _, clip = next(inputs.held_out_clips(config).as_numpy_iterator())
  scaled = np.repeat(np.repeat(clip, _SCALE, axis=1), _SCALE, axis=2)
  np.testing.assert_array_equal(video[:, label : label + panel, :panel], scaled)
  assert np.all(video[:, :2, :panel] == 40)


def test_the_strip_gif_is_small_and_loops_over_every_frame(strip, workdirs, tmp_path):
  video = strip.strip_video(*workdirs, rows=2, scale=_SCALE)
  out = tmp_path / "docs" / "samples.gif"
  size = strip.write_strip(str(out), video)
  assert size == out.stat().st_size < 500_000
  with Image.open(out) as gif:
    assert gif.n_frames == _FRAMES and gif.info["loop"] == 0
    gif.seek(_FRAMES - 1)
    last = np.asarray(gif.convert("RGB"), np.float32)
  # Each frame stores only what changed: drawn over the ones before, the last frame is whole.
  assert np.abs(last - video[-1]).mean() < 8


def test_a_strip_over_the_size_asked_for_is_not_written(strip, tmp_path):
  noise = np.random.default_rng(0).integers(0, 256, [8, 64, 64, 3], dtype=np.uint8)
  out = tmp_path / "samples.gif"
  with pytest.raises(ValueError, match="over the 1 KB asked for; ask for fewer --rows"):
    strip.write_strip(str(out), noise, max_kilobytes=1)
  assert not out.exists()
