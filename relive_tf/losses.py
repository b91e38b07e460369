"""GAN losses as pure functions, named by role: `*_critic_loss`, `*_generator_loss`, regularizers.

Each returns a scalar averaged over `global_batch_size` examples (default: the local batch), so that
under tf.distribute the replicas' losses, and hence their summed gradients, add up to the global
mean.
"""

import tensorflow as tf


def _average(per_example, global_batch_size):
  """Sum of per-example values over the global batch size (tf.nn.compute_average_loss's rule)."""
  per_example = tf.convert_to_tensor(per_example)
  if global_batch_size is None:
    return tf.reduce_mean(per_example)
  return tf.reduce_sum(per_example) / tf.cast(global_batch_size, per_example.dtype)


def _per_example(values):
  """[batch] as it is, or [batch, heads] (one score per critic) summed over the heads."""
  values = tf.convert_to_tensor(values)
  return tf.reduce_sum(values, axis=1) if values.shape.rank == 2 else values


def wasserstein_critic_loss(real_scores, fake_scores, global_batch_size=None):
  """E[D(G(z))] - E[D(x)]: the critic's maximisation of E[D(x)] - E[D(G(z))], negated.

  Arjovsky et al. 2017, "Wasserstein GAN", https://arxiv.org/abs/1701.07875.

  Args:
    real_scores: critic scores of real videos, [batch], or [batch, heads] (one per critic, summed).
    fake_scores: critic scores of generated videos, the same shape.
    global_batch_size: number of examples the mean is over (all replicas).

  Returns:
    Scalar loss; its negation estimates the Wasserstein-1 distance.
  """
  return _average(_per_example(fake_scores - real_scores), global_batch_size)


def wasserstein_generator_loss(fake_scores, global_batch_size=None):
  """-E[D(G(z))] (Arjovsky et al. 2017); also the generator's loss against a hinge critic.

  Args:
    fake_scores: [batch] or [batch, heads].
    global_batch_size: number of examples the mean is over.

  Returns:
    A scalar.
  """
  return _average(_per_example(-fake_scores), global_batch_size)


def hinge_critic_loss(real_scores, fake_scores, global_batch_size=None):
  """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]: the critic's hinge loss of SN-GAN and BigGAN.

  Lim & Ye 2017, "Geometric GAN", https://arxiv.org/abs/1705.02894; Miyato et al. 2018,
  https://arxiv.org/abs/1802.05957.

  Args:
    real_scores, fake_scores: [batch] or [batch, heads] (one per critic, summed).
    global_batch_size: number of examples the mean is over.

  Returns:
    A scalar >= 0.
  """
  per_example = tf.nn.relu(1.0 - real_scores) + tf.nn.relu(1.0 + fake_scores)
  return _average(_per_example(per_example), global_batch_size)


def logistic_critic_loss(real_scores, fake_scores, global_batch_size=None):
  """E[softplus(-D(x))] + E[softplus(D(G(z)))]: the original GAN's discriminator loss on logits.

  Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661.

  Args:
    real_scores, fake_scores: logits, [batch] or [batch, heads] (one per critic, summed).
    global_batch_size: number of examples the mean is over.

  Returns:
    A scalar >= 0.
  """
  per_example = tf.nn.softplus(-real_scores) + tf.nn.softplus(fake_scores)
  return _average(_per_example(per_example), global_batch_size)


def logistic_generator_loss(fake_scores, global_batch_size=None):
  """E[softplus(-D(G(z)))]: the non-saturating generator loss (Goodfellow et al. 2014).

  Args:
    fake_scores: logits, [batch] or [batch, heads].
    global_batch_size: number of examples the mean is over.

  Returns:
    A scalar >= 0.
  """
  return _average(_per_example(tf.nn.softplus(-fake_scores)), global_batch_size)


def r1_penalty(critic_fn, real, global_batch_size=None):
  """E[||grad_x D(x)||^2] on real data: the R1 regularizer (Mescheder et al. 2018,
  https://arxiv.org/abs/1801.04406), weighted by gamma / 2 by the caller.

  Args:
    critic_fn: maps a batch like `real` to scores [batch] or [batch, heads] (their sum is used).
    real: [batch, ...] of any rank.
    global_batch_size: number of examples the mean is over.

  Returns:
    Scalar penalty (unweighted).
  """
  with tf.GradientTape() as tape:
    tape.watch(real)
    scores = _per_example(critic_fn(real))
  gradients = tape.gradient(scores, real)
  squared_norm = tf.reduce_sum(tf.square(gradients), axis=list(range(1, real.shape.rank)))
  return _average(squared_norm, global_batch_size)


def gradient_penalty(critic_fn, real, fake, alpha, global_batch_size=None, epsilon=1e-10):
  """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = alpha * real + (1 - alpha) * fake.

  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", https://arxiv.org/abs/1704.00028.

  Args:
    critic_fn: maps a batch like `real` to scores [batch] or [batch, heads] (their sum is used).
    real, fake: [batch, ...] of any rank.
    alpha: interpolation weights ~ U[0, 1], [batch].
    global_batch_size: number of examples the mean is over.
    epsilon: keeps the norm's gradient finite at zero.

  Returns:
    Scalar penalty (unweighted).
  """
  alpha = tf.reshape(alpha, [-1] + [1] * (real.shape.rank - 1))
  interpolated = alpha * real + (1.0 - alpha) * fake
  with tf.GradientTape() as tape:
    tape.watch(interpolated)
    scores = _per_example(critic_fn(interpolated))
  gradients = tape.gradient(scores, interpolated)
  squared_norm = tf.reduce_sum(tf.square(gradients), axis=list(range(1, real.shape.rank)))
  return _average(tf.square(tf.sqrt(squared_norm + epsilon) - 1.0), global_batch_size)


def mask_l1_penalty(mask, global_batch_size=None):
  """Mean |mask| per video: makes the two-stream generator take still pixels from the background.

  Vondrick et al. 2016, "Generating Videos with Scene Dynamics", https://arxiv.org/abs/1609.02612.

  Args:
    mask: [batch, frames, height, width, 1] in [0, 1].
    global_batch_size: number of examples the mean is over.
  """
  per_example = tf.reduce_mean(tf.abs(mask), axis=list(range(1, mask.shape.rank)))
  return _average(per_example, global_batch_size)


def clip_weights(variables, clip_value):
  """Clips each variable to [-clip_value, clip_value] in place: WGAN's Lipschitz constraint."""
  for variable in variables:
    variable.assign(tf.clip_by_value(variable, -clip_value, clip_value))


def conditioning_l2_loss(generated_frame, photo, global_batch_size=None):
  """Mean squared error between the generated frame at the conditioning index and the photo.

  The conditional WGAN's reconstruction term (the poster's "L2 loss function"): it ties the video
  to the photo it was made from, as pix2pix's L1 term does (Isola et al. 2017,
  https://arxiv.org/abs/1611.07004).

  Args:
    generated_frame: the generated video's frame at the conditioning index, [batch, h, w, c].
    photo: the conditioning photo, same shape and range.
    global_batch_size: number of examples the mean is over.

  Returns:
    Scalar loss: the per-pixel mean of each example, averaged over the batch.
  """
  squared = tf.square(generated_frame - photo)
  return _average(
    tf.reduce_mean(squared, axis=list(range(1, squared.shape.rank))), global_batch_size
  )


def gradient_difference_loss(predicted, true, global_batch_size=None):
  """| |grad predicted| - |grad true| | averaged over vertical neighbours, plus the same over
  horizontal ones.

  Mathieu et al. 2016's gradient difference loss (alpha 1, https://arxiv.org/abs/1511.05440): an
  L2 loss scores a blurred edge lower than a sharp one a pixel off; this term asks the predicted
  frames for edges as strong as the true ones, where they are.

  Args:
    predicted, true: frames [batch, ..., height, width, channels], same shape and range.
    global_batch_size: number of examples the mean is over.

  Returns:
    Scalar loss in [0, 2 x the frames' range] (each average is at most the range).
  """

  def strengths(frames):
    return (
      tf.abs(frames[..., 1:, :, :] - frames[..., :-1, :, :]),
      tf.abs(frames[..., :, 1:, :] - frames[..., :, :-1, :]),
    )

  axes = list(range(1, predicted.shape.rank))
  per_example = sum(
    tf.reduce_mean(tf.abs(p - t), axis=axes)
    for p, t in zip(strengths(predicted), strengths(true), strict=True)
  )
  return _average(per_example, global_batch_size)


def diversity_loss(video_a, video_b, noise_a, noise_b, cap, global_batch_size=None):
  """-min(mean |video_a - video_b| / mean |noise_a - noise_b|, cap), per example.

  Yang et al. 2019, "Diversity-Sensitive Conditional GANs" (https://arxiv.org/abs/1901.09024): a
  conditional generator with a reconstruction term learns to ignore its noise; rewarding videos
  that move apart with their noises, up to `cap`, brings the variety back without unbounding it.

  Args:
    video_a, video_b: videos made from one input with two noises, [batch, ...].
    noise_a, noise_b: those noises, [batch, noise_dim].
    cap: the ratio above which there is no more reward.
    global_batch_size: number of examples the mean is over.

  Returns:
    Scalar loss in [-cap, 0].
  """
  axes = list(range(1, video_a.shape.rank))
  video_distance = tf.reduce_mean(tf.abs(video_a - video_b), axis=axes)
  noise_distance = tf.reduce_mean(tf.abs(noise_a - noise_b), axis=-1)
  return _average(-tf.minimum(video_distance / noise_distance, cap), global_batch_size)
