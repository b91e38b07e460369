"""Shapes and layer names of the video WGAN's networks at the poster's and the tiny sizes."""

import numpy as np
import pytest

from relive_tf.models import vgan


@pytest.mark.parametrize("variant", ["default", "tiny"])
def test_generator_and_critic_shapes(make_config, variant):
  model = make_config("vgan", variant).model
  generator = vgan.VideoGenerator(model.noise_dim, model.generator_widths, 32, 64)
  noise = np.random.default_rng(0).normal(size=(2, model.noise_dim)).astype(np.float32)
  foreground, mask, background = generator.streams(noise)
  video = generator(noise)
  assert generator.latent_code(noise).shape == (2, 2, 4, 4, model.generator_widths[0])
  assert foreground.shape == (2, 32, 64, 64, 3) and video.shape == (2, 32, 64, 64, 3)
  assert mask.shape == (2, 32, 64, 64, 1) and background.shape == (2, 64, 64, 3)
  assert np.all(np.abs(video) <= 1.0) and np.all((mask >= 0) & (mask <= 1))
  critic = vgan.VideoCritic(model.critic_widths, model.critic_norm)
  assert critic(video).shape == (2,)


def test_default_latent_code_is_the_posters(make_config):
  config = make_config("vgan", "default")
  assert vgan.latent_shape(
    config.data.frames, config.data.size, config.model.generator_widths[0]
  ) == [2, 4, 4, 512]


def test_video_is_mask_blend_of_the_streams(make_config):
  model = make_config("vgan", "tiny").model
  generator = vgan.VideoGenerator(model.noise_dim, model.generator_widths, 32, 64)
  noise = np.ones((1, model.noise_dim), np.float32)
  foreground, mask, background = generator.streams(noise)
  expected = mask * foreground + (1 - mask) * background[:, None]
  np.testing.assert_allclose(generator(noise), expected, atol=1e-6)


def test_one_stream_generator_has_no_background(make_config):
  model = make_config("vgan", "tiny").model
  generator = vgan.VideoGenerator(model.noise_dim, model.generator_widths, 32, 64, two_stream=False)
  assert generator(np.zeros((1, model.noise_dim), np.float32)).shape == (1, 32, 64, 64, 3)
  assert not any("background_stream" in v.path for v in generator.weights)


def test_layer_names_read_like_the_poster(make_config):
  model = make_config("vgan", "tiny").model
  generator = vgan.VideoGenerator(model.noise_dim, model.generator_widths, 32, 64)
  critic = vgan.VideoCritic(model.critic_widths)
  critic(generator(np.zeros((1, model.noise_dim), np.float32)))
  paths = {v.path for v in generator.weights + critic.weights}
  assert "generator/noise_up/kernel" in paths
  assert "generator/foreground_stream/deconv1/kernel" in paths
  assert "generator/background_stream/deconv1/kernel" in paths
  assert {f"discriminator/disc{i}/kernel" for i in range(1, 6)} <= paths


def test_clip_length_must_fit_the_latent_code():
  with pytest.raises(ValueError, match="multiples of 16"):
    vgan.latent_shape(frames=20, size=64, channels=8)
