"""relive_tf.metrics: the distances, PSNR/SSIM, the I3D plumbing and the built-in features."""

import os
import shutil

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from relive_tf.data import synthetic
from relive_tf.metrics import digit_labels
from relive_tf.metrics import feature_network
from relive_tf.metrics import features
from relive_tf.metrics import frechet
from relive_tf.metrics import image_quality
from relive_tf.metrics import network_files


def _scipy_frechet_distance(features_a, features_b):
  """The FID reference computation (Heusel et al.'s TTUR code): scipy sqrtm of the product."""
  mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
  covariance_a = np.cov(features_a, rowvar=False)
  covariance_b = np.cov(features_b, rowvar=False)
  covariance_mean = scipy.linalg.sqrtm(covariance_a @ covariance_b).real
  return (
    np.sum((mean_a - mean_b) ** 2)
    + np.trace(covariance_a)
    + np.trace(covariance_b)
    - 2 * np.trace(covariance_mean)
  )


def _gaussian_features(rng, num_samples, dims, shift=0.0):
  mixing = rng.normal(size=(dims, dims)) / np.sqrt(dims)
  return rng.normal(size=(num_samples, dims)) @ mixing + shift


# Frechet distance.


def test_frechet_distance_matches_scipy_reference_on_random_gaussians():
  rng = np.random.default_rng(0)
  features_a = _gaussian_features(rng, 500, 16)
  features_b = _gaussian_features(rng, 400, 16, shift=0.3)
  expected = _scipy_frechet_distance(features_a, features_b)
  assert frechet.frechet_distance(features_a, features_b) == pytest.approx(expected, abs=1e-3)


def test_frechet_distance_of_identical_sets_is_zero():
  features_a = _gaussian_features(np.random.default_rng(1), 300, 32)
  assert frechet.frechet_distance(features_a, features_a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
  mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
  variance_a, variance_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
  expected = np.sum((mean_a - mean_b) ** 2) + np.sum(
    (np.sqrt(variance_a) - np.sqrt(variance_b)) ** 2
  )  # 4.25 + 4 + 1 = 9.25
  assert frechet.frechet_distance_from_statistics(
    mean_a, np.diag(variance_a), mean_b, np.diag(variance_b)
  ) == pytest.approx(expected, abs=1e-9)


def test_feature_statistics_are_float64_mean_and_unbiased_covariance():
  features_a = np.random.default_rng(2).normal(size=(50, 4)).astype(np.float32)
  mean, covariance = frechet.feature_statistics(features_a)
  assert mean.dtype == covariance.dtype == np.float64
  np.testing.assert_allclose(mean, features_a.astype(np.float64).mean(axis=0))
  np.testing.assert_allclose(covariance, np.cov(features_a.astype(np.float64), rowvar=False))


def test_frechet_distance_of_rank_deficient_features_equals_distance_in_their_subspace():
  rng = np.random.default_rng(3)
  features_a = _gaussian_features(rng, 200, 3)
  features_b = _gaussian_features(rng, 200, 3, shift=0.5)
  rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
  embed = lambda x: np.pad(x, [(0, 0), (0, 13)]) @ rotation  # 3-d data in 16 dims, rank 3
  distance = frechet.frechet_distance(embed(features_a), embed(features_b))
  assert distance == pytest.approx(frechet.frechet_distance(features_a, features_b), abs=1e-6)


def test_frechet_distance_is_finite_with_fewer_samples_than_dims():
  rng = np.random.default_rng(4)
  distance = frechet.frechet_distance(rng.normal(size=(10, 64)), rng.normal(size=(12, 64)) + 1.0)
  assert np.isfinite(distance)
  assert distance > 64.0 * 0.9  # the mean shift alone contributes 64


@pytest.mark.parametrize(
  "features_a, features_b, message",
  [
    (np.zeros((1, 4)), np.zeros((5, 4)), "at least 2 clips"),
    (np.zeros((5, 4)), np.zeros((5, 3)), "same feature network"),
    (np.full((5, 4), np.nan), np.zeros((5, 4)), "not finite"),
  ],
)
def test_distances_reject_unusable_feature_sets(features_a, features_b, message):
  for distance in (frechet.frechet_distance, frechet.kernel_distance):
    with pytest.raises(ValueError, match=message):
      distance(features_a, features_b)


# Kernel distance.


def test_kernel_distance_equals_unbiased_mmd_written_out():
  rng = np.random.default_rng(5)
  features_a, features_b = rng.normal(size=(5, 3)), rng.normal(size=(7, 3)) + 0.5
  kernel = lambda x, y: (x @ y / 3 + 1) ** 3
  within_a = np.mean(
    [kernel(x, y) for i, x in enumerate(features_a) for j, y in enumerate(features_a) if i != j]
  )
  within_b = np.mean(
    [kernel(x, y) for i, x in enumerate(features_b) for j, y in enumerate(features_b) if i != j]
  )
  between = np.mean([kernel(x, y) for x in features_a for y in features_b])
  expected = within_a + within_b - 2 * between
  assert frechet.kernel_distance(features_a, features_b) == pytest.approx(expected, rel=1e-9)


def test_kernel_distance_is_near_zero_for_one_distribution_and_grows_with_a_shift():
  rng = np.random.default_rng(6)
  reference = rng.normal(size=(400, 8))
  same = frechet.kernel_distance(reference, rng.normal(size=(400, 8)))
  shifted = frechet.kernel_distance(reference, rng.normal(size=(400, 8)) + 0.5)
  assert abs(same) < 0.05 * shifted


# PSNR and SSIM.


def test_psnr_of_a_constant_error_in_float_range():
  target = np.zeros([2, 3, 16, 16, 3], np.float32)
  # 0.2 in [-1, 1] is 0.1 in [0, 1]: MSE 0.01, PSNR 20 dB.
  np.testing.assert_allclose(
    image_quality.frame_psnr(target + 0.2, target), np.full([2, 3], 20.0), rtol=1e-5
  )


def test_psnr_of_a_constant_error_in_uint8():
  target = np.zeros([1, 2, 16, 16, 3], np.uint8)
  expected = 10 * np.log10(1 / 0.2**2)  # 51 / 255 = 0.2
  np.testing.assert_allclose(
    image_quality.frame_psnr(target + 51, target), np.full([1, 2], expected), rtol=1e-5
  )


def test_uint8_and_float_videos_of_the_same_frames_match():
  uint8_video = np.random.default_rng(7).integers(0, 256, [1, 2, 16, 16, 3]).astype(np.uint8)
  float_video = uint8_video.astype(np.float32) / 127.5 - 1.0
  np.testing.assert_allclose(image_quality.frame_mse(uint8_video, float_video), 0.0, atol=1e-12)
  assert np.all(
    image_quality.frame_psnr(uint8_video, float_video) > 100.0
  )  # float32 round-off only
  assert np.all(np.isinf(image_quality.frame_psnr(uint8_video, uint8_video)))
  np.testing.assert_allclose(image_quality.frame_ssim(uint8_video, float_video), 1.0, atol=1e-5)


def test_ssim_of_two_constant_frames_is_the_luminance_term():
  # Constant frames have no variance, so SSIM = (2 mx my + C1) / (mx^2 + my^2 + C1), C1 = 0.01^2.
  dark = np.full([1, 1, 16, 16, 3], 0.25 * 2 - 1, np.float32)
  mid = np.full([1, 1, 16, 16, 3], 0.5 * 2 - 1, np.float32)
  expected = (2 * 0.5 * 0.25 + 1e-4) / (0.5**2 + 0.25**2 + 1e-4)
  # rtol: tf.image.ssim's contrast term subtracts float32 means, off by ~1e-4 on constant frames.
  np.testing.assert_allclose(image_quality.frame_ssim(mid, dark), [[expected]], rtol=1e-3)


def test_image_quality_rejects_mismatched_shapes():
  with pytest.raises(ValueError, match="same shape"):
    image_quality.frame_psnr(np.zeros([1, 2, 16, 16, 3]), np.zeros([1, 3, 16, 16, 3]))


def test_ssim_rejects_frames_smaller_than_its_window():
  with pytest.raises(ValueError, match="at least 11x11"):
    image_quality.frame_ssim(np.zeros([1, 2, 8, 8, 3]), np.zeros([1, 2, 8, 8, 3]))


# I3D plumbing.


def _save_stand_in_i3d(path, batch_size=None, frame_size=224, output_name="logits"):
  """A SavedModel shaped like I3D: [batch, frames, 224, 224, 3] -> [mean, min, max, frames] each."""

  class StandIn(tf.Module):
    @tf.function(
      input_signature=[tf.TensorSpec([batch_size, None, frame_size, frame_size, 3], tf.float32)]
    )
    def embed(self, videos):
      frames = tf.cast(tf.fill([tf.shape(videos)[0]], tf.shape(videos)[1]), tf.float32)
      return {
        output_name: tf.stack(
          [
            tf.reduce_mean(videos, axis=[1, 2, 3, 4]),
            tf.reduce_min(videos, axis=[1, 2, 3, 4]),
            tf.reduce_max(videos, axis=[1, 2, 3, 4]),
            frames,
          ],
          axis=1,
        )
      }

  module = StandIn()
  tf.saved_model.save(module, str(path), signatures={"serving_default": module.embed})
  return str(path)


def test_i3d_preprocess_uses_the_reference_bilinear_grid_and_range():
  # One 1x2 frame, black | white. TF1 resize_bilinear samples column j at source x = j * 2 / 224.
  video = np.array([0, 255], np.uint8).reshape([1, 1, 1, 2, 1]).repeat(3, axis=-1)
  resized = features.i3d_preprocess(video).numpy()
  assert resized.shape == (1, 1, 224, 224, 3)
  row = resized[0, 0, 0, :, 0]
  np.testing.assert_allclose(row[[0, 56, 112, 223]], [-1.0, 0.0, 1.0, 1.0], atol=1e-6)


def test_i3d_features_feed_the_saved_model_resized_and_scaled_clips_in_order(tmp_path):
  extractor = features.I3DFeatures(_save_stand_in_i3d(tmp_path / "i3d"), batch_size=4)
  levels = np.arange(10, dtype=np.uint8) * 25  # one gray level per clip, 10 clips = 3 batches
  videos = np.ones([10, 5, 32, 32, 3], np.uint8) * levels[:, None, None, None, None]
  embedded = extractor(videos)
  assert embedded.dtype == np.float64 and embedded.shape == (10, 4)
  np.testing.assert_allclose(embedded[:, 0], 2 * levels.astype(np.float64) / 255 - 1, atol=1e-5)
  np.testing.assert_allclose(embedded[:, 3], 5.0)


def test_i3d_features_pad_the_last_batch_of_a_fixed_batch_signature(tmp_path):
  extractor = features.I3DFeatures(_save_stand_in_i3d(tmp_path / "i3d", batch_size=16))
  videos = np.linspace(-1, 1, 5, dtype=np.float32)[:, None, None, None, None] * np.ones(
    [5, 2, 8, 8, 3]
  )
  np.testing.assert_allclose(extractor(videos)[:, 0], np.linspace(-1, 1, 5), atol=1e-5)


def test_i3d_rejects_a_missing_path(tmp_path):
  with pytest.raises(ValueError, match="is not a directory"):
    features.I3DFeatures(str(tmp_path / "missing"))


def test_i3d_rejects_a_directory_that_is_not_a_saved_model(tmp_path):
  with pytest.raises(ValueError, match="not a loadable TensorFlow SavedModel"):
    features.I3DFeatures(str(tmp_path))


def test_i3d_rejects_a_signature_that_does_not_take_224x224_clips(tmp_path):
  with pytest.raises(ValueError, match=r"expected float32 \[batch, frames, 224, 224, 3\]"):
    features.I3DFeatures(_save_stand_in_i3d(tmp_path / "i3d", frame_size=112))


# Built-in feature network.


@pytest.mark.parametrize("size", [32, 64])
def test_digit_tracks_replay_what_the_synthetic_clips_draw(size):
  glyphs = synthetic._digit_glyphs(size)  # the glyphs the clips are drawn with

  def box(track, frame):
    """[top, left, bottom, right] of a digit at frame 0 or 1 (a bounce clips the first move)."""
    height, width = glyphs[track.digit].shape
    position = (
      track.position
      if frame == 0
      else np.clip(track.position + track.velocity, 0, [size - height, size - width])
    )
    top, left = np.round(position).astype(int)
    return top, left, top + height, left + width

  checked = 0
  for index in range(20):
    clip = synthetic.moving_digits_clip(3, index, frames=2, size=size)
    tracks = digit_labels.digit_tracks(3, index, size=size)
    for number, track in enumerate(tracks):
      for frame in (0, 1):
        top, left, bottom, right = box(track, frame)
        opaque = glyphs[track.digit] == 1.0
        for later in tracks[number + 1 :]:  # a digit drawn later may cover this one
          later_top, later_left, later_bottom, later_right = box(later, frame)
          opaque[
            max(later_top - top, 0) : max(later_bottom - top, 0),
            max(later_left - left, 0) : max(later_right - left, 0),
          ] = False
        drawn = clip[frame, top:bottom, left:right][opaque]
        np.testing.assert_array_equal(
          drawn, np.broadcast_to(np.round(track.color * 255), drawn.shape)
        )
        checked += len(drawn)
  assert checked > 200  # enough opaque glyph pixels were compared to pin digit, color and motion


def test_clip_labels_mark_each_drawn_digit_and_start_direction():
  tracks = digit_labels.digit_tracks(0, 7)
  digits, directions = digit_labels.clip_labels(0, 7)
  assert set(np.flatnonzero(digits)) == {track.digit for track in tracks}
  assert set(np.flatnonzero(directions)) == {
    2 * (track.velocity[0] > 0) + (track.velocity[1] > 0) for track in tracks
  }


_FRAMES, _SIZE = 8, 32


@pytest.fixture(scope="session")
def features_dir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("feature_network"))
  feature_network.train_feature_network(
    path,
    frames=_FRAMES,
    size=_SIZE,
    width=8,
    embedding_dim=32,
    num_steps=200,
    batch_size=8,
    eval_clips=16,
  )
  return path


def _real_clips(start, count):
  return np.stack(
    [
      synthetic.moving_digits_clip(11, index, frames=_FRAMES, size=_SIZE)
      for index in range(start, start + count)
    ]
  )


def test_builtin_distance_ranks_real_then_slightly_corrupted_then_noise(features_dir):
  extract = features.BuiltinFeatures(features_dir)
  rng = np.random.default_rng(9)
  reference = extract(_real_clips(0, 128))
  real = _real_clips(128, 128)
  corrupted = np.clip(real / 127.5 - 1 + rng.normal(0, 0.2, real.shape), -1, 1).astype(np.float32)
  noise = rng.uniform(-1, 1, real.shape).astype(np.float32)
  distances = [
    frechet.frechet_distance(reference, extract(videos)) for videos in (real, corrupted, noise)
  ]
  assert distances[0] < distances[1] < distances[2]


def test_builtin_features_reject_clips_of_another_shape(features_dir):
  extract = features.BuiltinFeatures(features_dir)
  with pytest.raises(ValueError, match="was trained on clips"):
    extract(np.zeros([2, _FRAMES, 2 * _SIZE, 2 * _SIZE, 3], np.uint8))


def test_builtin_features_name_the_missing_network(tmp_path):
  with pytest.raises(ValueError, match="no built-in feature network"):
    features.BuiltinFeatures(str(tmp_path))


def test_reports_name_a_shipped_network_by_its_place_in_the_package(tmp_path, monkeypatch):
  """The same on every machine and from any folder; a copy elsewhere by the path given."""
  copy = shutil.copytree(feature_network.SHIPPED, tmp_path / "feature_network")

  assert network_files.shown(feature_network.SHIPPED) == "relive_tf/assets/feature_network"
  monkeypatch.chdir(os.path.dirname(network_files.ASSETS))
  assert network_files.shown("assets/feature_network/") == "relive_tf/assets/feature_network"
  assert network_files.shown(str(copy)) == str(copy)
  assert "relive_tf/assets" not in features.BuiltinFeatures(str(copy)).description
