"""The LSTM next-frame predictor's trainer: L2 loss on each next frame, scheduled sampling."""

import tensorflow as tf
from absl import logging

from relive_tf.models import lstm
from relive_tf.training import family
from relive_tf.training import trainer as trainer_lib


def check_rollout(context, future, clip_frames, *, measured=True):
  """Checks a rollout's lengths for a predictor trained on clips of `clip_frames` frames.

  An LSTM can roll out past the clips it was trained on, but nothing measured it there: an
  evaluation (`measured`) refuses those frames; a prediction makes them with one warning.

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
  if context + future <= clip_frames:
    return
  if measured:
    raise ValueError(
      f"context={context} plus future={future} is {context + future} frames, but "
      f"the model was trained on clips of {clip_frames} frames (data.frames); ask "
      f"for at most {clip_frames} in all"
    )
  logging.warning(
    "frames %d to %d are past the %d-frame clips the model was trained on: it rolls on, but "
    "nothing measured it there",
    clip_frames + 1,
    context + future,
    clip_frames,
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
  ):
    frames = build_batch["video"].shape[1]
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
    self.global_batch_size = global_batch_size
    self.seed = seed
    self.optimizers = {}
    self.sample_clips = None
    with strategy.scope():
      self.predictor = predictor
      self.predictor(build_batch["video"][:, :2])  # creates every weight
      if sample_batch is not None:
        self.optimizers["optimizer"] = trainer_lib.make_optimizer(
          optimizer, learning_rate, adam_beta1, adam_beta2
        )
        self.optimizers["optimizer"].build(self.predictor.trainable_variables)
        self.sample_clips = sample_batch["video"][:num_samples]

  @property
  def networks(self):
    """The Keras models, by name: what checkpoints save and summaries histogram."""
    return {"predictor": self.predictor}

  def predictions(self, batch, probability):
    """The prediction of frames 1..T-1 of each clip, [b, T-1, h, w, 3].

    With probability 0, every input is a true frame (teacher forcing, the whole clip in one LSTM
    call). Otherwise inputs after the first context_frames are, per clip and frame, the model's
    own previous prediction with that probability (scheduled sampling), gradients stopped there.
    """
    # In the layers' dtype (train.precision): observe and step mix the frames with the decoded ones.
    video = tf.cast(batch["video"], self.predictor.compute_dtype)
    if not self.sampling["probability"]:
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

  def train_replica_step(self, batch, probability):
    """One update on one replica's share of the batch; returns its share of the loss."""
    with tf.GradientTape() as tape:
      predictions = trainer_lib.float32(self.predictions(batch, probability))
      errors = tf.square(predictions - batch["video"][:, 1:])
      loss = tf.nn.compute_average_loss(
        tf.reduce_mean(errors, axis=[1, 2, 3, 4]), global_batch_size=self.global_batch_size
      )
    variables = self.predictor.trainable_variables
    trainer_lib.apply_gradients(self.optimizers["optimizer"], tape, loss, variables)
    return loss

  @tf.function
  def train_step(self, iterator):
    """One update on the next global batch.

    Returns:
      {"next_frame_mse": the L2 loss (frames in [-1, 1]) summed over replicas, each share already
      divided by the global batch size; "sampling_probability": the scheduled sampling chance used}.
    """
    probability = sampling_probability(self.optimizers["optimizer"].iterations, **self.sampling)
    loss = self.strategy.run(self.train_replica_step, args=(next(iterator), probability))
    return {
      "next_frame_mse": self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
      "sampling_probability": probability,
    }

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
  )


FAMILY = family.Family(
  name="lstm",
  title="next-frame predictor",
  config="configs/lstm.py",
  build_trainer=build_trainer,
  # Keys every config declares since the configs were made alike; the predictor has no noise and
  # no evaluation during training.
  added_keys={
    **family.LOOP_ADDED_KEYS,
    "model.noise_dim": 0,
    "train.eval_every": 0,
    "train.eval_samples": 64,
    "train.digit_recognizer": "",
    "model.motion_kernels": 0,
    "model.kernel_size": 7,
  },
)
