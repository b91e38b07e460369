"""The video WGAN on a GPU: the largest batch that fits, then steps/s and MFU with and without mixed
precision and XLA, in one run that keeps to a time budget.

  # once, on the GPU machine, from the repository root:
  python -m pip install "tensorflow[and-cuda]==2.21.0" -r requirements.txt
  python -m pip install --no-deps -e .
  python bench/gpu.py --peak_tflops=989                 # H100 or H200 SXM: 989 bf16 dense TFLOP/s
  python bench/gpu.py --peak_tflops=989 --batch_size=256 --modes=mixed_bfloat16+xla --steps=50

1. Largest batch (skipped with --batch_size): subprocesses build the trainer (float32, no XLA) at
   batches doubling from --batch_low, then bisecting to multiples of --batch_multiple, at most
   --max_probes of them, and run --probe_steps steps; a batch fits when TensorFlow raises no
   out-of-memory error. The other modes use at most as much memory per example.
2. Each of --modes ("float32", "mixed_bfloat16", "+xla" for train.jit_compile) at that batch, in its
   own subprocess: --warmup steps, then --steps timed steps on one step's batches held in GPU
   memory (no host-to-device copies in the timing). Printed: s/step, steps/s, clips/s (critic and
   generator updates see batch x critic_steps clips), TFLOP/s and MFU = FLOPs per step x steps/s /
   (--peak_tflops x 1e12), the bf16 dense peak of the chip. FLOPs per step are counted from the
   step's graph (bench/flops.py), the same in every mode: the same arithmetic, done in 16 bits or
   fused by XLA (every mode computes R1 at every critic update, train.r1_every=1, as XLA must).
Starts nothing new after --budget_seconds (a device lease is short) and prints what it has;
--json_out keeps it all. Runs on a CPU too (--allow_cpu), to check the script itself.
"""

import relive_tf  # noqa: F401, I001 (turns oneDNN on before TensorFlow loads, as relive does)

import json
import pathlib
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for bench/
from bench import harness  # noqa: E402

MODES = ("float32", "mixed_bfloat16", "float32+xla", "mixed_bfloat16+xla")

flags.DEFINE_enum("model", "vgan", list(harness.MODELS), "model family: configs/<model>.py")
flags.DEFINE_string("variant", "default", "config variant; '+' joins several (tiny+gp)")
flags.DEFINE_float("peak_tflops", None, "the chip's bf16 dense peak, TFLOP/s (the MFU denominator)")
flags.DEFINE_list("modes", list(MODES), f"precision[+xla] of each timed run: {', '.join(MODES)}")
flags.DEFINE_integer("batch_size", 0, "batch of the timed runs (0: the largest that fits)")
flags.DEFINE_integer("batch_low", 64, "the search's first batch")
flags.DEFINE_integer("batch_multiple", 32, "the search's batches are multiples of this")
flags.DEFINE_integer("batch_high", 8192, "largest batch the search tries")
flags.DEFINE_integer("max_probes", 6, "runs the largest-batch search may make")
flags.DEFINE_integer("probe_steps", 1, "steps of each search run")
flags.DEFINE_integer("steps", 20, "timed steps per mode")
flags.DEFINE_integer("warmup", 3, "untimed steps per mode first (compilation, autotuning)")
flags.DEFINE_float("budget_seconds", 780, "start no new run after this many seconds")
flags.DEFINE_bool("allow_cpu", False, "run without a GPU (to check the script)")
flags.DEFINE_string("json_out", "", "also write the results to this JSON file")
flags.DEFINE_integer("timeout", 1200, "seconds before a subprocess is given up")
flags.DEFINE_string("worker", "", "internal: a mode to time, or 'probe'")
FLAGS = flags.FLAGS


class ResidentBatches:
  """An iterator for train_step over batches held in device memory, taken in turn.

  train_step is traced once with it (it is passed as the same Python object every call): each
  next() while tracing captures the next of the tensors, so every step reads the same batches
  where they are, without the input pipeline or copies.
  """

  def __init__(self, batches):
    self.batches = batches
    self.position = 0

  def __iter__(self):
    return self

  def __next__(self):
    batch = self.batches[self.position % len(self.batches)]
    self.position += 1
    return batch


def _out_of_memory(error):
  return "RESOURCE_EXHAUSTED" in str(error) or "out of memory" in str(error).lower()


def worker(mode, batch, overrides):
  """Builds and runs one mode (or a float32 probe) at a batch; reports what it measured."""
  import tensorflow as tf  # noqa: PLC0415

  from bench import flops  # noqa: PLC0415

  precision, _, xla = ("float32" if mode == "probe" else mode).partition("+")
  config = harness.load_config(
    harness.config_spec(FLAGS.model, FLAGS.variant),
    [
      *overrides,
      f"--config.train.batch_size={batch}",
      f"--config.train.precision={precision}",
      f"--config.train.jit_compile={bool(xla)}",
      "--config.train.num_samples=2",
      # R1 at every critic update, as XLA runs it: the FLOP count (bench/flops.py counts a
      # condition's larger branch) is then the arithmetic every mode does.
      "--config.train.r1_every=1",
    ],
  )
  try:
    trainer = harness.build_trainer(config)
    device = "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
    with tf.device(device):
      batches = [
        {name: tf.identity(value) for name, value in batch.items()}
        for batch in harness.step_batches(config, trainer)
      ]
    iterator = ResidentBatches(batches)
    step = harness.tensorflow_step(trainer, iterator)
    step_flops = flops.graph_flops(trainer.train_step.get_concrete_function(iterator).graph)
    steps = FLAGS.probe_steps if mode == "probe" else harness.whole_periods(trainer, FLAGS.steps)
    warmup = 1 if mode == "probe" else FLAGS.warmup
    seconds = harness.time_steps(step, steps, warmup)
  except (tf.errors.ResourceExhaustedError, tf.errors.InternalError) as error:
    if not _out_of_memory(error):
      raise
    harness.report({"fits": False})
    return
  harness.report(
    {
      "fits": True,
      "seconds": seconds,
      "step_flops": step_flops,
      "clips_per_step": batch * trainer.batches_per_step,
      "device": device,
    }
  )


def run(mode, batch, overrides):
  command = [__file__, f"--worker={mode}", f"--batch_size={batch}", *_forwarded(), *overrides]
  return harness.run_worker(command, FLAGS.timeout)


def _forwarded():
  names = ("model", "variant", "steps", "warmup", "probe_steps")
  return [f"--{name}={FLAGS[name].value}" for name in names]


def largest_batch(overrides, deadline):
  def fits(batch):
    fit = run("probe", batch, overrides)["fits"]
    print(f"  batch {batch:>6}: {'fits' if fit else 'out of memory'}", flush=True)
    return fit

  largest, _, _ = harness.largest_batch(
    fits,
    FLAGS.batch_low,
    FLAGS.batch_high,
    FLAGS.batch_multiple,
    lambda probes: probes < FLAGS.max_probes and time.monotonic() < deadline,
  )
  return largest


def main(parsed):
  _, overrides = parsed
  if FLAGS.worker:
    worker(FLAGS.worker, FLAGS.batch_size, overrides)
    return
  if FLAGS.peak_tflops is None:
    raise app.UsageError("--peak_tflops: the chip's bf16 dense peak (989 for an H100/H200 SXM)")
  import tensorflow as tf  # noqa: PLC0415

  gpus = tf.config.list_physical_devices("GPU")
  if not gpus and not FLAGS.allow_cpu:
    raise app.UsageError("no GPU is visible to TensorFlow; --allow_cpu checks the script on a CPU")
  names = [tf.config.experimental.get_device_details(gpu).get("device_name", "?") for gpu in gpus]
  print(
    f"{FLAGS.model}:{FLAGS.variant} on {', '.join(names) or 'the CPU'}; "
    f"peak {FLAGS.peak_tflops} TFLOP/s"
  )
  deadline = time.monotonic() + FLAGS.budget_seconds
  batch = FLAGS.batch_size
  if not batch:
    print("largest batch (float32, no XLA):")
    batch = largest_batch(overrides, deadline)
    if batch is None:
      print(f"  batch {FLAGS.batch_low} does not fit: lower --batch_low")
      return
  print(f"\nbatch {batch}")
  print(f"  {'mode':<20}{'s/step':>9}{'steps/s':>9}{'clips/s':>9}{'TFLOP/s':>9}{'MFU':>7}")
  results, step_flops = {}, None
  for mode in FLAGS.modes:
    if time.monotonic() > deadline:
      print(f"  {mode:<20}not run: --budget_seconds={FLAGS.budget_seconds:g} spent")
      continue
    result = results[mode] = run(mode, batch, overrides)
    if not result["fits"]:
      print(f"  {mode:<20}out of memory at batch {batch}")
      continue
    step_flops = step_flops or result["step_flops"]
    seconds = harness.step_seconds(result["seconds"])
    rate = step_flops / seconds if step_flops else float("nan")
    print(
      f"  {mode:<20}{seconds:>9.3f}{1 / seconds:>9.2f}{result['clips_per_step'] / seconds:>9.0f}"
      f"{rate / 1e12:>9.1f}{rate / (FLAGS.peak_tflops * 1e12):>7.1%}",
      flush=True,
    )
  if step_flops:
    print(f"\n{step_flops / 1e12:.3f} TFLOP per step (the step's graph, bench/flops.py)")
  if FLAGS.json_out:
    with open(FLAGS.json_out, "w", encoding="utf-8") as f:
      json.dump({"batch_size": batch, "step_flops": step_flops, "modes": results}, f, indent=1)


if __name__ == "__main__":
  app.run(main, flags_parser=harness.parse_flags)
