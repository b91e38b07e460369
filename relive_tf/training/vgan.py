"""The video WGAN's trainer: critic_steps critic updates, then one generator update.

The conditional WGAN subclasses VideoWGAN and overrides the three hooks `fake_videos`,
`critic_scores` and `generator_penalties`; the steps themselves are shared.
"""

import tensorflow as tf
from absl import logging

from relive_tf import losses
from relive_tf.models import vgan
from relive_tf.training import family
from relive_tf.training import trainer as trainer_lib

# wgan: weight clipping (the poster's); wgan-gp: gradient penalty; hinge: SN-GAN's; logistic: the
# original non-saturating GAN loss.
LOSSES = ("wgan", "wgan-gp", "hinge", "logistic")


class VideoWGAN:
  """Generator, critic, their optimizers and the compiled train step (a Trainer).

  Built in the strategy's scope on `build_batch`. Given a sample batch it can train: optimizers,
  and fixed inputs for the summaries' sample GIF from the batch; without one it holds the networks
  alone.
  """

  def __init__(
    self,
    *,
    strategy,
    generator,
    critic,
    loss,
    optimizer,
    learning_rate,
    critic_learning_rate,
    adam_beta1,
    adam_beta2,
    clip_value,
    gradient_penalty_weight,
    r1_weight,
    mask_l1_weight,
    critic_steps,
    global_batch_size,
    seed,
    num_samples,
    build_batch,
    sample_batch,
    ema_decay=0.0,
    ema_generator=None,
    r1_every=1,
  ):
    if loss not in LOSSES:
      raise ValueError(f"train.loss is {loss!r}; use one of {LOSSES}")
    if r1_every < 1:
      raise ValueError(f"train.r1_every is {r1_every}; it must be >= 1 (1: every critic update)")
    if critic_steps < 1:
      raise ValueError(f"train.critic_steps is {critic_steps}; it must be >= 1")
    self.strategy = strategy
    self.loss = loss
    self.clip_value = clip_value
    self.gradient_penalty_weight = gradient_penalty_weight
    self.r1_weight = r1_weight
    self.r1_every = r1_every
    self.ema_decay = ema_decay
    self.mask_l1_weight = mask_l1_weight
    self.critic_steps = critic_steps
    self.global_batch_size = global_batch_size
    self.seed = seed
    self.optimizers = {}
    with strategy.scope():
      self.generator = generator
      self.critic = critic
      self.ema_generator = ema_generator
      self.build(build_batch)
      if sample_batch is not None:
        rates = {
          "generator_optimizer": learning_rate,
          "critic_optimizer": critic_learning_rate or learning_rate,
        }
        self.optimizers = {
          name: trainer_lib.make_optimizer(optimizer, rate, adam_beta1, adam_beta2)
          for name, rate in rates.items()
        }
        self.optimizers["generator_optimizer"].build(self.generator.trainable_variables)
        self.optimizers["critic_optimizer"].build(self.critic.trainable_variables)
      # Each replica's share of the last R1 penalty computed, which lazy updates report; summed
      # when read across replicas. Not checkpointed: the next regularized update sets it again.
      self.r1_share = tf.Variable(
        0.0,
        trainable=False,
        synchronization=tf.VariableSynchronization.ON_READ,
        aggregation=tf.VariableAggregation.SUM,
        name="r1_share",
      )
    self.sample_inputs = (
      self.fixed_samples(num_samples, sample_batch) if sample_batch is not None else None
    )

  @property
  def networks(self):
    """The Keras models, by name: what checkpoints save and summaries histogram."""
    networks = {"generator": self.generator, "critic": self.critic}
    if self.ema_generator is not None:
      networks["ema_generator"] = self.ema_generator
    return networks

  @property
  def sampling_generator(self):
    """The generator whose videos users see: the moving average of the weights when kept."""
    return self.ema_generator if self.ema_generator is not None else self.generator

  @property
  def batches_per_step(self):
    return self.critic_steps

  replica_steps = ("critic_step", "critic_and_generator_step", "generator_step")

  def build(self, batch):
    """Creates every network weight, so a checkpoint restores into them at once."""
    fake, _ = self.fake_videos(batch, training=False)
    self.critic_scores(fake, batch, training=False)
    if self.ema_generator is not None:
      self.fake_videos(batch, training=False, generator=self.ema_generator)
      for average, weight in zip(self.ema_generator.weights, self.generator.weights):
        average.assign(weight)

  def fixed_samples(self, count, batch):
    """Generator inputs for the summaries' sample GIF: the same every time, from the seed."""
    del batch  # the unconditional generator needs noise only
    return {
      "noise": tf.random.stateless_normal(
        [count, self.generator.noise_dim], seed=[self.seed, 0x5A3]
      )
    }

  # Hooks the conditional WGAN overrides.

  def fake_videos(self, batch, training, generator=None):
    """Generated videos [b, t, h, w, 3] and their masks (None with one stream) for a batch, by
    `generator` (default: the one being trained), in float32 whatever the precision policy."""
    generator = generator or self.generator
    video, mask = generator.video_and_mask(batch["noise"], training=training)
    return trainer_lib.float32(video), trainer_lib.float32(mask)

  def frame_offset(self, batch):
    """Which evenly spaced frames the frame critic judges at this update (0 without one).

    Drawn from the critic's update count, which every replica shares, so that all replicas judge
    the same frames and a distributed step equals a one-device step.
    """
    optimizer = self.optimizers.get("critic_optimizer")
    if self.critic.frame_critic is None or optimizer is None:  # built for sampling: any frames
      return 0
    stride = self.critic.frame_stride(batch["video"].shape[1])
    updates = optimizer.iterations
    seed = tf.stack([tf.cast(self.seed + 3, tf.int64), tf.cast(updates, tf.int64)])
    return tf.random.stateless_uniform([], seed=seed, maxval=stride, dtype=tf.int32)

  def critic_scores(self, videos, batch, training):
    """Scores [b] or [b, heads] of videos (float32); the unconditional critic sees the video
    alone."""
    return trainer_lib.float32(
      self.critic(videos, training=training, frame_offset=self.frame_offset(batch))
    )

  def generator_penalties(self, batch, fake, mask):
    """Weighted extra generator loss terms, by summary name."""
    del batch, fake
    if mask is None or not self.mask_l1_weight:
      return {}
    return {"mask_l1": self.mask_l1_weight * losses.mask_l1_penalty(mask, self.global_batch_size)}

  # Per-replica steps.

  def critic_step(self, batch):
    """One critic update on one replica's share of the batch; returns its share of the metrics."""
    fake, _ = self.fake_videos(batch, training=True)
    return self.critic_update(batch, fake)

  def critic_update(self, batch, fake):
    """critic_step on the generator's videos for the batch, already made."""
    with tf.GradientTape() as tape:
      real_scores = self.critic_scores(batch["video"], batch, training=True)
      fake_scores = self.critic_scores(fake, batch, training=True)
      if self.loss == "hinge":
        critic_loss = losses.hinge_critic_loss(real_scores, fake_scores, self.global_batch_size)
        metrics = {"critic_loss": critic_loss}
      elif self.loss == "logistic":
        critic_loss = losses.logistic_critic_loss(real_scores, fake_scores, self.global_batch_size)
        metrics = {"critic_loss": critic_loss}
      else:
        critic_loss = losses.wasserstein_critic_loss(
          real_scores, fake_scores, self.global_batch_size
        )
        metrics = {"critic_loss": critic_loss, "wasserstein_estimate": -critic_loss}
      total = critic_loss
      if self.r1_weight:
        penalty, metrics["r1_penalty"] = self.lazy_r1_penalty(batch)
        total += 0.5 * self.r1_weight * self.r1_every * penalty
      if self.loss == "wgan-gp":
        # One uniform draw per example, from the seed and this share's first example index.
        alpha = tf.random.stateless_uniform(
          tf.shape(batch["index"]), seed=tf.stack([self.seed + 1, batch["index"][0]])
        )
        penalty = losses.gradient_penalty(
          lambda videos: self.critic_scores(videos, batch, training=True),
          batch["video"],
          fake,
          alpha,
          self.global_batch_size,
        )
        metrics["gradient_penalty"] = penalty
        total += self.gradient_penalty_weight * penalty
    variables = self.critic.trainable_variables
    trainer_lib.apply_gradients(self.optimizers["critic_optimizer"], tape, total, variables)
    return metrics

  def lazy_r1_penalty(self, batch):
    """(penalty, reported): this replica's share of the R1 penalty on the real videos at one
    critic update in r1_every (counted by the critic's updates, which every replica shares), else
    0; and the last share computed, for the metrics.

    Lazy regularization (Karras et al. 2020, StyleGAN2, https://arxiv.org/abs/1912.04958): the
    penalty's double backpropagation is about a third of a tiny step's arithmetic, and the caller
    weights it r1_every times to keep its average pull.
    """

    def regularized():
      return losses.r1_penalty(
        lambda videos: self.critic_scores(videos, batch, training=True),
        batch["video"],
        self.global_batch_size,
      )

    if self.r1_every == 1:
      penalty = regularized()
      return penalty, penalty
    due = tf.equal(self.optimizers["critic_optimizer"].iterations % self.r1_every, 0)
    # The metric comes out of the condition, so it is read after the penalty is computed.
    penalty = tf.cond(due, regularized, lambda: tf.zeros([]))
    reported = tf.where(due, tf.stop_gradient(penalty), self.r1_share.read_value())
    self.r1_share.assign(reported)
    return penalty, reported

  def critic_and_generator_step(self, batch):
    """The last critic update, then the generator update, on one replica's share of one batch;
    returns its share of both updates' metrics. Every loss but "wgan" (see train_step).

    The generator's videos are made once for both: a critic update leaves the generator's weights
    as they were, so the generator update would make the same videos again from the same noise
    (one of a tiny step's two generator forward passes, docs/benchmarks.md). The generator update
    scores them with the updated critic, as before; the one change is that batchnorm's moving
    statistics see this batch once, not twice.
    """
    with tf.GradientTape() as tape:
      fake, mask = self.fake_videos(batch, training=True)
      with tape.stop_recording():
        critic_metrics = self.critic_update(batch, tf.stop_gradient(fake))
      total, metrics = self.generator_objective(batch, fake, mask)
    variables = self.generator.trainable_variables
    trainer_lib.apply_gradients(self.optimizers["generator_optimizer"], tape, total, variables)
    return {**critic_metrics, **metrics}

  def generator_step(self, batch):
    """One generator update on videos it makes for one replica's share of the batch; returns its
    share of the metrics. For the "wgan" loss, whose weight clipping runs between replica steps."""
    with tf.GradientTape() as tape:
      fake, mask = self.fake_videos(batch, training=True)
      total, metrics = self.generator_objective(batch, fake, mask)
    variables = self.generator.trainable_variables
    trainer_lib.apply_gradients(self.optimizers["generator_optimizer"], tape, total, variables)
    return metrics

  def generator_objective(self, batch, fake, mask):
    """(total loss, metrics) of the generator for its videos of a batch, scored by the critic."""
    fake_scores = self.critic_scores(fake, batch, training=True)
    if self.loss == "logistic":
      generator_loss = losses.logistic_generator_loss(fake_scores, self.global_batch_size)
    else:
      generator_loss = losses.wasserstein_generator_loss(fake_scores, self.global_batch_size)
    penalties = self.generator_penalties(batch, fake, mask)
    total = generator_loss + tf.add_n(list(penalties.values())) if penalties else generator_loss
    return total, {"generator_loss": generator_loss, **penalties}

  def clip_critic_weights(self):
    """WGAN's Lipschitz constraint after a critic update (loss "wgan"); a gradient penalty needs
    none."""
    if self.loss == "wgan":
      losses.clip_weights(self.critic.trainable_variables, self.clip_value)

  # No Python control flow on tensors here (lazy R1 calls tf.cond itself): without autograph's
  # source conversion, `relive train` starts 0.6 s sooner (8.1 against 8.7 s for one tiny step).
  @tf.function(autograph=False)
  def train_step(self, iterator):
    """critic_steps critic updates, then one generator update on the last batch's inputs.

    Returns:
      Scalar metrics of the last critic update and of the generator update, summed over replicas
      (each replica's share is already divided by the global batch size).
    """
    if self.loss == "wgan":
      # Weight clipping must come between the critic and generator updates, and only here, between
      # replica steps, can every strategy assign to the critic's weights (inside an XLA-compiled
      # replica step on several GPUs, no merge_call can): the generator makes its videos again.
      for _ in range(self.critic_steps):
        batch = next(iterator)
        critic_metrics = self.strategy.run(self.critic_step, args=(batch,))
        self.clip_critic_weights()
      metrics = {**critic_metrics, **self.strategy.run(self.generator_step, args=(batch,))}
    else:
      for _ in range(self.critic_steps - 1):
        self.strategy.run(self.critic_step, args=(next(iterator),))
      metrics = self.strategy.run(self.critic_and_generator_step, args=(next(iterator),))
    if self.ema_generator is not None:
      self.update_ema()
    return {
      name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
      for name, value in metrics.items()
    }

  def update_ema(self):
    """Moves the averaged generator towards the trained one (Karras et al. 2018; Yazici et al. 2019,
    https://arxiv.org/abs/1806.04498). The decay ramps up with the generator's updates as TF's
    ExponentialMovingAverage does given num_updates, so that early averages forget the initial
    weights; batchnorm's moving statistics are copied."""
    count = tf.cast(self.optimizers["generator_optimizer"].iterations, tf.float32)
    decay = tf.minimum(self.ema_decay, (1.0 + count) / (10.0 + count))
    trainable = {id(variable) for variable in self.generator.trainable_variables}
    for average, weight in zip(self.ema_generator.weights, self.generator.weights):
      if id(weight) in trainable:
        average.assign(decay * average + (1.0 - decay) * weight)
      else:
        average.assign(weight)

  def sample_videos(self):
    """Videos [n, t, h, w, 3] in [-1, 1] of the fixed sample inputs, generator in inference mode."""
    generator = self.sampling_generator
    return self.fake_videos(self.sample_inputs, training=False, generator=generator)[0]


def training_settings(config, strategy, sample_batch):
  """VideoWGAN's keyword arguments other than the networks, from a config; shared by both GANs.

  Raises:
    ValueError: a gradient penalty with a batch-normalized critic, or a frame critic judging more
      frames than a clip holds.
  """
  model, train, data = config.model, config.train, config.data
  if model.frame_critic_widths and data.frames > 0:  # (no frames: the generator names data.frames)
    # Before any graph: raised from inside a layer's call, Keras would append its arguments.
    vgan.check_frames_judged(model.frames_judged, data.frames)
  if train.loss == "wgan-gp" and model.critic_norm == "batch":
    raise ValueError(
      "train.loss=wgan-gp with model.critic_norm=batch: a gradient penalty is per "
      "sample and batchnorm mixes samples; set model.critic_norm to spectral, layer or none"
    )
  build_batch = (
    sample_batch
    if sample_batch is not None
    else trainer_lib.zero_batch(frames=data.frames, size=data.size, noise_dim=model.noise_dim)
  )
  r1_every = train.r1_every
  if r1_every > 1 and train.r1_weight and trainer_lib.training_options(config)[1]:
    # XLA differentiates both branches of a condition and fails on the one not taken.
    logging.warning(
      "train.jit_compile: XLA cannot differentiate lazy R1's condition, so R1 runs at every "
      "critic update (train.r1_every=1 instead of %d)",
      r1_every,
    )
    r1_every = 1
  return dict(
    strategy=strategy,
    loss=train.loss,
    optimizer=train.optimizer,
    learning_rate=train.learning_rate,
    critic_learning_rate=train.critic_learning_rate,
    adam_beta1=train.adam_beta1,
    adam_beta2=train.adam_beta2,
    clip_value=train.clip_value,
    gradient_penalty_weight=train.gradient_penalty_weight,
    r1_weight=train.r1_weight,
    r1_every=r1_every,
    ema_decay=train.ema_decay,
    mask_l1_weight=train.mask_l1_weight,
    critic_steps=train.critic_steps,
    global_batch_size=train.batch_size,
    seed=config.seed,
    num_samples=train.num_samples,
    build_batch=build_batch,
    sample_batch=sample_batch,
  )


def build_trainer(config, strategy, sample_batch=None):
  """The VideoWGAN of a configs/vgan.py config (Family.build_trainer)."""
  model, data = config.model, config.data
  if model.noise_dim < 1:
    raise ValueError(
      f"model.noise_dim is {model.noise_dim}; the video GAN makes its videos from noise: give it "
      "1 or more (the tiny variant's is 32)"
    )
  settings = training_settings(config, strategy, sample_batch)

  def make_generator():
    return vgan.VideoGenerator(
      model.noise_dim,
      model.generator_widths,
      data.frames,
      data.size,
      two_stream=model.two_stream,
      upsample=model.upsample,
    )

  networks = build_networks(strategy, model, settings, make_generator, vgan.VideoCritic)
  return VideoWGAN(**networks, **settings)


def build_networks(strategy, model, settings, make_generator, critic_class):
  """{"generator", "ema_generator" (None without train.ema_decay), "critic"} built in the strategy's
  scope, the critic from config.model's critic keys; both GANs' build_trainer use it. The two
  generators share their Keras name, which checkpoints key their variables by."""
  with strategy.scope():
    return {
      "generator": make_generator(),
      "ema_generator": make_generator() if settings["ema_decay"] else None,
      "critic": critic_class(
        model.critic_widths,
        normalization=model.critic_norm,
        frame_critic_widths=model.frame_critic_widths,
        frames_judged=model.frames_judged,
        frames_stacked=model.frames_stacked,
      ),
    }


# Keys both GANs' configs gained after their first workdirs were written; those trained without
# the distance during training.
GAN_ADDED_KEYS = {
  **family.LOOP_ADDED_KEYS,
  "train.eval_every": 0,
  "train.eval_samples": 64,
  "train.feature_network": "",
  "train.digit_recognizer": "",
  "model.upsample": "transposed",
  "model.frame_critic_widths": (),
  "model.frames_judged": 4,
  "model.frames_stacked": False,
  "train.critic_learning_rate": 0.0,
  "train.r1_weight": 0.0,
  "train.r1_every": 1,
  "train.ema_decay": 0.0,
}

# The generator's first layer and the critics' last see the whole clip: its length and frame size
# set their weights' shapes.
GAN_SHAPE_KEYS = ("data.frames", "data.size")

FAMILY = family.Family(
  name="vgan",
  title="video WGAN",
  config="configs/vgan.py",
  build_trainer=build_trainer,
  added_keys=GAN_ADDED_KEYS,
  shape_keys=GAN_SHAPE_KEYS,
)
