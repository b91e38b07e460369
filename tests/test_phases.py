"""Transposed convolutions by phases: the same outputs and gradients as TensorFlow's own."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from relive_tf.models import phases


def _normal(rng, shape):
  return tf.constant(rng.normal(size=shape), tf.float32)


def test_the_phase_convolution_interleaved_is_the_transposed_convolution_with_its_gradients():
  rng = np.random.default_rng(0)
  features = _normal(rng, [2, 3, 5, 4, 6])  # odd sizes: every edge
  kernel = _normal(rng, [4, 4, 4, 7, 6])
  weights = _normal(rng, [2, 6, 10, 8, 7])  # each output weighted on its own
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([features, kernel])
    transposed = tf.nn.conv3d_transpose(features, kernel, weights.shape, [1, 2, 2, 2, 1], "SAME")
    phase_outputs = phases.phase_convolution(features, kernel)
    interleaved = phases.interleaved_phases(phase_outputs)
    losses = [tf.reduce_sum(weights * outputs) for outputs in (transposed, interleaved)]
  assert phase_outputs.shape == (2, 4, 6, 5, 8 * 7)
  np.testing.assert_allclose(interleaved, transposed, atol=1e-4)
  expected, actual = ([tape.gradient(loss, x) for x in (features, kernel)] for loss in losses)
  for want, got in zip(expected, actual):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def _score_and_r1(layer, videos, weights):
  """A critic-like score of the layer's LeakyReLU outputs, its input gradient, and the gradients
  of the R1 penalty (the input gradient's squared norm) toward the layer's weights."""
  with tf.GradientTape() as outer:
    with tf.GradientTape() as inner:
      inner.watch(videos)
      score = tf.reduce_sum(weights * tf.nn.leaky_relu(layer(videos), 0.2))
    input_gradient = inner.gradient(score, videos)
    penalty = tf.reduce_sum(tf.square(input_gradient))
  return score, input_gradient, outer.gradient(penalty, layer.trainable_weights)


def test_a_critic_layer_by_phases_has_conv3ds_outputs_and_first_and_second_gradients():
  rng = np.random.default_rng(1)
  videos = _normal(rng, [2, 8, 16, 16, 3])
  weights = _normal(rng, [2, 4, 8, 8, 5])
  plain = keras.layers.Conv3D(5, 4, strides=2, padding="same")
  by_phases = phases.PhaseGradientConv3D(5)
  plain.build(videos.shape)
  by_phases.build(videos.shape)
  by_phases.set_weights([w + rng.normal(scale=0.1, size=w.shape) for w in plain.get_weights()])
  plain.set_weights(by_phases.get_weights())  # a bias that is not zero
  results = [tf.function(_score_and_r1)(layer, videos, weights) for layer in (plain, by_phases)]
  (score, input_gradient, r1), (score_2, input_gradient_2, r1_2) = results
  np.testing.assert_allclose(score_2, score, rtol=1e-5)
  np.testing.assert_allclose(input_gradient_2, input_gradient, atol=1e-4)
  kernel_r1, bias_r1 = r1  # the bias moves no input gradient: LeakyReLU's slope is flat
  scale = np.abs(kernel_r1).max()
  assert scale > 0
  np.testing.assert_allclose(r1_2[0] / scale, kernel_r1 / scale, atol=1e-5)
  np.testing.assert_allclose(r1_2[1] / scale, bias_r1 / scale, atol=1e-5)


def test_an_odd_sized_input_takes_conv3ds_own_gradient():
  rng = np.random.default_rng(2)
  videos = _normal(rng, [1, 5, 6, 6, 3])
  layer = phases.PhaseGradientConv3D(4)
  with tf.GradientTape() as tape:
    tape.watch(videos)
    outputs = layer(videos)
  assert outputs.shape == (1, 3, 3, 3, 4)
  assert tape.gradient(outputs, videos).shape == videos.shape


def test_the_layer_comes_back_from_keras_serialization_and_refuses_other_shapes():
  layer = keras.layers.SpectralNormalization(phases.PhaseGradientConv3D(4, name="disc1"))
  again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
  assert isinstance(again.layer, phases.PhaseGradientConv3D)
  assert (again.layer.filters, again.layer.kernel_size) == (4, (4, 4, 4))
  for other in (dict(strides=1), dict(data_format="channels_first"), dict(groups=2)):
    with pytest.raises(ValueError, match="kernel_size 4, strides 2"):
      phases.PhaseGradientConv3D(4, **other)
