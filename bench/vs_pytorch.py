"""relive_tf's train step against a PyTorch eager twin of the same networks, side by side.

  python -m pip install -r bench/requirements.txt   # PyTorch, for this benchmark alone
  python bench/vs_pytorch.py                        # the poster's recipe, tiny and full; 3 rounds
  python bench/vs_pytorch.py --configs=vgan:tiny+poster --rounds=5 --steps=5
  python bench/vs_pytorch.py --configs=vgan:tiny+poster,cvgan:tiny+poster,lstm:tiny

Each --configs entry MODEL:VARIANT (configs/<model>.py:<variant>, "+" joining variants: tiny+gp)
is built from one config, with --config.KEY=VALUE overrides parsed as `relive train` parses them,
at --batch_size. The twin mirrors the poster's recipe (WGAN weight clipping, RMSprop, transposed
convolutions; also a gradient penalty, Adam, hinge or logistic losses): a config with resize
upsampling, a frame critic, spectral norm, R1 or an EMA generator is left out with a line that says
so (bench/torch_twin.py unmirrored()), never timed against a different network.

Per round, a subprocess times relive_tf's train step (bench/harness.py: one step's batches cached,
--warmup untimed steps, then --steps timed ones) and another the twin's (bench/torch_twin.py); the
frameworks take turns going first. Both run --threads threads (TF's
intra- and inter-op pools, torch.set_num_threads and set_num_interop_threads), PyTorch with
flush-to-zero on (torch.set_flush_denormal: clipped weights otherwise make it several times
slower), as TensorFlow runs by default. Each subprocess also times a 2048x2048 matmul in its own
framework (tf.linalg.matmul, torch.matmul), in the dtype the layers compute in: its ceiling.

--config.train.precision=mixed_bfloat16 runs both in bfloat16: relive_tf's layers by Keras' dtype
policy, the twin's forward passes under torch.autocast (bench/torch_twin.py autocast()), float32
weights in both. mixed_float16 has no twin (--frameworks=relive_tf times relive_tf alone).

The twin must have relive_tf's parameter count per network: the PyTorch worker stops with an
error naming both counts where they differ.

Printed per config: the parameter counts, GFLOP per step, then per framework the median s/step over
the rounds (each round's mean over its timed steps, which relive_tf rounds up to whole lazy R1
periods: harness.whole_periods), every round's figure, GFLOP/s, the matmul rate
and the step's share of it; then relive_tf / PyTorch, the ratio of the medians (below 1: relive_tf
is faster). FLOPs are counted from relive_tf's traced train step (bench/flops.py: every
convolution, transposed convolution, their gradients and matmuls that run, 2 per multiply-add, LSTM
loops times their length) and used for both frameworks, which do the same arithmetic. The load
average is printed at the start and the end: timings taken while other jobs share the cores are
not valid figures.
"""

import json
import os
import pathlib
import sys
import tempfile

from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for bench/
from bench import harness  # noqa: E402

FRAMEWORKS = ("relive_tf", "pytorch")
# The poster's recipe, CPU-sized and full: what the twin mirrors.
DEFAULT_CONFIGS = (
  "vgan:tiny+poster",
  "vgan:poster",
  "cvgan:tiny+poster",
  "cvgan:poster",
  "lstm:tiny",
  "lstm:default",
)

flags.DEFINE_list(
  "configs",
  list(DEFAULT_CONFIGS),
  "MODEL:VARIANT of configs/<model>.py to compare; '+' joins variants (vgan:tiny+gp)",
)
flags.DEFINE_integer("rounds", 3, "rounds; each times every framework once, in turn")
flags.DEFINE_integer("steps", 3, "timed train steps per framework and round")
flags.DEFINE_integer("warmup", 1, "untimed train steps first (compilation, allocation)")
flags.DEFINE_integer("batch_size", 8, "global batch size (the configs' train.batch_size)")
flags.DEFINE_integer("threads", 2, "threads in each framework")
flags.DEFINE_list("frameworks", list(FRAMEWORKS), "which to time")
flags.DEFINE_integer("timeout", 3600, "seconds before a worker is given up")
flags.DEFINE_string("json_out", "", "also write every measurement to this JSON file")
# A worker: one framework, one config, one round.
flags.DEFINE_enum("worker", "", ["", *FRAMEWORKS], "internal: run as this framework's worker")
flags.DEFINE_string("spec", "", "internal: the worker's config file and variant")
flags.DEFINE_string(
  "shared", "", "internal: the JSON file relive_tf's worker describes the step in"
)
FLAGS = flags.FLAGS


def worker_config(overrides):
  return harness.load_config(
    FLAGS.spec, [*overrides, f"--config.train.batch_size={FLAGS.batch_size}"]
  )


def relive_tf_worker(overrides):
  """Times relive_tf's step; with --shared, first writes its parameter counts, FLOPs and one step's
  batches there for the twin."""
  harness.set_tensorflow_threads(FLAGS.threads)
  import math  # noqa: PLC0415

  import numpy as np  # noqa: PLC0415

  from bench import flops  # noqa: PLC0415

  config = worker_config(overrides)
  trainer = harness.build_trainer(config)
  iterator = harness.cached_iterator(config, trainer)
  if FLAGS.shared and not os.path.exists(FLAGS.shared):
    batches = harness.step_batches(config, trainer)
    arrays = {
      f"{i}/{name}": value.numpy() for i, b in enumerate(batches) for name, value in b.items()
    }
    np.savez(FLAGS.shared + ".npz", **arrays)
    graph = trainer.train_step.get_concrete_function(iterator).graph
    description = {
      "parameters": {
        name: sum(math.prod(v.shape) for v in network.trainable_variables)
        for name, network in trainer.networks.items()
      },
      "step_flops": flops.graph_flops(graph),
      "batches_per_step": trainer.batches_per_step,
    }
    with open(FLAGS.shared, "w", encoding="utf-8") as f:
      json.dump(description, f)
  if not FLAGS.steps:
    harness.report({})
    return
  matmul = harness.tensorflow_matmul_rate(dtype=harness.compute_dtype(config))
  seconds = harness.time_steps(
    harness.tensorflow_step(trainer, iterator),
    harness.whole_periods(trainer, FLAGS.steps),
    FLAGS.warmup,
  )
  harness.report({"seconds": seconds, "matmul_flops_per_second": matmul})


def pytorch_worker(overrides):
  """Times the twin's step on relive_tf's batches, after checking its parameter counts."""
  import numpy as np  # noqa: PLC0415
  import torch  # noqa: PLC0415

  from bench import torch_twin  # noqa: PLC0415

  torch.set_num_threads(FLAGS.threads)
  torch.set_num_interop_threads(FLAGS.threads)
  torch.set_flush_denormal(True)
  config = worker_config(overrides)
  torch.manual_seed(config.seed)
  with open(FLAGS.shared, encoding="utf-8") as f:
    description = json.load(f)
  twin = torch_twin.build(config)
  counts = {name: torch_twin.parameter_count(network) for name, network in twin.networks.items()}
  if counts != description["parameters"]:
    raise SystemExit(
      f"{FLAGS.spec}: the PyTorch twin's parameter counts {counts} differ from relive_tf's "
      f"{description['parameters']}: the twin does not build this config's networks"
    )
  arrays = np.load(FLAGS.shared + ".npz")
  batches = []
  for i in range(description["batches_per_step"]):
    batch = {key.split("/", 1)[1]: arrays[key] for key in arrays.files if key.startswith(f"{i}/")}
    batches.append(torch_twin.to_torch(batch, config.model_type))
  matmul = torch_matmul_rate(torch, getattr(torch, harness.compute_dtype(config)))
  seconds = harness.time_steps(lambda: twin.train_step(batches), FLAGS.steps, FLAGS.warmup)
  harness.report({"seconds": seconds, "matmul_flops_per_second": matmul})


def torch_matmul_rate(torch, dtype, size=2048, repeats=20):
  """FLOP/s of a size x size torch.matmul in dtype."""
  a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
  seconds = harness.time_steps(lambda: torch.matmul(a, b), repeats, warmup=2)
  return 2 * size**3 / harness.median(seconds)


def runs_of(spec, overrides):
  """(config, [(label, worker flags)]) to time for a config: relive_tf's and the twin's.

  Raises:
    ValueError: the twin does not mirror the config (bench/torch_twin.py unmirrored(), or its
      train.precision: autocast()), or the config or an override is bad (also AttributeError,
      KeyError, TypeError).
  """
  config = harness.load_config(spec, overrides)
  runs = []
  if "relive_tf" in FLAGS.frameworks:
    runs.append(("relive_tf", ["--worker=relive_tf"]))
  if "pytorch" in FLAGS.frameworks:
    from bench import torch_twin  # noqa: PLC0415 (PyTorch, only where it is compared)

    found = torch_twin.unmirrored(config)
    if found:
      raise ValueError(f"the PyTorch twin mirrors the poster's recipe, not {', '.join(found)}")
    torch_twin.autocast(config)
    runs.append(("pytorch", ["--worker=pytorch"]))
  return config, runs


def describe(spec, shared, config, results):
  description = {}
  if os.path.exists(shared):
    with open(shared, encoding="utf-8") as f:
      description = json.load(f)
  parameters = ", ".join(f"{k} {v:,}" for k, v in description.get("parameters", {}).items())
  flops = description.get("step_flops", 0)
  print(
    f"\n{spec.split('/')[-1]}  batch {FLAGS.batch_size}, {description.get('batches_per_step')} "
    f"batches per step; parameters (equal in both): {parameters}; {flops / 1e9:.2f} GFLOP/step; "
    f"layers and matmul rate in {harness.compute_dtype(config)}"
  )
  print(
    f"  {'framework':<15}{'s/step':>9}  {'per round':<24}{'GFLOP/s':>9}{'matmul GFLOP/s':>16}"
    f"{'share':>7}"
  )
  medians = {}
  for label, rounds in results.items():
    if not rounds:
      continue
    per_round = [harness.step_seconds(r["seconds"]) for r in rounds]
    seconds = medians[label] = harness.median(per_round)
    matmul = harness.median([r["matmul_flops_per_second"] for r in rounds])
    rate = flops / seconds
    print(
      f"  {label:<15}{seconds:>9.3f}  {' '.join(f'{s:.3f}' for s in per_round):<24}"
      f"{rate / 1e9:>9.1f}{matmul / 1e9:>16.1f}{rate / matmul:>7.0%}"
    )
  for label in medians:
    if label != "relive_tf" and "relive_tf" in medians:
      print(f"  relive_tf / {label}: {medians['relive_tf'] / medians[label]:.2f}")
  return {"config": spec, "batch_size": FLAGS.batch_size, **description, "runs": results}


def driver(overrides):
  load = harness.load_average()
  print(
    f"{os.cpu_count()} cores, load average {load:.2f} at the start; {FLAGS.threads} threads per "
    f"framework, {FLAGS.rounds} rounds of {FLAGS.warmup} + {FLAGS.steps} steps (relive_tf: whole "
    f"lazy R1 periods), batch "
    f"{FLAGS.batch_size}; overrides: {' '.join(overrides) or 'none'}"
  )
  plans = []
  for entry in FLAGS.configs:
    try:
      spec = harness.config_spec(*harness.parse_entry(entry))
      config, runs = runs_of(spec, overrides)
    except (AttributeError, KeyError, ValueError, TypeError) as error:
      print(f"{entry} left out: {error}")
      continue
    plans.append((spec, config, runs))
  if not plans:
    raise SystemExit("no config to compare: see the lines above, and --configs")
  workdir = tempfile.mkdtemp(prefix="vs_pytorch_")
  results = {spec: {label: [] for label, _ in runs} for spec, _, runs in plans}
  env = {"OMP_NUM_THREADS": str(FLAGS.threads), "MKL_NUM_THREADS": str(FLAGS.threads)}
  common = [
    f"--batch_size={FLAGS.batch_size}",
    f"--warmup={FLAGS.warmup}",
    f"--threads={FLAGS.threads}",
    *overrides,
  ]
  if "relive_tf" not in FLAGS.frameworks:  # the twin still needs relive_tf's description
    for number, (spec, _, _) in enumerate(plans):
      shared = os.path.join(workdir, f"config{number}.json")
      describe_only = ["--worker=relive_tf", f"--spec={spec}", f"--shared={shared}", "--steps=0"]
      harness.run_worker([__file__, *describe_only, *common], FLAGS.timeout, env=env)
  for round_index in range(FLAGS.rounds):
    for number, (spec, _, runs) in enumerate(plans):
      shared = os.path.join(workdir, f"config{number}.json")
      # relive_tf first in even rounds (it describes the step for the twin in the first).
      ordered = runs if round_index % 2 == 0 else runs[::-1]
      for label, worker_flags in ordered:
        command = [
          __file__,
          *worker_flags,
          f"--spec={spec}",
          f"--shared={shared}",
          f"--steps={FLAGS.steps}",
          *common,
        ]
        result = harness.run_worker(command, FLAGS.timeout, env=env)
        results[spec][label].append(result)
        print(
          f"round {round_index + 1}/{FLAGS.rounds}  {spec.split('/')[-1]:<20} {label:<14} "
          f"{harness.step_seconds(result['seconds']):.3f} s/step "
          f"(mean of {len(result['seconds'])})",
          flush=True,
        )
  summary = [
    describe(spec, os.path.join(workdir, f"config{number}.json"), config, results[spec])
    for number, (spec, config, _) in enumerate(plans)
  ]
  print(f"\nload average {harness.load_average():.2f} at the end (valid figures need about 0)")
  if FLAGS.json_out:
    with open(FLAGS.json_out, "w", encoding="utf-8") as f:
      json.dump({"load_average": [load, harness.load_average()], "configs": summary}, f, indent=1)


def main(parsed):
  _, overrides = parsed
  if FLAGS.worker == "relive_tf":
    relive_tf_worker(overrides)
  elif FLAGS.worker == "pytorch":
    pytorch_worker(overrides)
  else:
    driver(overrides)


if __name__ == "__main__":
  app.run(main, flags_parser=harness.parse_flags)
