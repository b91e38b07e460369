"""What the benchmarks share: configs as `relive train` reads them, a trainer on cached batches,
step timing, the matmul rate, the largest-batch search, and workers run as subprocesses that
answer with one JSON line."""

import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
MODELS = ("vgan", "cvgan", "lstm")
RESULT_PREFIX = "RESULT "


def config_spec(model, variant):
  """configs/<model>.py:<variant> as an absolute path; "tiny+gp" stands for the variant "tiny,gp"
  (commas separate list flags)."""
  return f"{REPO / 'configs' / model}.py:{variant.replace('+', ',')}"


def parse_entry(entry):
  """(model, variant) of a "MODEL:VARIANT" benchmark entry (vgan:tiny+poster).

  Raises:
    ValueError: not MODEL:VARIANT, or MODEL is not one of MODELS.
  """
  model, _, variant = entry.partition(":")
  if model not in MODELS or not variant:
    raise ValueError(
      f"config entry {entry!r} is not MODEL:VARIANT with MODEL one of {', '.join(MODELS)}: "
      "e.g. vgan:tiny+poster"
    )
  return model, variant


def load_config(spec, overrides=()):
  """The config of `spec` ("path.py:variant") with `--config.KEY=VALUE` overrides, parsed exactly as
  `relive train` parses them (ml_collections' config flags, config locked).

  Raises:
    AttributeError, KeyError: an override names a key the config lacks.
    ValueError, TypeError: an override's value does not fit its key, or the config file refuses
      the variant (ValueError: its last line).
  """
  from absl import flags  # noqa: PLC0415 (the driver processes import no TensorFlow)
  from ml_collections import config_flags  # noqa: PLC0415

  argv = ["bench", f"--config={spec}", *overrides]
  values = flags.FlagValues()
  # sys_argv: config_flags defines a flag for each override it finds there.
  config_flags.DEFINE_config_file(
    "config", None, "config", flag_values=values, lock_config=True, sys_argv=argv
  )
  try:
    values(argv)
  except flags.Error as error:  # absl wraps the config file's own error, traceback and all
    raise ValueError(f"{spec}: {str(error).strip().splitlines()[-1]}") from None
  return values.config


def split_overrides(argv):
  """(argv without them, the `--config.KEY=VALUE` arguments) of a command line."""
  overrides = [arg for arg in argv if arg.startswith("--config.")]
  return [arg for arg in argv if not arg.startswith("--config.")], overrides


def parse_flags(argv):
  """(absl's remaining argv, the `--config.KEY=VALUE` overrides): the bench scripts' flags_parser,
  so that absl does not reject the overrides it has not defined.

  Raises:
    SystemExit: a flag absl rejects (unknown, or a value out of its bounds), with absl's one-line
      message, as absl's own parser exits.
  """
  from absl import flags  # noqa: PLC0415

  argv, overrides = split_overrides(argv)
  try:
    return flags.FLAGS(argv), overrides
  except flags.Error as error:
    raise SystemExit(f"{os.path.basename(argv[0])}: {error}; see --help") from None


def load_average():
  """The 1-minute load average: above the core count, timings of the moment are not valid."""
  return os.getloadavg()[0]


def set_tensorflow_threads(threads):
  """TensorFlow's intra- and inter-op pools at `threads` each (0: TensorFlow's defaults)."""
  import relive_tf  # noqa: F401, PLC0415 (turns oneDNN on before TensorFlow loads, as relive does)

  # isort: split
  import tensorflow as tf  # noqa: PLC0415

  if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def build_trainer(config):
  """A relive_tf trainer of the config on one device, ready to train as `relive train` builds it."""
  import relive_tf  # noqa: F401, PLC0415 (turns oneDNN on before TensorFlow loads, as relive does)

  # isort: split
  import tensorflow as tf  # noqa: PLC0415

  from relive_tf import families  # noqa: PLC0415
  from relive_tf.training import inputs  # noqa: PLC0415
  from relive_tf.training import trainer as trainer_lib  # noqa: PLC0415

  strategy = tf.distribute.get_strategy()
  family = families.get(config.model_type)
  return trainer_lib.build(family, config, strategy, inputs.sample_batch(config))


def step_batches(config, trainer):
  """The first train step's global batches, as a list of {name: tensor}."""
  from relive_tf.training import inputs  # noqa: PLC0415

  dataset = inputs.training_batches(config, batch_size=config.train.batch_size)
  return list(dataset.take(trainer.batches_per_step))


def cached_iterator(config, trainer):
  """An endless iterator over one step's batches, cached: timings leave out making the data."""
  import tensorflow as tf  # noqa: PLC0415

  from relive_tf.training import inputs  # noqa: PLC0415

  dataset = inputs.training_batches(config, batch_size=config.train.batch_size)
  one_step = dataset.take(trainer.batches_per_step).cache().repeat()
  return iter(tf.distribute.get_strategy().experimental_distribute_dataset(one_step))


def time_steps(step, steps, warmup=1):
  """Seconds of each of `steps` calls of step() after `warmup` untimed ones; step() must return
  only once its work is done (read a metric)."""
  for _ in range(warmup):
    step()
  seconds = []
  for _ in range(steps):
    start = time.perf_counter()
    step()
    seconds.append(time.perf_counter() - start)
  return seconds


def step_seconds(seconds):
  """A run's time per step: the mean of its steps' seconds. Not the median, which would leave out
  a cost that comes every few steps (lazy R1 at one critic update in train.r1_every)."""
  return statistics.fmean(seconds)


def whole_periods(trainer, steps):
  """`steps` rounded up to a whole number of the trainer's lazy R1 periods (steps from one R1
  penalty to the next: 16 at r1_every 16 and 1 critic update a step, as the tiny recipe; 8 at 2),
  so a mean over them counts the penalty as often as training does."""
  every = getattr(trainer, "r1_every", 1) if getattr(trainer, "r1_weight", 0) else 1
  period = every // math.gcd(every, getattr(trainer, "critic_steps", 1))
  return -(-steps // period) * period


def tensorflow_step(trainer, iterator):
  """One train step that returns when it has finished (its first metric read back)."""

  def step():
    metrics = trainer.train_step(iterator)
    return float(next(iter(metrics.values())))

  return step


def compute_dtype(config):
  """The dtype config.train.precision's layers compute in (float32, bfloat16 or float16), as Keras
  names its mixed policies, without importing it here (the driver does not load TensorFlow)."""
  return config.train.get("precision", "float32").removeprefix("mixed_")


def tensorflow_matmul_rate(size=2048, repeats=20, dtype="float32"):
  """FLOP/s of a size x size matmul in TensorFlow (tf.linalg.matmul) in dtype, the ceiling the steps
  are compared with."""
  import tensorflow as tf  # noqa: PLC0415

  a = tf.random.normal([size, size], dtype=dtype)
  b = tf.random.normal([size, size], dtype=dtype)
  multiply = tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)))
  seconds = time_steps(lambda: multiply().numpy(), repeats, warmup=2)
  return 2 * size**3 / sorted(seconds)[len(seconds) // 2]


def largest_batch(fits, start, high, multiple, may_probe):
  """The largest batch for which fits(batch) is true: batches double from `start` (up to `high`)
  until one fails, then the gap is bisected to a multiple of `multiple`.

  Args:
    fits: fn(batch) -> bool, one probe (a run at that batch).
    may_probe: fn(probes made so far) -> bool, false once the budget (runs, seconds) is spent.

  Returns:
    (the largest batch that fit or None, the smallest that failed or None, probes made).
  """
  passed, failed = [], []

  def probe(batch):
    (passed if fits(batch) else failed).append(batch)
    return batch in passed

  batch = start
  while may_probe(len(passed) + len(failed)) and batch <= high and probe(batch):
    batch *= 2
  if passed and failed:
    low, top = max(passed), min(failed)
    while may_probe(len(passed) + len(failed)) and top - low > multiple:
      middle = (low + top) // 2 // multiple * multiple
      if middle in (low, top):
        break
      if probe(middle):
        low = middle
      else:
        top = middle
  largest = max(passed, default=None)
  above = min((b for b in failed if largest is None or b > largest), default=None)
  return largest, above, len(passed) + len(failed)


def median(values):
  ordered = sorted(values)
  middle = len(ordered) // 2
  return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(result):
  """Prints a worker's result as the one line run_worker reads."""
  print(RESULT_PREFIX + json.dumps(result), flush=True)


def relive_command(*arguments):
  """(command, environment) that run `relive ARGUMENTS...` from this checkout with this Python,
  whichever relive_tf the environment has installed."""
  command = [sys.executable, "-c", "import sys; from relive_tf import cli; sys.exit(cli.run())"]
  path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
  return [*command, *arguments], {**os.environ, "PYTHONPATH": path}


def run_worker(command, timeout, env=None):
  """Runs a worker (a list: the script and its flags, run with this Python) and returns its JSON.

  Raises:
    RuntimeError: the worker failed, timed out or printed no result; the message ends with its
      output's last lines.
  """
  try:
    done = subprocess.run(
      [sys.executable, *command],
      capture_output=True,
      text=True,
      timeout=timeout,
      env={**os.environ, **(env or {})},
      check=False,
    )
  except subprocess.TimeoutExpired as error:
    raise RuntimeError(f"{' '.join(command)} ran past {timeout} s") from error
  lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
  if done.returncode or not lines:
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
    raise RuntimeError(f"{' '.join(command)} failed (exit {done.returncode}):\n{tail}")
  return json.loads(lines[-1][len(RESULT_PREFIX) :])
