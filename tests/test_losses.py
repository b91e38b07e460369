"""GAN losses against hand-computed values (TF-GAN style).

Every loss is checked twice by the shared test: its value on a small batch, worked out by hand
below, and the same batch as one replica's share of a global batch four times larger, which must
contribute a quarter of it. The tests after it check what only some losses have.
"""

import numpy as np
import pytest
import tensorflow as tf

from relive_tf import losses


def _videos(values, shape):
  return tf.reshape(tf.constant(values, tf.float32), shape)


# name -> (loss fn(global_batch_size=...), batch size, the value worked out by hand).
LOSSES = {
  # Critic scores 1, 3 on real videos and 0.5, -0.5 on fakes: E[D(G(z))] - E[D(x)] = 0 - 2.
  "wasserstein_critic_loss": (
    lambda **kw: losses.wasserstein_critic_loss(
      tf.constant([1.0, 3.0]), tf.constant([0.5, -0.5]), **kw
    ),
    2,
    -2.0,
  ),
  # -E[D(G(z))] of scores 2, 4.
  "wasserstein_generator_loss": (
    lambda **kw: losses.wasserstein_generator_loss(tf.constant([2.0, 4.0]), **kw),
    2,
    -3.0,
  ),
  # D(x) = sum(w * x) has gradient w = (3, 4) everywhere: (||w|| - 1)^2 = (5 - 1)^2 per example.
  "gradient_penalty": (
    lambda **kw: losses.gradient_penalty(
      lambda x: tf.reduce_sum(x * tf.constant([[3.0, 4.0]]), axis=1),
      tf.ones([2, 2]),
      tf.zeros([2, 2]),
      tf.constant([0.3, 0.9]),
      **kw,
    ),
    2,
    16.0,
  ),
  # Mean |mask| per video: 0.5 and 0.5.
  "mask_l1_penalty": (
    lambda **kw: losses.mask_l1_penalty(_videos([0.0, 1.0, 0.5, 0.5], [2, 2, 1, 1, 1]), **kw),
    2,
    0.5,
  ),
  # Per-example mean squared errors (0 + 1) / 2 and (1 + 0) / 2.
  "conditioning_l2_loss": (
    lambda **kw: losses.conditioning_l2_loss(
      _videos([0.0, 1.0, 0.5, 0.5], [2, 1, 2, 1]),
      _videos([0.0, 0.0, -0.5, 0.5], [2, 1, 2, 1]),
      **kw,
    ),
    2,
    0.5,
  ),
  # Frames [2, 2, 2, 1]: a flat prediction of a left-to-right step of 1 misses its two horizontal
  # edges of 1 (mean 1) and no vertical one; the second prediction is exact: (1 + 0) / 2.
  "gradient_difference_loss": (
    lambda **kw: losses.gradient_difference_loss(
      _videos([0.0, 0.0, 0.0, 0.0, 0.2, 0.7, 0.2, 0.7], [2, 2, 2, 1]),
      _videos([0.0, 1.0, 0.0, 1.0, 0.2, 0.7, 0.2, 0.7], [2, 2, 2, 1]),
      **kw,
    ),
    2,
    0.5,
  ),
  # Video distances 0.2 and 1 over noise distance 2: ratios 0.1 and 0.5, the second capped at
  # 0.3; the loss is minus their mean.
  "diversity_loss": (
    lambda **kw: losses.diversity_loss(
      tf.zeros([2, 2, 2]),
      tf.constant([[[0.2, 0.2], [0.2, 0.2]], [[1.0] * 2] * 2]),
      tf.zeros([2, 4]),
      tf.fill([2, 4], 2.0),
      cap=0.3,
      **kw,
    ),
    2,
    -(0.1 + 0.3) / 2,
  ),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_its_hand_computed_value_and_averages_over_the_global_batch(name):
  loss, batch, expected = LOSSES[name]
  assert float(loss()) == pytest.approx(expected, rel=1e-5)
  # A replica holding this batch out of a global batch 4 times larger contributes a quarter.
  assert float(loss(global_batch_size=4 * batch)) == pytest.approx(expected / 4, rel=1e-5)


def test_gradient_penalty_of_a_quadratic_critic_on_videos():
  # D(x) = sum(x^2): gradient 2 x_hat with x_hat = alpha * real + (1 - alpha) * fake.
  real = tf.fill([2, 2, 1, 1, 1], 1.0)  # rank-5, like [batch, frames, h, w, c]
  fake = tf.zeros_like(real)
  alpha = tf.constant([0.25, 1.0])
  critic = lambda x: tf.reduce_sum(x**2, axis=[1, 2, 3, 4])
  # x_hat = alpha everywhere on 2 elements: ||2 x_hat|| = 2 * alpha * sqrt(2).
  norms = 2 * np.array([0.25, 1.0]) * np.sqrt(2)
  expected = np.mean((norms - 1) ** 2)
  assert float(losses.gradient_penalty(critic, real, fake, alpha)) == pytest.approx(expected, 1e-5)


def test_diversity_loss_stops_rewarding_at_the_cap():
  far_apart = losses.diversity_loss(
    tf.zeros([1, 4]), tf.ones([1, 4]), tf.zeros([1, 2]), tf.ones([1, 2]), cap=0.5
  )
  assert float(far_apart) == pytest.approx(-0.5)


def test_clip_weights_bounds_every_value():
  variable = tf.Variable([-1.0, -0.005, 0.0, 0.2])
  losses.clip_weights([variable], 0.01)
  np.testing.assert_allclose(variable.numpy(), [-0.01, -0.005, 0.0, 0.01])
