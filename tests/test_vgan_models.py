"""Shapes and layer names of the video WGAN's networks at the poster's and the tiny sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from relive_tf.models import resize_conv
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


def test_a_generator_refuses_outputs_it_does_not_make(make_config):
  model = make_config("vgan", "tiny").model
  generator = vgan.VideoGenerator(model.noise_dim, model.generator_widths, 32, 64)
  with pytest.raises(ValueError, match="outputs='stream': use one of"):
    generator(np.zeros((1, model.noise_dim), np.float32), outputs="stream")


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


@pytest.mark.parametrize("rank", [2, 3])
def test_resize_conv_equals_nearest_doubling_then_a_3_wide_convolution(rank):
  inputs = np.random.default_rng(0).normal(size=[2] + [3, 5, 4][:rank] + [6]).astype(np.float32)
  layer = resize_conv.ResizeConv(rank, 7)
  fused = keras.ops.convert_to_numpy(layer(inputs))
  doubled = (keras.layers.UpSampling3D(2) if rank == 3 else keras.layers.UpSampling2D(2))(inputs)
  conv = (keras.layers.Conv3D if rank == 3 else keras.layers.Conv2D)(7, 3, padding="same")
  conv.build(doubled.shape)
  conv.set_weights(layer.get_weights())
  np.testing.assert_allclose(fused, keras.ops.convert_to_numpy(conv(doubled)), atol=1e-5)


@pytest.mark.parametrize("upsample", vgan.UPSAMPLINGS)
def test_video_and_mask_heads_run_as_one_convolution_with_each_heads_weights(upsample):
  stream = vgan.ForegroundStream((6, 5), with_mask=True, upsample=upsample)
  code = np.random.default_rng(0).normal(size=[2, 2, 3, 3, 7]).astype(np.float32)
  stream(code)
  rng = np.random.default_rng(1)
  for weight in stream.video_head.weights + stream.mask_head.weights:  # biases start at zero
    weight.assign(rng.normal(scale=0.3, size=weight.shape))
  video, mask = stream(code)
  assert np.isfinite(video).all() and np.isfinite(mask).all()
  features = code
  for block in stream.blocks:
    features = block(features)
  np.testing.assert_allclose(video, stream.video_head(features), atol=1e-5)
  np.testing.assert_allclose(mask, stream.mask_head(features), atol=1e-5)
  assert video.shape == (2, 16, 24, 24, 3) and mask.shape == (2, 16, 24, 24, 1)
  assert [w.path for w in stream.weights][-4:] == [
    f"foreground_stream/{head}/{name}" for head in ("video", "mask") for name in ("kernel", "bias")
  ]


@pytest.mark.parametrize("upsample", vgan.UPSAMPLINGS)
def test_training_composes_video_and_mask_as_the_separate_ops_do_with_their_gradients(
  upsample, monkeypatch
):
  # In training the heads' biases, activations and the composition run as one XLA kernel.
  calls = []
  kernel = vgan.composed_heads
  monkeypatch.setattr(vgan, "composed_heads", lambda *args: calls.append(1) or kernel(*args))
  generator = vgan.VideoGenerator(4, (8, 6, 5, 4), 16, 32, upsample=upsample)
  noise = np.random.default_rng(0).normal(size=[2, 4]).astype(np.float32)
  generator.streams(noise)
  stream = generator.foreground_stream
  rng = np.random.default_rng(1)
  for weight in stream.video_head.weights + stream.mask_head.weights:  # biases start at zero
    weight.assign(rng.normal(scale=0.3, size=weight.shape))
  with tf.GradientTape(persistent=True) as tape:
    foreground, mask, background = generator.streams(noise, training=True)
    separate = vgan.compose_video(foreground, mask, background), mask
    composed = generator.video_and_mask(noise, training=True)
    losses = [tf.reduce_sum(video**2) + tf.reduce_sum(mask) for video, mask in (separate, composed)]
  assert len(calls) == 1  # the composed video came from the kernel, the separate one did not
  for expected, actual in zip(separate, composed):
    np.testing.assert_allclose(actual, expected, atol=1e-5)
  assert np.ptp(composed[1]) > 0.1  # the mask is not flat: it takes part in the video
  gradients = [tape.gradient(loss, generator.trainable_weights) for loss in losses]
  for expected, actual in zip(*gradients):
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(actual / scale, expected / scale, atol=1e-4)


def test_resize_upsampling_answers_a_constant_code_with_a_constant_video():
  # The checkerboard of free transposed convolutions: a constant input gives a patterned output.
  code = np.ones([1, 2, 4, 4, 5], np.float32)
  resized = keras.ops.convert_to_numpy(vgan.upsampling_conv(3, 2, "resize", "up")(code))
  transposed = keras.ops.convert_to_numpy(vgan.upsampling_conv(3, 2, "transposed", "up")(code))
  inner = (slice(None), slice(1, -1), slice(1, -1), slice(1, -1))  # away from the zero padding
  assert np.ptp(resized[inner], axis=(1, 2, 3)).max() < 1e-5
  assert np.ptp(transposed[inner], axis=(1, 2, 3)).min() > 1e-3


def test_frame_critic_adds_a_second_score_per_video_from_the_chosen_frames():
  critic = vgan.VideoCritic((4, 8), "spectral", frame_critic_widths=(4, 8), frames_judged=4)
  videos = np.random.default_rng(0).uniform(-1, 1, [2, 8, 16, 16, 3]).astype(np.float32)
  scores = keras.ops.convert_to_numpy(critic(videos, frame_offset=1))
  assert scores.shape == (2, 2)
  changed = videos.copy()
  changed[:, 0] = 0.0  # frame 0 is not among frames 1, 3, 5, 7
  again = keras.ops.convert_to_numpy(critic(changed, frame_offset=1))
  np.testing.assert_allclose(again[:, 1], scores[:, 1], atol=1e-6)
  assert np.all(np.abs(again[:, 0] - scores[:, 0]) > 0)


def test_stacked_frame_critic_judges_the_frames_together_so_their_order_matters():
  keras.utils.set_random_seed(0)
  videos = np.random.default_rng(0).uniform(-1, 1, [2, 8, 16, 16, 3]).astype(np.float32)
  swapped = videos.copy()
  swapped[:, [1, 3]] = videos[:, [3, 1]]  # two of the judged frames 1, 3, 5, 7 trade places
  scores = {}
  for stacked in (False, True):
    critic = vgan.VideoCritic(
      (4, 8), "none", frame_critic_widths=(4, 8), frames_judged=4, frames_stacked=stacked
    )
    before = keras.ops.convert_to_numpy(critic(videos, frame_offset=1))[:, 1]
    after = keras.ops.convert_to_numpy(critic(swapped, frame_offset=1))[:, 1]
    scores[stacked] = np.abs(after - before).max()
  assert scores[False] < 1e-6  # one frame at a time: a mean over frames
  assert scores[True] > 1e-4


def test_spectral_critic_layers_have_a_largest_singular_value_of_one_after_training_calls():
  critic = vgan.VideoCritic((4, 8), "spectral")
  videos = np.random.default_rng(0).uniform(-1, 1, [2, 8, 16, 16, 3]).astype(np.float32)
  for _ in range(30):  # power iterations run in training calls
    critic(videos, training=True)
  layer = critic.blocks[0]
  kernel = keras.ops.convert_to_numpy(layer.layer.kernel)
  sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
  assert abs(sigma - 1.0) < 0.05
