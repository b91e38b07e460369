"""Memory of `relive train`: peak RSS at a batch, the largest batch under a limit, RSS over a run.

  python bench/memory.py                                   # all three, as issue 19 asks
  python bench/memory.py --measure=peak --peak_batch=8     # configs/vgan.py (default) at batch 8
  python bench/memory.py --measure=largest --limit_gib=24 --max_probes=6
  python bench/memory.py --measure=flat --flat_steps=1000  # configs/vgan.py:tiny over 1,000 steps
  python bench/memory.py --measure=runs --runs=3           # 3 default runs in one process

Each measurement trains in new workdirs, in processes of its own (--config.KEY=VALUE overrides
apply to all); peak, largest and flat run `relive train` as a subprocess:
- peak: --peak_variant at --peak_batch for --peak_steps steps; the child's peak resident set
  (getrusage's ru_maxrss, read when it exits).
- largest: the same config at growing batches (doubling from --peak_batch, then bisecting to
  multiples of --batch_multiple), each for --probe_steps steps, until --max_probes runs; a run
  fits when its peak RSS stays under --limit_gib. A watchdog stops a run as soon as its RSS crosses
  the limit, and the limit is lowered to what the machine has available (less 1 GiB), so a probe
  never pushes other jobs out of memory; the output says when it did. Also printed: the straight
  line through the fitting runs' peaks (fixed + per-example MiB) and the batch it puts at the limit.
- flat: --flat_variant for --flat_steps steps, the child's RSS sampled every --sample_seconds and
  tied to the step its log reached; printed at tenths of the run, with the growth from the first
  tenth to the end.
- runs (not in the default list): one worker process trains --runs times, each run a new workdir
  of --peak_variant at --runs_batch for one step (`loop.train_and_evaluate`, as a notebook or a
  sweep would call it); its RSS after each run, once garbage is collected. What a run leaves
  behind in the process (relive_tf/training/gradient_registry.py) shows as growth from run to run.
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for bench/
from bench import harness  # noqa: E402

flags.DEFINE_list("measure", ["peak", "largest", "flat"], "which measurements")
flags.DEFINE_enum("model", "vgan", list(harness.MODELS), "model family: configs/<model>.py")
flags.DEFINE_string("peak_variant", "default", "variant of the peak and largest-batch runs")
flags.DEFINE_integer("peak_batch", 8, "batch of the peak run; the largest-batch search starts here")
flags.DEFINE_integer("peak_steps", 2, "steps of the peak run")
flags.DEFINE_float("limit_gib", 24.0, "memory a run may take in the largest-batch search")
flags.DEFINE_integer("batch_multiple", 8, "the search's batches are multiples of this")
flags.DEFINE_integer("batch_high", 1024, "largest batch the search tries")
flags.DEFINE_integer("max_probes", 6, "runs the largest-batch search may make")
flags.DEFINE_integer("probe_steps", 1, "steps of each search run")
flags.DEFINE_string("flat_variant", "tiny", "variant of the RSS-over-time run")
flags.DEFINE_integer("flat_steps", 1000, "steps of the RSS-over-time run")
flags.DEFINE_float("sample_seconds", 2.0, "RSS sampling interval of the flat run")
flags.DEFINE_integer("runs", 3, "training runs of the runs measurement")
flags.DEFINE_integer("runs_batch", 2, "batch of the runs measurement")
flags.DEFINE_integer("timeout", 7200, "seconds before a run is stopped")
flags.DEFINE_bool("runs_worker", False, "internal: train --runs times in this process")
FLAGS = flags.FLAGS

GIB = 1 << 30
MIB = 1 << 20
STEP_LINE = re.compile(r"step (\d+)/\d+")


def available_bytes():
  """MemAvailable of /proc/meminfo."""
  with open("/proc/meminfo", encoding="utf-8") as f:
    for line in f:
      if line.startswith("MemAvailable:"):
        return int(line.split()[1]) * 1024
  raise OSError("no MemAvailable in /proc/meminfo")


def resident_bytes(pid):
  """The process's current resident set (VmRSS), 0 once it is gone."""
  try:
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
      for line in f:
        if line.startswith("VmRSS:"):
          return int(line.split()[1]) * 1024
  except FileNotFoundError:
    pass
  return 0


def relive_train(variant, batch, steps, overrides, limit=None, on_sample=None):
  """Runs `relive train` and watches its memory.

  Args:
    limit: bytes; the run is stopped when its RSS goes above (None: no limit).
    on_sample: fn(seconds, rss bytes, last logged step) called every --sample_seconds, or None.

  Returns:
    {"peak_bytes": the child's ru_maxrss, "over_limit": whether the watchdog stopped it,
    "failed": its error output's last lines when it failed otherwise ("" when it finished)}.
  """
  workdir = tempfile.mkdtemp(prefix="memory_")
  command, env = harness.relive_command(
    "train",
    f"--config={harness.config_spec(FLAGS.model, variant)}",
    f"--workdir={workdir}",
    *overrides,
    f"--config.train.batch_size={batch}",
    f"--config.train.num_steps={steps}",
  )
  child = subprocess.Popen(
    command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
  )
  state = {"step": 0, "over_limit": False, "tail": []}
  done = threading.Event()  # set once wait4 has reaped the child (poll() here would race it)

  def read_log():
    for line in child.stderr:
      state["tail"] = (state["tail"] + [line])[-15:]
      match = STEP_LINE.search(line)
      if match:
        state["step"] = int(match.group(1))

  def watch():
    start = last_sample = time.monotonic()
    interval = 0.05 if limit else FLAGS.sample_seconds
    while not done.is_set():
      rss = resident_bytes(child.pid)
      if limit and rss > limit:
        state["over_limit"] = True
        child.kill()
        return
      now = time.monotonic()
      if on_sample and now - last_sample >= FLAGS.sample_seconds:
        on_sample(now - start, rss, state["step"])
        last_sample = now
      if now - start > FLAGS.timeout:
        child.kill()
        return
      done.wait(interval)

  readers = [threading.Thread(target=read_log), threading.Thread(target=watch)]
  for thread in readers:
    thread.start()
  _, status, usage = os.wait4(child.pid, 0)
  child.returncode = os.waitstatus_to_exitcode(status)
  done.set()
  for thread in readers:
    thread.join()
  failed = "" if child.returncode == 0 or state["over_limit"] else "".join(state["tail"])
  return {"peak_bytes": usage.ru_maxrss * 1024, "over_limit": state["over_limit"], "failed": failed}


def measure_peak(overrides):
  run = relive_train(FLAGS.peak_variant, FLAGS.peak_batch, FLAGS.peak_steps, overrides)
  if run["failed"]:
    raise RuntimeError(f"relive train failed:\n{run['failed']}")
  print(
    f"peak: {FLAGS.model}:{FLAGS.peak_variant} at batch {FLAGS.peak_batch}, "
    f"{FLAGS.peak_steps} steps: {run['peak_bytes'] / GIB:.2f} GiB peak RSS"
  )
  return run["peak_bytes"]


def measure_largest(overrides):
  limit = FLAGS.limit_gib * GIB
  room = available_bytes() - GIB
  if room < limit:
    print(
      f"largest: this machine has {room / GIB:.1f} GiB to spare (MemAvailable less 1 GiB), under "
      f"--limit_gib={FLAGS.limit_gib:g}: the search stops there instead"
    )
    limit = room
  peaks = {}

  def fits(batch):
    run = relive_train(FLAGS.peak_variant, batch, FLAGS.probe_steps, overrides, limit=limit)
    outcome = "over the limit" if run["over_limit"] else ("failed" if run["failed"] else "fits")
    print(f"  batch {batch:>5}: {run['peak_bytes'] / GIB:6.2f} GiB peak RSS, {outcome}")
    if run["failed"]:
      print("    " + run["failed"].strip().splitlines()[-1])
    if outcome == "fits":
      peaks[batch] = run["peak_bytes"]
    return outcome == "fits"

  print(f"largest: {FLAGS.model}:{FLAGS.peak_variant} under {limit / GIB:.1f} GiB")
  largest, above, probes = harness.largest_batch(
    fits,
    FLAGS.peak_batch,
    FLAGS.batch_high,
    FLAGS.batch_multiple,
    lambda probes: probes < FLAGS.max_probes,
  )
  if largest is None:
    print(f"  nothing fits from batch {FLAGS.peak_batch}")
    return
  print(
    f"  largest batch that fits: {largest} ({peaks[largest] / GIB:.2f} GiB)"
    + (f"; {above} does not" if above else f"; larger ones were not tried ({probes} runs)")
  )
  if len(peaks) >= 2:
    batches = sorted(peaks)
    first, last = batches[0], batches[-1]
    per_example = (peaks[last] - peaks[first]) / (last - first)
    fixed = peaks[first] - per_example * first
    estimate = int((limit - fixed) / per_example) if per_example > 0 else None
    print(
      f"  straight line through the fits: {fixed / MIB:.0f} MiB + {per_example / MIB:.1f} MiB "
      f"per example; the limit at batch {estimate}"
    )


def measure_flat(overrides):
  samples = []
  run = relive_train(
    FLAGS.flat_variant,
    harness.load_config(
      harness.config_spec(FLAGS.model, FLAGS.flat_variant), overrides
    ).train.batch_size,
    FLAGS.flat_steps,
    overrides,
    on_sample=lambda seconds, rss, step: samples.append((seconds, rss, step)),
  )
  if run["failed"]:
    raise RuntimeError(f"relive train failed:\n{run['failed']}")
  print(
    f"flat: {FLAGS.model}:{FLAGS.flat_variant} over {FLAGS.flat_steps} steps, RSS every "
    f"{FLAGS.sample_seconds:g} s; peak {run['peak_bytes'] / MIB:.0f} MiB"
  )
  print(f"  {'step':>6}{'seconds':>9}{'RSS MiB':>9}")
  # From step 1 on: before it the child is still starting (importing, building, compiling).
  marks = [max(1, FLAGS.flat_steps * tenth // 10) for tenth in range(1, 11)]
  shown = []
  for mark in marks:
    reached = [sample for sample in samples if sample[2] >= mark]
    sample = reached[0] if reached else (samples[-1] if samples else None)
    if sample and sample not in shown:
      shown.append(sample)
      print(f"  {sample[2]:>6}{sample[0]:>9.0f}{sample[1] / MIB:>9.0f}")
  if len(shown) >= 2:
    (_, first_rss, first_step), (_, last_rss, last_step) = shown[0], shown[-1]
    growth = (last_rss - first_rss) / MIB
    per_hundred = growth / max(last_step - first_step, 1) * 100
    print(
      f"  from step {first_step} to {last_step}: {growth:+.0f} MiB ({per_hundred:+.2f} MiB per "
      "100 steps)"
    )


def runs_worker(overrides):
  import gc  # noqa: PLC0415 (the driver imports no TensorFlow)

  from relive_tf import families  # noqa: PLC0415
  from relive_tf.training import loop  # noqa: PLC0415

  config = harness.load_config(
    harness.config_spec(FLAGS.model, FLAGS.peak_variant),
    [*overrides, f"--config.train.batch_size={FLAGS.runs_batch}", "--config.train.num_steps=1"],
  )
  resident = []
  for _ in range(FLAGS.runs):
    with tempfile.TemporaryDirectory(prefix="memory_runs_") as workdir:
      loop.train_and_evaluate(config, workdir, families.get(config.model_type))
    gc.collect()
    resident.append(resident_bytes(os.getpid()))
  harness.report({"resident_bytes": resident})


def measure_runs(overrides):
  result = harness.run_worker(
    [
      __file__,
      "--runs_worker",
      f"--model={FLAGS.model}",
      f"--peak_variant={FLAGS.peak_variant}",
      f"--runs={FLAGS.runs}",
      f"--runs_batch={FLAGS.runs_batch}",
      *overrides,
    ],
    FLAGS.timeout,
  )
  resident = [value / MIB for value in result["resident_bytes"]]
  print(
    f"runs: {FLAGS.model}:{FLAGS.peak_variant} at batch {FLAGS.runs_batch}, one step a run, "
    f"{FLAGS.runs} runs in one process; RSS after each, MiB: "
    + ", ".join(f"{value:.0f}" for value in resident)
  )
  if len(resident) >= 2:
    growth = (resident[-1] - resident[0]) / (len(resident) - 1)
    print(f"  from run 1 to {len(resident)}: {growth:+.0f} MiB a run")


def main(parsed):
  _, overrides = parsed
  if FLAGS.runs_worker:
    runs_worker(overrides)
    return
  print(f"load average {harness.load_average():.2f}; {available_bytes() / GIB:.1f} GiB available")
  if "peak" in FLAGS.measure:
    measure_peak(overrides)
  if "largest" in FLAGS.measure:
    measure_largest(overrides)
  if "flat" in FLAGS.measure:
    measure_flat(overrides)
  if "runs" in FLAGS.measure:
    measure_runs(overrides)


if __name__ == "__main__":
  app.run(main, flags_parser=harness.parse_flags)
