"""Where a train step's oneDNN time goes, per primitive, pass and shape, from oneDNN's own log.

  python bench/onednn_primitives.py                                # vgan tiny+poster, 2 steps
  python bench/onednn_primitives.py --configs=vgan:tiny,cvgan:tiny --steps=3 --top=30

TensorFlow's profiler (bench/profile_step.py) names the ops that ran (Conv3DBackpropInputV2);
oneDNN's verbose mode (ONEDNN_VERBOSE=1) names what each one ran: the primitive (convolution,
reorder), its implementation (brgconv_strided:avx512_core), the pass (forward_training,
backward_data, backward_weights) and the problem (mb8_ic8oc16_id16od8kd4sd2...: batch, channels in
and out, sizes, kernel, stride), with the milliseconds of each execution. It is how the heads'
transposed convolution, run as a backward-data pass with 4 channels across the vector lanes, was
found (docs/benchmarks.md, "A sixth").

For each config (at --batch_size, one step's batches cached as bench/harness.py does) a worker
process with ONEDNN_VERBOSE=1 (oneDNN reads it when it starts) runs two untimed steps, then
--steps steps with its standard output sent to a file; the executions logged there are summed by
(primitive, implementation, pass, problem). Logging costs time of its own, so the sums rank the
primitives; they do not time the step (the table prints the logged steps' wall time beside them).
"""

import collections
import contextlib
import ctypes
import os
import pathlib
import sys
import tempfile
import time

from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for bench/
from bench import harness  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
  """The script's flags, defined when it runs: tests import its functions beside
  bench/profile_step.py, whose flags share these names."""
  flags.DEFINE_list(
    "configs", ["vgan:tiny+poster"], "MODEL:VARIANT of configs/<model>.py; '+' joins variants"
  )
  flags.DEFINE_integer("steps", 2, "logged train steps, after two untimed ones")
  flags.DEFINE_integer("batch_size", 8, "global batch size (the configs' train.batch_size)")
  flags.DEFINE_integer("threads", 2, "TensorFlow's intra- and inter-op threads (0: its default)")
  flags.DEFINE_integer("top", 20, "rows of the table")
  flags.DEFINE_integer("timeout", 3600, "seconds before a worker is given up")
  flags.DEFINE_string("worker", "", "internal: the config spec a worker logs")


def primitive_table(lines):
  """oneDNN's executions in a log, summed.

  Args:
    lines: oneDNN's log lines, "onednn_verbose,[timestamp,]v1,primitive,exec,cpu,KIND,
      IMPLEMENTATION,PASS,memory,attributes,auxiliary,PROBLEM,MILLISECONDS"; other lines (the
      primitives' creation, other output) are left out.

  Returns:
    {(kind, implementation, pass, problem): [executions, milliseconds]}.
  """
  table = collections.defaultdict(lambda: [0, 0.0])
  for line in lines:
    if line.startswith("onednn_verbose,"):
      fields = line.rstrip().split(",")
      if "exec" not in fields:
        continue
      at = fields.index("exec")
      entry = table[tuple(fields[at + 2 : at + 5]) + (fields[-2],)]
      entry[0] += 1
      entry[1] += float(fields[-1])
  return dict(table)


@contextlib.contextmanager
def standard_output_to(file):
  """Sends file descriptor 1, where oneDNN's C code logs, to `file` inside the block; C's and
  Python's buffered lines are flushed on each side, so that each lands where it was written."""
  libc = ctypes.CDLL(None)
  libc.fflush(None)
  sys.stdout.flush()
  saved = os.dup(1)
  try:
    os.dup2(file.fileno(), 1)
    yield
  finally:
    libc.fflush(None)
    sys.stdout.flush()
    os.dup2(saved, 1)
    os.close(saved)


def worker(spec, overrides):
  harness.set_tensorflow_threads(FLAGS.threads)
  config = harness.load_config(spec, [*overrides, f"--config.train.batch_size={FLAGS.batch_size}"])
  trainer = harness.build_trainer(config)
  step = harness.tensorflow_step(trainer, harness.cached_iterator(config, trainer))
  step()  # compiles
  step()  # the cached batches settle
  with tempfile.TemporaryFile("w+") as log:
    with standard_output_to(log):
      start = time.perf_counter()
      for _ in range(FLAGS.steps):
        step()
      seconds = time.perf_counter() - start
    log.seek(0)
    table = primitive_table(log)
  harness.report({"seconds": seconds, "rows": [[*key, *value] for key, value in table.items()]})


def print_table(title, table, seconds, steps, top):
  total = sum(ms for _, ms in table.values())
  print(
    f"\n{title}: oneDNN executions {total / steps:.1f} ms/step; the logged steps took "
    f"{seconds / steps * 1e3:.1f} ms/step (the log slows them)"
  )
  rows = sorted(table.items(), key=lambda item: -item[1][1])
  width = max([len(key[1]) + 1 for key, _ in rows[:top]] + [28])
  header = f"{'primitive':<12} {'implementation':<{width}} {'pass':<17} problem"
  print(f"  {'ms/step':>8} {'calls':>6}  {header}")
  for (kind, implementation, direction, problem), (calls, ms) in rows[:top]:
    print(
      f"  {ms / steps:>8.1f} {calls / steps:>6.1f}  {kind:<12} {implementation:<{width}} "
      f"{direction:<17} {problem}"
    )
  if rows[top:]:
    rest = sum(ms for _, (_, ms) in rows[top:])
    print(f"  {rest / steps:>8.1f}         ({len(rows) - top} more)")


def main(parsed):
  _, overrides = parsed
  if FLAGS.worker:
    worker(FLAGS.worker, overrides)
    return
  print(f"load average {harness.load_average():.2f}")
  for entry in FLAGS.configs:
    model, variant = harness.parse_entry(entry)
    command = [
      __file__,
      f"--worker={harness.config_spec(model, variant)}",
      f"--steps={FLAGS.steps}",
      f"--batch_size={FLAGS.batch_size}",
      f"--threads={FLAGS.threads}",
      *overrides,
    ]
    result = harness.run_worker(command, FLAGS.timeout, env={"ONEDNN_VERBOSE": "1"})
    table = {tuple(row[:4]): row[4:] for row in result["rows"]}
    title = f"{entry} batch {FLAGS.batch_size}"
    print_table(title, table, result["seconds"], FLAGS.steps, FLAGS.top)
  print(f"\nload average {harness.load_average():.2f} at the end")


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=harness.parse_flags)
