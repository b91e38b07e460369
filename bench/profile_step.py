"""Where a train step's time goes: TensorFlow's profiler over a few steps, as a table of op types.

  python bench/profile_step.py                                  # vgan tiny and default, batch 8
  python bench/profile_step.py --configs=vgan:tiny --steps=5 --top=30
  python bench/profile_step.py --configs=lstm:tiny --group=name   # per op, not per op type
  python bench/profile_step.py --configs=vgan:tiny+poster,vgan:poster   # the poster's recipe

For each config (at --batch_size, one step's batches cached as bench/harness.py does), runs two
untimed steps, then traces --steps steps with tf.profiler.experimental and reads the trace it writes
(the .xplane.pb of --logdir, TensorFlow's own protobuf: no profiler plugin is needed) into:
- per op type (or op name, --group=name): calls per step, self time per step in ms (the op's time
  on the executor thread less the ops nested in it), its share of all ops' self time, and its share
  of the step's wall time (ops on TensorFlow's 2 inter-op threads can overlap, so these can add up
  to more than 100%);
- the step's wall time, the time any op ran (the union of op intervals) and the rest: time the
  executor spent between ops (scheduling, Python, waiting).
An op's time includes the work it hands to the intra-op (Eigen) threads. XLA-compiled functions
(the generator's composition in training; the whole replica step with train.jit_compile) leave no
op event of their own: their runs count as one row, "XLA-compiled function". The tiny variant takes
about a minute on 2 quiet cores; the trace stays in --logdir for TensorBoard's profile plugin.
"""

import collections
import glob
import os
import pathlib
import sys
import tempfile

from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for bench/
from bench import harness  # noqa: E402

flags.DEFINE_list(
  "configs",
  ["vgan:tiny", "vgan:default"],
  "MODEL:VARIANT of configs/<model>.py to profile; '+' joins variants (vgan:tiny+gp)",
)
flags.DEFINE_integer("steps", 3, "profiled train steps, after two untimed ones")
flags.DEFINE_integer("batch_size", 8, "global batch size (the configs' train.batch_size)")
flags.DEFINE_integer("threads", 2, "TensorFlow's intra- and inter-op threads (0: its default)")
flags.DEFINE_integer("top", 25, "rows of the table")
flags.DEFINE_enum("group", "type", ["type", "name"], "group ops by type or by name")
flags.DEFINE_string("logdir", "", "where the trace goes (default: a new temporary folder)")
FLAGS = flags.FLAGS

STEP_EVENT = "train_step"  # the tf.function's event on the Python thread, one per call
EXECUTOR_LINE = "tf_Compute"  # TensorFlow's inter-op threads, where ops run
# An XLA-compiled function's run on the CPU: its XlaLaunch op leaves no op event of its own (seen
# in this machine's traces; a GPU trace's name for it has not been checked, so it is not listed).
XLA_EVENTS = ("CpuExecutable::ExecuteAsyncOnStream",)
XLA_KEY = "XLA-compiled function"


def _op_key(metadata, group):
  """The table's key for an event, or None if it is not an op: TensorFlow ops are the events
  named "op_name:OpType" whose display name is the type; XLA's runs count as one op."""
  if metadata.name in XLA_EVENTS:
    return XLA_KEY
  if not metadata.display_name or not metadata.name.endswith(":" + metadata.display_name):
    return None
  return metadata.display_name if group == "type" else metadata.name.rsplit(":", 1)[0]


def _union_length(intervals):
  total, end = 0, None
  for start, stop in sorted(intervals):
    if end is None or start > end:
      total += stop - start
      end = stop
    elif stop > end:
      total += stop - end
      end = stop
  return total


def op_table(space, group="type"):
  """Self time of each op type (or name) in a profiled XSpace.

  Args:
    space: a tensorflow.tsl.profiler.protobuf.xplane_pb2.XSpace.
    group: "type" (Conv3D) or "name" (discriminator/disc1/convolution); either way the runs of
      XLA-compiled functions count under XLA_KEY.

  Returns:
    {"ops": {key: {"calls": n, "self_ps": picoseconds}}, "steps": number of train_step calls,
    "step_ps": their total wall time, "busy_ps": the time any op ran (union over threads)}.
  """
  ops = collections.defaultdict(lambda: {"calls": 0, "self_ps": 0})
  steps = step_ps = 0
  intervals = []
  for plane in space.planes:
    if not plane.name.startswith("/host:"):
      continue
    for line in plane.lines:
      events = sorted(line.events, key=lambda e: (e.offset_ps, -e.duration_ps))
      if not line.name.startswith(EXECUTOR_LINE):
        for event in events:
          if plane.event_metadata[event.metadata_id].name == STEP_EVENT:
            steps += 1
            step_ps += event.duration_ps
        continue
      stack = []  # [key, end, self time so far] of the ops enclosing the current one
      for event in events:
        key = _op_key(plane.event_metadata[event.metadata_id], group)
        if key is None:
          continue
        start, end = event.offset_ps, event.offset_ps + event.duration_ps
        while stack and stack[-1][1] <= start:
          done, _, self_ps = stack.pop()
          ops[done]["self_ps"] += self_ps
        if stack:
          stack[-1][2] -= event.duration_ps
        else:
          intervals.append((start, end))
        ops[key]["calls"] += 1
        stack.append([key, end, event.duration_ps])
      for key, _, self_ps in stack:
        ops[key]["self_ps"] += self_ps
  return {"ops": dict(ops), "steps": steps, "step_ps": step_ps, "busy_ps": _union_length(intervals)}


def read_trace(logdir):
  """The XSpace of the newest trace under a profiler log folder."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: PLC0415

  paths = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
  if not paths:
    raise FileNotFoundError(f"no .xplane.pb under {logdir}/plugins/profile: the trace failed")
  space = xplane_pb2.XSpace()
  with open(max(paths, key=os.path.getmtime), "rb") as f:
    space.ParseFromString(f.read())
  return space


def print_table(title, table, top):
  steps = max(table["steps"], 1)
  step_ms = table["step_ps"] / steps / 1e9
  total = sum(op["self_ps"] for op in table["ops"].values()) or 1
  busy_ms = table["busy_ps"] / steps / 1e9
  print(f"\n{title}: {step_ms:.1f} ms/step over {table['steps']} steps; an op ran {busy_ms:.1f} ms")
  print(f"  ({max(step_ms - busy_ms, 0):.1f} ms/step with no op running: scheduling, Python)")
  rows = sorted(table["ops"].items(), key=lambda item: -item[1]["self_ps"])
  # Whole names: grouped by name, the tail says which op (an input or a filter gradient).
  width = max([len(key) + 1 for key, _ in rows[:top]] + [46])
  print(f"  {'op':<{width}}{'calls/step':>11}{'self ms/step':>14}{'of op time':>12}{'of step':>9}")
  for key, op in rows[:top]:
    self_ms = op["self_ps"] / steps / 1e9
    print(
      f"  {key:<{width}}{op['calls'] / steps:>11.1f}{self_ms:>14.2f}"
      f"{op['self_ps'] / total:>12.1%}{self_ms / step_ms if step_ms else 0:>9.1%}"
    )
  rest = rows[top:]
  if rest:
    rest_ms = sum(op["self_ps"] for _, op in rest) / steps / 1e9
    print(f"  {f'({len(rest)} more)':<{width}}{'':>11}{rest_ms:>14.2f}")


def profile(spec, overrides, logdir):
  import tensorflow as tf  # noqa: PLC0415

  config = harness.load_config(spec, [*overrides, f"--config.train.batch_size={FLAGS.batch_size}"])
  trainer = harness.build_trainer(config)
  step = harness.tensorflow_step(trainer, harness.cached_iterator(config, trainer))
  step()  # compiles
  step()  # the cached batches settle
  tf.profiler.experimental.start(logdir)
  try:
    for _ in range(FLAGS.steps):
      step()
  finally:
    tf.profiler.experimental.stop()
  return op_table(read_trace(logdir), FLAGS.group)


def main(parsed):
  _, overrides = parsed
  harness.set_tensorflow_threads(FLAGS.threads)
  root = FLAGS.logdir or tempfile.mkdtemp(prefix="profile_step_")
  print(f"load average {harness.load_average():.2f}; traces in {root}")
  for entry in FLAGS.configs:
    model, variant = harness.parse_entry(entry)
    logdir = os.path.join(root, f"{model}_{variant}")
    table = profile(harness.config_spec(model, variant), overrides, logdir)
    print_table(f"{entry} batch {FLAGS.batch_size}", table, FLAGS.top)
  print(f"\nload average {harness.load_average():.2f} at the end")


if __name__ == "__main__":
  app.run(main, flags_parser=harness.parse_flags)
