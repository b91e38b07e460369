"""GAN losses against hand-computed values."""

import numpy as np
import pytest
import tensorflow as tf

from relive_tf import losses


def test_wasserstein_losses_match_the_poster():
  real = tf.constant([1.0, 3.0])
  fake = tf.constant([0.5, -0.5])
  # Critic maximises E[D(x)] - E[D(G(z))] = 2 - 0 = 2, so its loss is -2; generator's is -E[D(G(z))].
  assert float(losses.wasserstein_critic_loss(real, fake)) == pytest.approx(-2.0)
  assert float(losses.wasserstein_generator_loss(fake)) == pytest.approx(0.0)
  assert float(losses.wasserstein_generator_loss(tf.constant([2.0, 4.0]))) == pytest.approx(-3.0)


def test_losses_average_over_the_global_batch():
  # A replica holding 2 of 8 examples contributes sum / 8.
  assert float(losses.wasserstein_critic_loss(tf.constant([1.0, 3.0]), tf.constant([0.0, 0.0]),
                                              global_batch_size=8)) == pytest.approx(-0.5)


def test_gradient_penalty_of_a_linear_critic():
  # D(x) = sum(w * x) has gradient w everywhere: penalty (||w|| - 1)^2 = (5 - 1)^2 = 16.
  weights = tf.constant([[3.0, 4.0]])
  critic = lambda x: tf.reduce_sum(x * weights, axis=1)
  penalty = losses.gradient_penalty(critic, tf.ones([2, 2]), tf.zeros([2, 2]), tf.constant([0.3, 0.9]))
  assert float(penalty) == pytest.approx(16.0, rel=1e-5)


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


def test_mask_l1_penalty_is_the_mean_mask():
  mask = tf.constant([0.0, 1.0, 0.5, 0.5], shape=[2, 2, 1, 1, 1])
  assert float(losses.mask_l1_penalty(mask)) == pytest.approx(0.5)


def test_clip_weights_bounds_every_value():
  variable = tf.Variable([-1.0, -0.005, 0.0, 0.2])
  losses.clip_weights([variable], 0.01)
  np.testing.assert_allclose(variable.numpy(), [-0.01, -0.005, 0.0, 0.01])
