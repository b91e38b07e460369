"""The LSTM next-frame predictor's trainer: L2 loss on each next frame, scheduled sampling, and
optionally an adversarial term from a critic of the predicted future."""

import math

import tensorflow as tf

from relive_tf import losses
from relive_tf.models import lstm
from relive_tf.models import vgan
from relive_tf.training import family
from relive_tf.training import trainer as trainer_lib


def check_rollout(context, future, clip_frames, *, measured=True):
  """Checks a rollout's lengths for a predictor trained on clips of `clip_frames` frames.

  An LSTM can roll out past the clips it was trained on, but nothing measured it there: an
  evaluation (`measured`) refuses those frames; a prediction may make them, and says so
  (past_training_warning).

  Args:
    context: frames given, at least 1.
    future: frames to predict, at least 1.
    clip_frames: the training clips' length (data.frames), the longest sequence the LSTM was
      trained and measured on.
    measured: whether the frames will be measured against real ones (`relive evaluate`), so that
      context + future may not exceed clip_frames.

  Raises:
    ValueError: naming the value, the limit and what to do.
  """
  if context < 1:
    raise ValueError(f"context is {context}; give at least 1 frame to predict from")
  if future < 1:
    raise ValueError(f"future is {future}; ask for at least 1 frame")
  if measured and context >= clip_frames:
    raise ValueError(
      f"context={context} leaves no frame to predict in the {clip_frames}-frame clips the model "
      f"was trained on (data.frames); give --context of at most {clip_frames - 1}"
    )
  if measured and context + future > clip_frames:
    raise ValueError(
      f"context={context} plus future={future} is {context + future} frames, but "
      f"the model was trained on clips of {clip_frames} frames (data.frames); give --context and "
      f"--future adding up to at most {clip_frames}"
    )


def past_training_warning(context, future, clip_frames):
  """The warning for a rollout longer than the training clips, or None: how many predicted
  frames go past them, counted without frame numbers (a video's frames count from --start)."""
  past = min(future, context + future - clip_frames)
  if past <= 0:
    return None
  return (
    f"the last {past} of the {future} predicted frames go past the {clip_frames}-frame clips the "
    f"model was trained on (context {context} + future {future} = {context + future} frames): "
    "it rolls on, but nothing measured it there"
  )


def sampling_probability(step, *, probability, start_step, ramp_steps):
  """Scheduled sampling's chance of feeding a prediction back: 0 until start_step, then rising
  linearly to `probability` over ramp_steps steps.

  Args:
    step: the optimizer's update count, int64 scalar tensor.
    probability: final probability in [0, 1].
    start_step, ramp_steps: where the ramp starts and how long it lasts (0: a jump).

  Returns:
    float32 scalar tensor.
  """
  progress = tf.cast(step - start_step, tf.float32) / max(ramp_steps, 1)
  return probability * tf.clip_by_value(progress, 0.0, 1.0)


class NextFramePrediction:
  """Predictor, its optimizer and the compiled train step (a Trainer).

  Built in the strategy's scope on `build_batch`. Given a sample batch it can train: an optimizer,
  and the batch's first clips for the summaries' sample GIF; without one it holds the predictor
  alone.

  With critic_widths (and adversarial_weight > 0), a critic learns to tell the predicted future
  from the true one: a 2D critic on the last given frame and the frames after it stacked along
  channels (vgan.FrameCritic with stacked=True, no normalization), so that it judges the motion
  as well as each frame; a critic of single frames passes a copy of the last frame as real, and
  the predictor learnt to copy it (docs/results.md). It is trained with the non-saturating
  logistic loss and an R1 penalty of weight r1_weight on the true clips; the predictor's loss
  adds adversarial_weight times its generator loss (the L2 loss is about 0.01 at tiny widths, the
  generator loss starts near 0.7).
  An L2 loss alone averages the futures the predictor cannot tell apart into a blur (Mathieu et
  al. 2016, https://arxiv.org/abs/1511.05440; Lee et al. 2018's SAVP,
  https://arxiv.org/abs/1804.01523).
  """

  batches_per_step = 1
  replica_steps = ("train_replica_step",)

  def __init__(
    self,
    *,
    strategy,
    predictor,
    optimizer,
    learning_rate,
    adam_beta1,
    adam_beta2,
    context_frames,
    sampling_probability,
    sampling_start_step,
    sampling_ramp_steps,
    global_batch_size,
    seed,
    num_samples,
    build_batch,
    sample_batch,
    critic_widths=(),
    adversarial_weight=0.0,
    r1_weight=1.0,
    gradient_difference_weight=0.0,
  ):
    frames = build_batch["video"].shape[1]
    if frames < 2:
      raise ValueError(
        f"data.frames is {frames}; the predictor learns from clips of at least 2 frames, one to "
        "see and one to predict"
      )
    if not 1 <= context_frames < frames:
      raise ValueError(
        f"train.context_frames is {context_frames}; it must be in [1, {frames - 1}] "
        f"for clips of {frames} frames (data.frames), leaving frames to predict"
      )
    if not 0.0 <= sampling_probability <= 1.0:
      raise ValueError(
        f"train.sampling_probability is {sampling_probability}; it must be in [0, 1]"
      )
    self.strategy = strategy
    self.context_frames = context_frames
    self.sampling = dict(
      probability=sampling_probability,
      start_step=sampling_start_step,
      ramp_steps=sampling_ramp_steps,
    )
    # The critic's presence follows model.critic_widths alone, a model key a resumed run cannot
    # change, so that every checkpoint of a workdir holds the same networks.
    if critic_widths and adversarial_weight <= 0:
      raise ValueError(
        f"model.critic_widths is {tuple(critic_widths)} but train.adversarial_weight is "
        f"{adversarial_weight}: give a weight > 0 (e.g. 0.01) or no critic widths"
      )
    if adversarial_weight and not critic_widths:
      raise ValueError(
        "train.adversarial_weight is set but model.critic_widths is empty: give the frame "
        "critic's widths, e.g. --config.model.critic_widths='(16,32,64,64)'"
      )
    if r1_weight < 0:
      raise ValueError(f"train.r1_weight is {r1_weight}; it must be >= 0")
    if not 0 <= gradient_difference_weight < math.inf:
      raise ValueError(
        f"train.gradient_difference_weight is {gradient_difference_weight}; it must be a number, "
        "0 or more"
      )
    self.gradient_difference_weight = gradient_difference_weight
    self.global_batch_size = global_batch_size
    self.seed = seed
    self.adversarial_weight = adversarial_weight
    self.r1_weight = r1_weight
    self.optimizers = {}
    self.sample_clips = None
    self.critic = None
    self._teacher_forced_step = self._compiled_step(teacher_forced=True)
    self._sampled_step = self._compiled_step(teacher_forced=False)
    with strategy.scope():
      self.predictor = predictor
      self.predictor(build_batch["video"][:, :2])  # creates every weight
      if sample_batch is not None:
        self.optimizers["optimizer"] = trainer_lib.make_optimizer(
          optimizer, learning_rate, adam_beta1, adam_beta2
        )
        self.optimizers["optimizer"].build(self.predictor.trainable_variables)
        self.sample_clips = sample_batch["video"][:num_samples]
        if critic_widths:
          # Needed to train only: a restored predictor predicts without it.
          self.critic = vgan.FrameCritic(
            critic_widths, normalization="none", stacked=True, name="critic"
          )
          self.critic(build_batch["video"][:, context_frames - 1 :])
          self.optimizers["critic_optimizer"] = trainer_lib.make_optimizer(
            optimizer, learning_rate, adam_beta1, adam_beta2
          )
          self.optimizers["critic_optimizer"].build(self.critic.trainable_variables)

  @property
  def networks(self):
    """The Keras models and layers, by name: what checkpoints save and summaries histogram."""
    if self.critic is None:
      return {"predictor": self.predictor}
    return {"predictor": self.predictor, "critic": self.critic}

  def predictions(self, batch, probability):
    """The prediction of frames 1..T-1 of each clip, [b, T-1, h, w, 3].

    With probability None, every input is a true frame (teacher forcing, the whole clip in one LSTM
    call). Otherwise inputs after the first context_frames are, per clip and frame, the model's
    own previous prediction with that probability (scheduled sampling), gradients stopped there;
    at probability 0 they equal teacher forcing's, frame by frame.
    """
    # In the layers' dtype (train.precision): observe and step mix the frames with the decoded ones.
    video = tf.cast(batch["video"], self.predictor.compute_dtype)
    if probability is None:
      return self.predictor(video[:, :-1])
    predicted, state = self.predictor.observe(video[:, : self.context_frames])
    frames = [predicted[:, t] for t in range(self.context_frames)]
    for t in range(self.context_frames, video.shape[1] - 1):
      draw = tf.random.stateless_uniform(
        [tf.shape(video)[0], 1, 1, 1], seed=tf.stack([self.seed + t, batch["index"][0]])
      )
      frame = tf.where(draw < probability, tf.stop_gradient(frames[-1]), video[:, t])
      predicted_frame, state = self.predictor.step(frame, state)
      frames.append(predicted_frame)
    return tf.stack(frames, axis=1)

  def judged_clips(self, video, predictions):
    """What the critic compares: the last given frame and the true frames after it, against the
    same frame and the predictions of those frames, each [b, T - context_frames + 1, h, w, 3].

    Args:
      video: true clips [b, T, h, w, 3].
      predictions: self.predictions of them, [b, T - 1, h, w, 3] (frame i + 1 at index i).
    """
    start = self.context_frames - 1
    predicted = tf.concat([video[:, start : start + 1], predictions[:, start:]], axis=1)
    return video[:, start:], predicted

  def train_replica_step(self, batch, probability):
    """One update on one replica's share of the batch; probability as in `predictions`.

    Returns:
      {"next_frame_mse": its share of the L2 loss}, with gradient_difference_weight
      "gradient_difference" (unweighted) and, with a critic, "critic_loss",
      "adversarial_loss" (the predictor's generator loss, unweighted) and, with r1_weight,
      "r1_penalty".
    """
    with tf.GradientTape() as tape, tf.GradientTape() as critic_tape:
      predictions = trainer_lib.float32(self.predictions(batch, probability))
      errors = tf.square(predictions - batch["video"][:, 1:])
      mse = tf.nn.compute_average_loss(
        tf.reduce_mean(errors, axis=[1, 2, 3, 4]), global_batch_size=self.global_batch_size
      )
      metrics = {"next_frame_mse": mse}
      loss = mse
      if self.gradient_difference_weight:
        gdl = losses.gradient_difference_loss(
          predictions, batch["video"][:, 1:], self.global_batch_size
        )
        metrics["gradient_difference"] = gdl
        loss += self.gradient_difference_weight * gdl
      if self.critic is not None:
        true, predicted = self.judged_clips(batch["video"], predictions)
        fake_scores = trainer_lib.float32(self.critic(predicted, training=True))
        real_scores = trainer_lib.float32(self.critic(true, training=True))
        size = self.global_batch_size
        adversarial = losses.logistic_generator_loss(fake_scores, size)
        critic_loss = losses.logistic_critic_loss(real_scores, fake_scores, size)
        metrics.update(critic_loss=critic_loss, adversarial_loss=adversarial)
        loss += self.adversarial_weight * adversarial
        if self.r1_weight:
          r1 = losses.r1_penalty(lambda x: trainer_lib.float32(self.critic(x)), true, size)
          metrics["r1_penalty"] = r1
          critic_loss = critic_loss + 0.5 * self.r1_weight * r1
    trainer_lib.apply_gradients(
      self.optimizers["optimizer"], tape, loss, self.predictor.trainable_variables
    )
    if self.critic is not None:
      trainer_lib.apply_gradients(
        self.optimizers["critic_optimizer"],
        critic_tape,
        critic_loss,
        self.critic.trainable_variables,
      )
    return metrics

  @property
  def train_step(self):
    """The compiled update the next call runs (Trainer.train_step), picked from the update count.

    Until scheduled sampling's chance rises above 0 (after train.sampling_start_step updates), the
    teacher-forced step runs the whole clip through the LSTM in one call, the same predictions as
    the frame-by-frame path in 0.81 of its time; a tf.cond between the two in one graph made the
    sampled steps 12 % slower (docs/benchmarks.md).

    Returns:
      A tf.function of a distributed iterator (pipeline.training_batches) returning
      {"next_frame_mse": the L2 loss (frames in [-1, 1]), "gradient_difference" with
      train.gradient_difference_weight, and with a critic "critic_loss",
      "adversarial_loss" and "r1_penalty": each summed over replicas, each share already divided
      by the global batch size; "sampling_probability": the scheduled sampling chance used}.
    """
    updates = int(self.optimizers["optimizer"].iterations.numpy())
    if self.sampling["probability"] and updates > self.sampling["start_step"]:
      return self._sampled_step
    return self._teacher_forced_step

  def _compiled_step(self, teacher_forced):
    """The tf.function of one update on the next global batch, with teacher forcing or not."""

    # Named for the profiler (bench/profile_step.py finds the steps by this name); no Python
    # control flow on tensors, so no autograph.
    def train_step(iterator):
      probability = sampling_probability(self.optimizers["optimizer"].iterations, **self.sampling)
      batch = next(iterator)
      args = (batch, None if teacher_forced else probability)
      metrics = self.strategy.run(self.train_replica_step, args=args)
      return {
        **{
          name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
          for name, value in metrics.items()
        },
        "sampling_probability": probability,
      }

    return tf.function(train_step, autograph=False)

  def sample_videos(self):
    """The fixed sample clips, context_frames true frames then the rollout, beside the true clip.

    Returns:
      float32 [num_samples, frames, size, 2 * size, 3] in [-1, 1].
    """
    context = self.sample_clips[:, : self.context_frames]
    future = self.sample_clips.shape[1] - self.context_frames
    rollout = self.predictor.rollout(tf.cast(context, self.predictor.compute_dtype), future)
    predicted = tf.concat([context, trainer_lib.float32(rollout)], axis=1)
    return tf.concat([predicted, self.sample_clips], axis=3)


def build_trainer(config, strategy, sample_batch=None):
  """The NextFramePrediction of a configs/lstm.py config (Family.build_trainer)."""
  model, train, data = config.model, config.train, config.data
  with strategy.scope():
    predictor = lstm.NextFramePredictor(
      model.encoder_widths,
      model.embedding_dim,
      model.lstm_units,
      model.decoder_widths,
      data.size,
      blend_input=model.blend_input,
      skip_connections=model.skip_connections,
      motion_kernels=model.motion_kernels,
      kernel_size=model.kernel_size,
    )
  build_batch = (
    sample_batch
    if sample_batch is not None
    else trainer_lib.zero_batch(frames=data.frames, size=data.size, noise_dim=0)
  )
  return NextFramePrediction(
    strategy=strategy,
    predictor=predictor,
    optimizer=train.optimizer,
    learning_rate=train.learning_rate,
    adam_beta1=train.adam_beta1,
    adam_beta2=train.adam_beta2,
    context_frames=train.context_frames,
    sampling_probability=train.sampling_probability,
    sampling_start_step=train.sampling_start_step,
    sampling_ramp_steps=train.sampling_ramp_steps,
    global_batch_size=train.batch_size,
    seed=config.seed,
    num_samples=train.num_samples,
    build_batch=build_batch,
    sample_batch=sample_batch,
    critic_widths=tuple(model.critic_widths),
    adversarial_weight=train.adversarial_weight,
    r1_weight=train.r1_weight,
    gradient_difference_weight=train.gradient_difference_weight,
  )


FAMILY = family.Family(
  name="lstm",
  title="next-frame predictor",
  config="configs/lstm.py",
  build_trainer=build_trainer,
  # Keys every config declares since the configs were made alike: the predictor has no noise, and
  # workdirs written before train.eval_every had no evaluation during training.
  added_keys={
    **family.LOOP_ADDED_KEYS,
    "model.noise_dim": 0,
    "train.eval_every": 0,
    "train.eval_samples": 64,
    "train.digit_recognizer": "",
    "model.motion_kernels": 0,
    "model.kernel_size": 7,
    "model.critic_widths": (),
    "train.adversarial_weight": 0.0,
    "train.r1_weight": 1.0,
    "train.gradient_difference_weight": 0.0,
  },
)
