"""The fusible LeakyReLU: Keras's outputs and gradients, and a train step graph that grappler's
remapper optimizes whole."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from relive_tf.models import activations

import helpers


def _score_and_r1(convolution, activation, videos, weights):
  """A critic-like score of convolution then activation, its input gradient, and the gradients of
  the R1 penalty (the input gradient's squared norm) toward the convolution's weights."""
  with tf.GradientTape() as outer:
    with tf.GradientTape() as inner:
      inner.watch(videos)
      score = tf.reduce_sum(weights * activation(convolution(videos)))
    input_gradient = inner.gradient(score, videos)
    penalty = tf.reduce_sum(tf.square(input_gradient))
  return score, input_gradient, outer.gradient(penalty, convolution.trainable_weights)


def test_the_fusible_leaky_relu_has_keras_outputs_and_first_and_second_gradients():
  rng = np.random.default_rng(0)
  videos = tf.constant(rng.normal(size=[2, 8, 16, 16, 3]), tf.float32)
  weights = tf.constant(rng.normal(size=[2, 4, 8, 8, 5]), tf.float32)
  convolution = keras.layers.Conv3D(5, 4, strides=2, padding="same")
  convolution.build(videos.shape)
  convolution.set_weights([rng.normal(scale=0.2, size=w.shape) for w in convolution.get_weights()])
  keras_layer, fusible = keras.layers.LeakyReLU(0.2), activations.FusibleLeakyReLU(0.2)
  step = tf.function(_score_and_r1)
  (score, input_gradient, r1), (score_2, input_gradient_2, r1_2) = (
    step(convolution, activation, videos, weights) for activation in (keras_layer, fusible)
  )
  np.testing.assert_allclose(score_2, score, rtol=1e-6)
  np.testing.assert_allclose(input_gradient_2, input_gradient, rtol=1e-6, atol=1e-6)
  for want, got in zip(r1, r1_2):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
  assert np.abs(r1[0]).max() > 0  # the kernel's R1 gradient is a real comparison


@pytest.mark.parametrize("model_type", ["vgan", "cvgan"])
def test_the_train_step_graph_keeps_the_remappers_fusions(tmp_path, model_type):
  # The remapper reports a rewrite it had to undo in TensorFlow's C++ log (once a process, so in a
  # process of its own), then runs the function with none of its fusions.
  done = helpers.run_cli(
    "train",
    f"--config=configs/{model_type}.py:tiny",
    f"--workdir={tmp_path}",
    "--config.train.num_steps=1",
    "--verbosity=1",  # TensorFlow's log too
    cwd=helpers.REPO,
  )
  assert done.returncode == 0, done.stderr[-2000:]
  assert "oneDNN custom operations are on" in done.stderr  # TensorFlow's C++ log is shown
  assert "remapper failed" not in done.stderr
