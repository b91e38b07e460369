"""The conditional WGAN's train step: the video WGAN's, with the photo taken from each real clip."""

import math

import tensorflow as tf

from relive_tf import losses
from relive_tf.models import cvgan
from relive_tf.training import family
from relive_tf.training import trainer as trainer_lib
from relive_tf.training import vgan as vgan_training


class ConditionalWGAN(vgan_training.VideoWGAN):
  """The video WGAN's steps with a photo-conditioned generator and critic and an L2 term.

  The photo of each example is its real clip's frame at `condition_index`; the generator makes the
  video around it and the critic scores the video beside it.
  """

  def __init__(self, *, condition_index, l2_weight, diversity_weight, diversity_cap, **kwargs):
    self.condition_index = condition_index
    self.l2_weight = l2_weight
    self.diversity_weight = diversity_weight
    self.diversity_cap = diversity_cap
    super().__init__(**kwargs)

  def photos(self, batch):
    """The conditioning photos of a batch: [b, size, size, 3] in [-1, 1]."""
    return batch["video"][:, self.condition_index]

  def fixed_samples(self, count, batch):
    """The first `count` clips of the sample batch (their photos) and noise from the seed."""
    samples = {"video": batch["video"][:count]}
    if self.generator.noise_dim:
      samples["noise"] = tf.random.stateless_normal(
        [count, self.generator.noise_dim], seed=[self.seed, 0x5A3]
      )
    return samples

  def fake_videos(self, batch, training, generator=None):
    generator = generator or self.generator
    video, mask = generator.video_and_mask(
      self.photos(batch), batch.get("noise"), training=training
    )
    return trainer_lib.float32(video), trainer_lib.float32(mask)

  def critic_scores(self, videos, batch, training):
    return trainer_lib.float32(
      self.critic(
        videos, self.photos(batch), training=training, frame_offset=self.frame_offset(batch)
      )
    )

  def generator_penalties(self, batch, fake, mask):
    penalties = super().generator_penalties(batch, fake, mask)
    penalties["conditioning_l2"] = self.l2_weight * losses.conditioning_l2_loss(
      fake[:, self.condition_index], self.photos(batch), self.global_batch_size
    )
    if self.diversity_weight:
      # A second noise per example, from the seed and this share's first example index.
      other_noise = tf.random.stateless_normal(
        tf.shape(batch["noise"]), seed=tf.stack([self.seed + 2, batch["index"][0]])
      )
      other = self.fake_videos({**batch, "noise": other_noise}, training=True)[0]
      penalties["diversity"] = self.diversity_weight * losses.diversity_loss(
        fake, other, batch["noise"], other_noise, self.diversity_cap, self.global_batch_size
      )
    return penalties

  def sample_videos(self):
    """The sample clips beside the videos made from their photos: [n, t, h, 2 * w, 3] in [-1, 1]."""
    generator = self.sampling_generator
    fake = self.fake_videos(self.sample_inputs, training=False, generator=generator)[0]
    return tf.concat([self.sample_inputs["video"], fake], axis=3)


def build_trainer(config, strategy, sample_batch=None):
  """The ConditionalWGAN of a configs/cvgan.py config (Family.build_trainer).

  Raises:
    ValueError: a negative l2 or diversity weight, a cap not above 0, diversity without noise, or
      a condition frame outside the clip.
  """
  model, train, data = config.model, config.train, config.data
  settings = vgan_training.training_settings(config, strategy, sample_batch)
  if train.l2_weight < 0:
    raise ValueError(f"train.l2_weight is {train.l2_weight}; it must be 0 or more")
  if train.diversity_weight < 0 or not 0 < train.diversity_cap < math.inf:  # NaN: not above 0
    raise ValueError(
      f"train.diversity_weight is {train.diversity_weight} and train.diversity_cap "
      f"{train.diversity_cap}; the weight must be 0 or more and the cap above 0"
    )
  if train.diversity_weight and not model.noise_dim:
    raise ValueError(
      "train.diversity_weight rewards videos that change with the noise, but "
      "model.noise_dim is 0; give the model noise or set the weight to 0"
    )
  index = cvgan.condition_index(model.condition_frame, data.frames)

  def make_generator():
    return cvgan.ConditionalGenerator(
      model.noise_dim,
      model.encoder_widths,
      model.generator_widths,
      data.frames,
      data.size,
      two_stream=model.two_stream,
      skip_connections=model.skip_connections,
      upsample=model.upsample,
    )

  networks = vgan_training.build_networks(
    strategy, model, settings, make_generator, cvgan.ConditionalCritic
  )
  return ConditionalWGAN(
    condition_index=index,
    l2_weight=train.l2_weight,
    diversity_weight=train.diversity_weight,
    diversity_cap=train.diversity_cap,
    **networks,
    **settings,
  )


FAMILY = family.Family(
  name="cvgan",
  title="conditional WGAN",
  config="configs/cvgan.py",
  build_trainer=build_trainer,
  # Workdirs saved before these keys were trained without what they switch on.
  added_keys={
    **vgan_training.GAN_ADDED_KEYS,
    "model.skip_connections": False,
    "train.diversity_weight": 0.0,
    "train.diversity_cap": 0.1,
  },
  shape_keys=vgan_training.GAN_SHAPE_KEYS,
)
