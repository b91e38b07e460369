"""The training loop shared by every model type: strategy, data, checkpoints, summaries, progress."""

import contextlib
import math
import os
import tempfile
import time

import tensorflow as tf
from absl import logging

from relive_tf import errors
from relive_tf import files
from relive_tf.data import pipeline
from relive_tf.errors import UserError
from relive_tf.training import distribution
from relive_tf.training import recipes
from relive_tf.training import summaries
from relive_tf.training import workdir as workdir_lib

DATA_SOURCES = ("synthetic", "shards")


class NonFiniteLossError(UserError):
  """A loss became NaN or infinite; the checkpoints written before it are kept."""


def validate(config, num_replicas):
  """Rejects settings the loop cannot run, naming the key, the value and what it needs."""
  train = config.train
  for key in ("num_steps", "batch_size", "log_every", "summary_every", "checkpoint_every",
              "num_samples"):
    if train[key] <= 0:
      raise UserError(f"train.{key} is {train[key]}; it must be a positive integer")
  if train.batch_size % num_replicas:
    raise UserError(f"train.batch_size {train.batch_size} does not divide over {num_replicas} "
                    "replicas; use a multiple of the replica count")
  if config.data.source not in DATA_SOURCES:
    raise UserError(f"data.source is {config.data.source!r}; use one of {DATA_SOURCES}")
  if config.data.source == "shards" and not config.data.path:
    raise UserError("data.source is 'shards' but data.path is empty: pass "
                    "--config.data.path=DIR (a folder written by `relive prepare`)")


def distributed_batches(config, strategy, start):
  """The training data from example `start`, split over the strategy's input pipelines and replicas.

  Each input pipeline (one per worker) reads the indices equal to its number modulo the pipeline
  count; its replicas take consecutive per-replica batches, so one global batch is train.batch_size
  consecutive examples whatever the replica count.
  """
  data = config.data

  def dataset_fn(context):
    return pipeline.training_batches(
        source=data.source, path=data.path, seed=config.seed, frames=data.frames, size=data.size,
        batch_size=context.get_per_replica_batch_size(config.train.batch_size),
        noise_dim=recipes.noise_dim(config), start=start,
        num_shards=context.num_input_pipelines, shard_index=context.input_pipeline_id,
        skip_corrupt=data.get("skip_corrupt", False))

  return strategy.distribute_datasets_from_function(dataset_fn)


def _format_duration(seconds):
  seconds = int(seconds)
  return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
      f"{seconds // 60}m{seconds % 60:02d}s"


class Progress:
  """Steps per second over the last logging window and the time left at that rate."""

  def __init__(self, step, num_steps):
    self.num_steps = num_steps
    self.window_start = (step, time.perf_counter())
    self.steps_per_second = math.nan

  def update(self, step):
    last_step, last_time = self.window_start
    now = time.perf_counter()
    if step > last_step:
      self.steps_per_second = (step - last_step) / (now - last_time)
    self.window_start = (step, now)

  def line(self, step, metrics):
    values = "  ".join(f"{name}={value:.4g}" for name, value in sorted(metrics.items()))
    left = (_format_duration((self.num_steps - step) / self.steps_per_second)
            if self.steps_per_second > 0 else "?")
    return (f"step {step}/{self.num_steps}  {values}  {self.steps_per_second:.2f} steps/s  "
            f"{left} left")


def _check_finite(metrics, step, manager):
  bad = {name: value for name, value in metrics.items() if not math.isfinite(value)}
  if bad:
    last = manager.latest_checkpoint or "none written yet"
    raise NonFiniteLossError(
        f"{', '.join(f'{k}={v}' for k, v in bad.items())} at step {step}: training stopped. The "
        f"last good checkpoint ({last}) is kept; lower train.learning_rate or check the data")


@contextlib.contextmanager
def _data_checks():
  """Raises the UserError of a failed in-graph data check (a damaged shard) instead of the
  TensorFlow error that carries it."""
  try:
    yield
  except tf.errors.OpError as error:
    user_error = errors.user_error_in(error)
    if user_error is None:
      raise
    raise user_error from None


def _skipped_records(config):
  """{"skipped_records": n} for the data/ summaries when data.skip_corrupt is on, else {}."""
  data = config.data
  if data.source != "shards" or not data.get("skip_corrupt", False):
    return {}
  from relive_tf.data import shards  # pylint: disable=g-import-not-at-top (shards only)
  skipped = shards.skipped_records(data.path, split="train", frames=data.frames, size=data.size)
  logging.info("data.skip_corrupt: %d damaged records are left out of every pass over %s",
               skipped, data.path)
  return {"skipped_records": skipped}


def _write_summaries(recipe, metrics, step, heavy):
  summaries.write_scalars(metrics, step)
  if heavy:
    summaries.write_kernel_histograms(recipe.networks, step)
    videos = pipeline.to_uint8_video(recipe.sample_videos()).numpy()
    summaries.write_gif("train/samples", videos, step)


def train_and_evaluate(config, workdir, strategy=None):
  """Trains config.model_type in workdir, resuming from its latest checkpoint.

  Args:
    config: a model config (configs/*.py), resolved.
    workdir: holds config.json, checkpoints/ and the TensorBoard events tb/.
    strategy: a tf.distribute strategy; picked from the machine when None.

  Returns:
    The recipe (trained networks, optimizers) at the last step.

  Raises:
    UserError: bad settings, a workdir in use, or damaged shards (naming the shard and the fix;
      see data.skip_corrupt).
  """
  strategy = strategy or distribution.pick_strategy()
  validate(config, strategy.num_replicas_in_sync)
  # Only the chief holds the workdir: the other workers of a multi-worker run save elsewhere.
  holding = (files.exclusive_use(workdir, "relive train") if distribution.is_chief(strategy)
             else contextlib.nullcontext())
  with holding, _data_checks():
    return _train(config, workdir, strategy)


def _train(config, workdir, strategy):
  workdir_lib.save_config(workdir, config)
  logging.info("config:\n%s", config)
  train = config.train

  logging.info("building %s networks...", config.model_type)
  recipe = recipes.build(config, strategy, recipes.sample_batch(config))
  for name, network in recipe.networks.items():
    count = sum(math.prod(variable.shape) for variable in network.trainable_variables)
    logging.info("%s: %s trainable parameters", name, f"{count:,}")
  # Counters live outside the strategy: the Python loop alone updates them, identically everywhere.
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  data_position = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_position")
  checkpoint = workdir_lib.make_checkpoint(recipe, step=step, data_position=data_position)
  chief = distribution.is_chief(strategy)
  checkpoint_dir = os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)
  # Every worker must take part in a save; only the chief's lands in the workdir.
  manager = tf.train.CheckpointManager(
      checkpoint, checkpoint_dir if chief else tempfile.mkdtemp(prefix="relive_worker_ckpt_"),
      max_to_keep=train.max_checkpoints)
  restore_from = tf.train.latest_checkpoint(checkpoint_dir)
  if restore_from:
    checkpoint.restore(restore_from).assert_consumed()
    logging.info("resumed from %s at step %d", restore_from, int(step))
  if int(step) >= train.num_steps:
    logging.info("already trained to step %d (train.num_steps=%d): nothing to do", int(step),
                 train.num_steps)
    return recipe

  iterator = iter(distributed_batches(config, strategy, start=int(data_position.numpy())))
  data_counts = _skipped_records(config)
  summary_dir = os.path.join(workdir, workdir_lib.SUMMARY_DIR)
  writer = tf.summary.create_file_writer(summary_dir) if chief else tf.summary.create_noop_writer()

  measure_distance = None
  if train.get("eval_every", 0) > 0:
    # Imported only here: the evaluation loads a feature network most runs never need.
    from relive_tf import evaluate_gan  # pylint: disable=g-import-not-at-top
    measure_distance = evaluate_gan.distance_during_training(config)

  logging.info("compiling the train step (the first step takes longer)...")
  progress = Progress(int(step), train.num_steps)
  current = saved = int(step)
  try:
    while current < train.num_steps:
      metrics = {name: float(value) for name, value in recipe.train_step(iterator).items()}
      current += 1
      _check_finite(metrics, current, manager)
      step.assign(current)
      data_position.assign_add(recipe.batches_per_step * train.batch_size)
      last = current == train.num_steps
      log_now = current % train.log_every == 0 or last or current == 1
      heavy_now = current % train.summary_every == 0 or last
      if log_now:
        progress.update(current)
        logging.info(progress.line(current, metrics))
      if log_now or heavy_now:
        with writer.as_default():
          _write_summaries(recipe, {**metrics, "steps_per_second": progress.steps_per_second},
                           current, heavy=heavy_now)
          summaries.write_scalars(data_counts, current, prefix="data/")
      if measure_distance and (current % train.eval_every == 0 or last):
        distances = measure_distance(recipe)
        logging.info("step %d: distance to held-out clips %s", current,
                     "  ".join(f"{name}={value:.4g}" for name, value in distances.items()))
        with writer.as_default():
          summaries.write_scalars(distances, current, prefix="eval/")
      if current % train.checkpoint_every == 0 or last:
        manager.save(checkpoint_number=current)
        saved = current
  except KeyboardInterrupt:
    if current > saved:
      manager.save(checkpoint_number=current)
    logging.warning("interrupted at step %d; checkpoint saved in %s", current, checkpoint_dir)
    raise
  finally:
    writer.flush()
  logging.info("done: checkpoints in %s, TensorBoard logs in %s", checkpoint_dir, summary_dir)
  return recipe
