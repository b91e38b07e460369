"""The training loop every model family shares: strategy, data, checkpoints, summaries, progress."""

import contextlib
import glob
import math
import os
import signal
import tempfile
import time

import tensorflow as tf
from absl import logging

from relive_tf import errors
from relive_tf import files
from relive_tf import progress
from relive_tf.data import pipeline
from relive_tf.data import shards
from relive_tf.training import checkpoints
from relive_tf.training import distribution
from relive_tf.training import gradient_registry
from relive_tf.training import inputs
from relive_tf.training import settings
from relive_tf.training import step_timing
from relive_tf.training import stopping
from relive_tf.training import summaries
from relive_tf.training import trainer as trainer_lib
from relive_tf.training import workdir as workdir_lib


class NonFiniteLossError(FloatingPointError):
  """A loss or a weight became NaN or infinite; the checkpoints written before it are kept."""


def validate(config, num_replicas):
  """Rejects settings the loop cannot run (settings.validate), and a batch that does not divide
  over the replicas.

  Raises:
    ValueError: naming the key, the value and what it needs.
  """
  settings.validate(config)
  if config.train.batch_size % num_replicas:
    raise ValueError(
      f"train.batch_size {config.train.batch_size} does not divide over {num_replicas} "
      "replicas; use a multiple of the replica count"
    )


def distributed_batches(config, strategy, start, stamped=False):
  """The training data from example `start`, split over the strategy's input pipelines and replicas.

  Each input pipeline (one per worker) reads the indices equal to its number modulo the pipeline
  count; its replicas take consecutive per-replica batches, so one global batch is train.batch_size
  consecutive examples whatever the replica count. With `stamped`, each batch also carries the time
  it was ready (step_timing.stamped), for a step_timing.TimedIterator.

  With one replica on the host's CPU (distribution.feeds_from_host) the step reads the pipeline
  itself, with tf.data's autotuning off: tf.distribute's input pipeline would add a per-device
  dataset with autotuning on, and the destructor of an iterator with autotuning waited up to a
  minute for its thread, at the interpreter's exit or wherever the trainer was freed
  (docs/reliability.md, "Exit"). Autotuning off did not slow the step (docs/benchmarks.md).
  """

  def dataset_fn(context):
    batches = inputs.training_batches(
      config,
      batch_size=context.get_per_replica_batch_size(config.train.batch_size),
      start=start,
      num_shards=context.num_input_pipelines,
      shard_index=context.input_pipeline_id,
    )
    if logging.vlog_is_on(1):
      batches = batches.map(_logging_indices(context))
    return step_timing.stamped(batches) if stamped else batches

  if distribution.feeds_from_host(strategy):
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset_fn(tf.distribute.InputContext()).with_options(options)
  return strategy.distribute_datasets_from_function(dataset_fn)


def timed_batches(config, strategy, start):
  """An iterator of distributed_batches from example `start`, timing the step's waits for its
  batches (step_timing.TimedIterator): the batches `relive train` reads."""
  return step_timing.TimedIterator(
    iter(distributed_batches(config, strategy, start=start, stamped=True)), strategy
  )


def _logging_indices(context):
  """A batch -> batch function that prints the example indices it holds (with --verbosity=1):
  "input pipeline 1 of 2 reads examples [1 3]", read ahead of the step that trains on them."""
  prefix = f"input pipeline {context.input_pipeline_id} of {context.num_input_pipelines}"

  def log(batch):
    tf.print(prefix, "reads examples", batch["index"], summarize=-1)
    return batch

  return log


class Progress:
  """Steps per second over the last logging window and the time left at that rate.

  The first window of a run (or of a resumed one) includes compiling the train step, which a rate
  would spread over the steps left (a 200-step tiny run read "11m41s left" at step 1): its line
  gives the window's seconds instead.
  """

  def __init__(self, step, num_steps, clock=time.perf_counter):
    self.num_steps = num_steps
    self.clock = clock  # seconds
    self.window_start = self.run_start = (step, clock())
    self.steps_per_second = self.window_seconds = math.nan
    self.windows = 0  # measured so far

  def update(self, step):
    last_step, last_time = self.window_start
    now = self.clock()
    if step > last_step:
      self.window_seconds = now - last_time
      self.steps_per_second = (step - last_step) / self.window_seconds
      self.windows += 1
    self.window_start = (step, now)

  def line(self, step, metrics):
    values = "  ".join(f"{name}={value:.4g}" for name, value in sorted(metrics.items()))
    if self.windows == 1:
      return f"step {step}/{self.num_steps}  {values}  {self.window_seconds:.1f} s with compiling"
    left = (
      progress.format_duration((self.num_steps - step) / self.steps_per_second)
      if self.steps_per_second > 0
      else "?"
    )
    return (
      f"step {step}/{self.num_steps}  {values}  {self.steps_per_second:.2f} steps/s  {left} left"
    )

  def done(self, step):
    """The run's closing line: the steps this process trained and their wall time."""
    first, started = self.run_start
    seconds = progress.format_duration(self.clock() - started)
    return f"done: steps {first + 1} to {step} in {seconds}, compiling included"


def evaluation_line(step, measured):
  """The console line of an evaluation during training: the values named with at most one "/"
  ("frechet", "model/mse"); deeper ones ("model/mse/horizon_01": about 120 for a predictor) are
  counted, and go to TensorBoard with the rest. A value that is not finite (no digit to be
  consistent about) shows as "-", as in `relive evaluate`'s table."""
  shown = {name: value for name, value in measured.items() if name.count("/") < 2}
  line = "  ".join(
    f"{name}={value:.4g}" if math.isfinite(value) else f"{name}=-" for name, value in shown.items()
  )
  more = len(measured) - len(shown)
  return f"step {step}: {line}" + (f"  (+{more} more in TensorBoard, eval/)" if more else "")


class _FiniteCheck:
  """Finds the first non-finite value after a step: a loss, else a weight of the networks.

  A weight is checked because a NaN or infinite gradient reaches the weights before any loss: the
  weight it made non-finite is named.
  """

  def __init__(self, networks):
    self._variables = [
      variable for network in networks.values() for variable in network.trainable_variables
    ]
    self._finite = tf.function(
      lambda: tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in self._variables])
    )

  def problem(self, metrics):
    """'critic_loss=nan', 'the weight critic/disc3/kernel (...)', or None when all are finite."""
    bad = [f"{name}={value}" for name, value in metrics.items() if not math.isfinite(value)]
    if bad:
      return ", ".join(bad)
    finite = self._finite().numpy()
    if finite.all():
      return None
    names = [variable.path for variable, ok in zip(self._variables, finite, strict=True) if not ok]
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    return f"the weight {names[0]}{more} (a gradient of this step was NaN or infinite)"


def _scale_learning_rates(trainer, factor):
  """Multiplies every optimizer's learning rate by `factor`; returns {name: new rate}."""
  rates = {}
  for name, optimizer in trainer.optimizers.items():
    optimizer.learning_rate = float(optimizer.learning_rate) * factor
    rates[name] = float(optimizer.learning_rate)
  return rates


@contextlib.contextmanager
def _data_checks():
  """Raises the ValueError of a failed in-graph data check (a damaged shard: its name and the fix)
  instead of the TensorFlow error that carries it."""
  try:
    yield
  except tf.errors.OpError as error:
    message = errors.data_check_message(error)
    if message is None:
      raise
    raise ValueError(message) from None


def _skipped_records(config):
  """{"skipped_records": n} for the data/ summaries when data.skip_corrupt is on, else {}."""
  data = inputs.data_settings(config)
  if data["source"] != "shards" or not data["skip_corrupt"]:
    return {}
  skipped = shards.skipped_records(
    data["path"], split="train", frames=data["frames"], size=data["size"]
  )
  logging.info(
    "data.skip_corrupt: %d damaged records are left out of every pass over %s",
    skipped,
    data["path"],
  )
  return {"skipped_records": skipped}


def _write_summaries(trainer, metrics, step, heavy):
  summaries.write_scalars(metrics, step)
  if heavy:
    summaries.write_kernel_histograms(trainer.networks, step)
    videos = pipeline.to_uint8_video(trainer.sample_videos()).numpy()
    summaries.write_gif("train/samples", videos, step)


def _summary_writers(workdir, chief, runs):
  """{run: summary writer} of WORKDIR/tb/<run> for each run ("train", "eval"): TensorBoard shows
  each folder as a run, so the runs of several workdirs sit side by side. Only the chief writes."""
  if not chief:
    return {run: tf.summary.create_noop_writer() for run in runs}
  return {
    run: tf.summary.create_file_writer(os.path.join(workdir, workdir_lib.SUMMARY_DIR, run))
    for run in runs
  }


def _evaluators(config, family):
  """The family's evaluators of train.eval_every, built before any step runs."""
  if config.train.eval_every <= 0:
    return []
  if family.training_evaluators is None:
    raise ValueError(
      f"train.eval_every is {config.train.eval_every}, but the {family.title} has "
      "no evaluation during training; set it to 0 (`relive evaluate` measures it)"
    )
  return family.training_evaluators(config)


# Settings outside `model` whose change can add variables a checkpoint lacks: train.ema_decay from
# 0 (the averaged generator), train.precision to mixed_float16 (the loss scale).
STATE_KEYS = ("train.ema_decay", "train.precision")


def _missing_state(restore_from, workdir, changes):
  """The one-line error for a checkpoint that lacks variables of the run resuming from it: a change
  of STATE_KEYS passes config_changes, then fails here."""
  adding = [(key, old, new) for key, old, new in changes if key in STATE_KEYS]
  if adding:
    changed = "; ".join(f"{key} ({old} there, {new} now)" for key, old, new in adding)
    why = f": the changed {changed} adds state"
  else:
    why = " (was it written by another version of relive_tf?)"
  return (
    f"{restore_from} does not hold every variable this run needs{why}; resume with the "
    f"settings in {os.path.join(workdir, workdir_lib.CONFIG_FILE)} or use another workdir"
  )


def _save(manager, step, saved):
  """manager.save(checkpoint_number=step); a failed write is deleted and raised as a WriteError.

  The checkpoint state file names a checkpoint only once its files are complete, so the one of
  step `saved` stays the latest whatever point the write failed at.
  """
  try:
    manager.save(checkpoint_number=step)
  except (tf.errors.OpError, OSError) as error:
    prefix = os.path.join(manager.directory, f"ckpt-{step}")
    # The checkpoint's files (ckpt-N.index, ckpt-N.data-*) and TensorFlow's temporary folder.
    if files.is_remote(prefix):
      written = tf.io.gfile.glob(prefix + ".*") + tf.io.gfile.glob(prefix + "_temp*")
    else:
      written = glob.glob(glob.escape(prefix) + ".*") + glob.glob(glob.escape(prefix) + "_temp*")
    for path in written:
      if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
      else:
        tf.io.gfile.remove(path)
    kept = f"the checkpoint of step {saved} is kept" if saved else "no checkpoint was written yet"
    raise errors.write_error(f"the checkpoint of step {step}", prefix, error, kept) from error


def _preemption_handler(strategy, manager, checkpoint_dir, num_steps):
  """A PreemptionCheckpointHandler for a multi-worker run, else None.

  On SIGTERM to any worker, the workers agree on a step, each saves its checkpoint there (only the
  chief's lands in the workdir), and the run stops with stopping.Stopped, exit status 0.
  """
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return None

  def stop():
    raise stopping.Stopped(
      f"preempted before step {num_steps}; checkpoint saved in {checkpoint_dir}: run the same "
      "command to resume",
      signal.SIGTERM,
    )

  return tf.distribute.experimental.PreemptionCheckpointHandler(
    strategy.cluster_resolver,
    manager,
    termination_config=tf.distribute.experimental.TerminationConfig(exit_fn=stop),
  )


def _with_absolute_data_path(config):
  """The config with data.path as config.json keeps it (workdir.absolute_data_path)."""
  path = workdir_lib.absolute_data_path(config.data.source, config.data.get("path"))
  if path == config.data.get("path"):
    return config
  config = config.copy_and_resolve_references()
  config.data.path = path
  return config


def train_and_evaluate(config, workdir, family, strategy=None):
  """Trains a model of `family` in workdir, resuming from its latest checkpoint.

  Args:
    config: a model config (configs/*.py), resolved; config.model_type is family.name.
    workdir: holds config.json, checkpoints/ and the TensorBoard runs tb/train and tb/eval.
    family: the model's Family (relive_tf/families.py looks it up by config.model_type).
    strategy: a tf.distribute strategy; picked from the machine when None.

  Returns:
    The trainer (trained networks, optimizers) at the last step.

  Raises:
    ValueError: settings the loop cannot run, a workdir of another model or in use, a folder
      `relive export` or `relive gallery` wrote, a checkpoint without state a changed setting adds,
      or a damaged shard (naming it and the fix; see data.skip_corrupt).
    NonFiniteLossError: a loss or a weight became NaN or infinite (with train.nan_policy
      "restore": again after train.nan_max_restores restores, or before any checkpoint).
    stopping.Stopped: SIGINT (Ctrl-C) or SIGTERM arrived; the step it arrived in was finished and
      saved (exit_status 130 for Ctrl-C, 0 for SIGTERM).
    KeyboardInterrupt: a second SIGINT stopped the step it arrived in; the last checkpoint stays.
  """
  strategy = strategy or distribution.pick_strategy()
  config = _with_absolute_data_path(settings.with_loop_keys(config))
  validate(config, strategy.num_replicas_in_sync)
  # Only the chief holds and writes the workdir; the other workers of a multi-worker run save their
  # share of each checkpoint in a scratch folder of their own.
  chief = distribution.is_chief(strategy)
  if chief:
    workdir_lib.check_not_other_output(workdir)
  holding = files.exclusive_use(workdir, "relive train") if chief else contextlib.nullcontext()
  scratch = (
    contextlib.nullcontext() if chief else tempfile.TemporaryDirectory(prefix="relive_worker_")
  )
  # The run's graphs are released only where freeing them cannot stall: through tf.distribute's
  # input pipeline the step holds an iterator whose destructor may wait up to a minute for tf.data's
  # autotuning thread (docs/reliability.md, "Memory after a run").
  releasing = (
    gradient_registry.released_custom_gradients()
    if distribution.feeds_from_host(strategy)
    else contextlib.nullcontext()
  )
  lost_workers = distribution.lost_workers(strategy)
  with holding, scratch as worker_dir, _data_checks(), lost_workers, releasing:
    return _train(config, workdir, family, strategy, worker_dir)


def _train(config, workdir, family, strategy, worker_dir):
  """train_and_evaluate's run; worker_dir is None on the chief, else a worker's scratch folder."""
  chief = worker_dir is None
  checkpoint_dir = os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)
  # Before the manager reads the state file, which the chief writes anew where it is unusable.
  written = checkpoints.checkpoint_prefixes(checkpoint_dir, repair=chief)
  # Every worker refuses a changed model; the chief alone writes config.json, after the restore.
  changes = workdir_lib.config_changes(workdir, config, family, checkpointed=bool(written))
  logging.debug("config:\n%s", config)
  train = config.train

  logging.info("building the %s networks...", family.title)
  trainer = trainer_lib.build(family, config, strategy, inputs.sample_batch(config))
  for name, network in trainer.networks.items():
    count = sum(math.prod(variable.shape) for variable in network.trainable_variables)
    logging.info("%s: %s trainable parameters", name, f"{count:,}")
  # Counters live outside the strategy: the Python loop alone updates them, identically everywhere.
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  data_position = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_position")
  checkpoint = checkpoints.make_checkpoint(trainer, step=step, data_position=data_position)
  # Every worker must take part in a save; only the chief's lands in the workdir.
  manager = tf.train.CheckpointManager(
    checkpoint, checkpoint_dir if chief else worker_dir, max_to_keep=train.max_checkpoints
  )
  restore_from, status = checkpoints.read_newest(checkpoint, checkpoint_dir, written)
  if restore_from:
    # Every variable of this run must come back; a multi-worker checkpoint also holds the
    # PreemptionCheckpointHandler's own counter, which the handler reads itself.
    try:
      status.assert_existing_objects_matched()
    except AssertionError:
      raise ValueError(_missing_state(restore_from, workdir, changes)) from None
    logging.info("resumed from %s at step %d", restore_from, int(step))
  if int(step) >= train.num_steps:
    # Before the config is saved: a run that trains nothing changes nothing of the workdir's.
    logging.info(
      "already trained to step %d (train.num_steps=%d): nothing to do", int(step), train.num_steps
    )
    return trainer
  if chief:
    workdir_lib.save_config(workdir, config, changes, step=int(step))
    workdir_lib.check_data(workdir, config, int(step))

  iterator = timed_batches(config, strategy, int(data_position))
  data_counts = _skipped_records(config)
  evaluators = _evaluators(config, family)
  writers = _summary_writers(workdir, chief, runs=("train", "eval") if evaluators else ("train",))

  logging.info("compiling the train step (the first step takes longer)...")
  progress = Progress(int(step), train.num_steps)
  current = saved = int(step)
  first = current + 1  # logged alone, so that the window that compiles is one step
  timer = step_timing.LoopTimer(iterator)
  finite_check = _FiniteCheck(trainer.networks)
  restores = 0  # train.nan_policy="restore": how many times this run went back to a checkpoint
  preemption = _preemption_handler(strategy, manager, checkpoint_dir, train.num_steps)
  # Under a preemption handler SIGTERM is its own: the workers agree on the step to save.
  deferred = (signal.SIGINT,) if preemption else stopping.TRAINING_SIGNALS
  try:
    # A signal waits for the step to finish: step, data position and weights are saved together.
    with stopping.StopRequests(signals=deferred) as stop:
      while current < train.num_steps:
        with timer.step():
          metrics = {name: float(value) for name, value in trainer.train_step(iterator).items()}
        current += 1
        problem = finite_check.problem(metrics)
        if problem:
          where = manager.latest_checkpoint
          if train.nan_policy != "restore" or restores >= train.nan_max_restores or not where:
            if train.nan_policy != "restore":
              why = ""
            elif not where:
              why = " (train.nan_policy='restore', but no checkpoint was written yet to go back to)"
            else:
              why = f" after {restores} restores (train.nan_max_restores={train.nan_max_restores})"
            restore = "" if train.nan_policy == "restore" else " set train.nan_policy='restore',"
            if where:
              kept = f"The last good checkpoint ({where}) is kept; lower"
            else:  # `why` already says so under the restore policy
              kept = (
                "Lower" if train.nan_policy == "restore" else "No checkpoint was written yet; lower"
              )
            raise NonFiniteLossError(
              f"{problem} at step {current}: training stopped{why}. {kept} train.learning_rate,"
              f"{restore} or check the data"
            )
          restores += 1
          checkpoints.read(checkpoint, where).assert_consumed()
          rates = _scale_learning_rates(trainer, train.nan_lr_factor)
          logging.warning(
            "%s at step %d: restored %s (step %d), learning rates now %s (restore %d of %d)",
            problem,
            current,
            where,
            int(step),
            rates,
            restores,
            train.nan_max_restores,
          )
          current = int(step)
          iterator = timed_batches(config, strategy, int(data_position))
          timer = step_timing.LoopTimer(iterator)
          continue
        step.assign(current)
        data_position.assign_add(trainer.batches_per_step * train.batch_size)
        last = current == train.num_steps
        log_now = current % train.log_every == 0 or last or current == first
        heavy_now = current % train.summary_every == 0 or last
        if log_now:
          progress.update(current)
          logging.info(progress.line(current, metrics))
        if log_now or heavy_now:
          with writers["train"].as_default():
            _write_summaries(
              trainer,
              {**metrics, "steps_per_second": progress.steps_per_second, **timer.fractions()},
              current,
              heavy=heavy_now,
            )
            summaries.write_scalars(data_counts, current, prefix="data/")
        if evaluators and (current % train.eval_every == 0 or last):
          measured = {
            name: value for evaluator in evaluators for name, value in evaluator.run(trainer)
          }
          logging.info(evaluation_line(current, measured))
          with writers["eval"].as_default():
            summaries.write_scalars(measured, current, prefix="eval/")
        if current % train.checkpoint_every == 0 or last or stop.requested:
          _save(manager, current, saved)
          saved = current
        if preemption:
          # Every step: the handler counts these calls to agree on the step to save at; calls at
          # checkpoint steps only put that step a whole interval (or past the run's end) away.
          preemption.save_checkpoint_if_preempted(checkpoint_number=current)
        if stop.requested and not last:
          raise stopping.Stopped(
            f"stopped at step {current} of {train.num_steps} "
            f"({signal.Signals(stop.requested).name}); checkpoint saved in {checkpoint_dir}: "
            "run the same command to resume",
            stop.requested,
          )
  except KeyboardInterrupt:
    kept = f"the checkpoint of step {saved} is kept" if manager.latest_checkpoint else "none saved"
    logging.warning("interrupted during step %d: %s", current + 1, kept)
    raise
  finally:
    for writer in writers.values():
      writer.flush()
  logging.info(progress.done(current))
  return trainer
