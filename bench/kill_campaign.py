"""Kills `relive train` (SIGKILL) at random moments and counts the finished steps each kill loses.

  nice -n 10 python bench/kill_campaign.py --out=runs/kill_campaign [--kills=10 --num_steps=24
    --checkpoint_every=4 --config=configs/vgan.py:tiny --seed=0]

Each kill waits for a random step line (log_every=1) past the step the run resumed from, then a
random 0 to 1.5 s more, so it lands in a step, a summary write or a checkpoint save alike. The
steps lost by a kill are the last step the run printed minus the step of the checkpoint the next
run resumes from (a step finished but not yet printed would count one more). A workdir is killed
until it resumes past its last periodic checkpoint, then trained to the end and checked: the last
checkpoint holds train.num_steps, and the event files read back (relive_tf.gallery.events) hold
one point per step for every train/ loss, equal to those of a straight run of the same config.

Prints one line per kill and a Markdown summary (docs/reliability.md).
"""

import relive_tf  # noqa: F401, I001 (sets TensorFlow's environment before its import)

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading

import tensorflow as tf
from absl import app
from absl import flags

from relive_tf.gallery import events

_OUT = flags.DEFINE_string("out", None, "folder for the campaign's workdirs (deleted first)")
_KILLS = flags.DEFINE_integer("kills", 10, "SIGKILLs to send in all", lower_bound=1)
_NUM_STEPS = flags.DEFINE_integer("num_steps", 24, "train.num_steps of each workdir")
_CHECKPOINT_EVERY = flags.DEFINE_integer("checkpoint_every", 4, "train.checkpoint_every")
_CONFIG = flags.DEFINE_string("config", "configs/vgan.py:tiny", "config file and variant")
_SEED = flags.DEFINE_integer("seed", 0, "seed of the kill moments")
flags.mark_flag_as_required("out")

_STEP_LINE = re.compile(r"^step (\d+)/\d+ ")
_LOSSES = ("train/critic_loss", "train/generator_loss", "train/wasserstein_estimate")


def _command(workdir):
  relive = os.path.join(os.path.dirname(sys.executable), "relive")
  return [
    relive,
    "train",
    f"--config={_CONFIG.value}",
    f"--workdir={workdir}",
    f"--config.train.num_steps={_NUM_STEPS.value}",
    f"--config.train.checkpoint_every={_CHECKPOINT_EVERY.value}",
    "--config.train.log_every=1",
    "--config.train.critic_steps=1",
    "--config.train.batch_size=2",
    "--config.train.num_samples=1",
  ]


def _checkpoint_step(workdir):
  latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
  if latest is None:
    return 0
  return int(tf.train.load_variable(latest, "step/.ATTRIBUTES/VARIABLE_VALUE"))


def _kill_once(workdir, rng):
  """Runs `relive train` on workdir and SIGKILLs it.

  Returns:
    (last step printed, step after which the kill was armed), or None when the run finished first.
  """
  start = _checkpoint_step(workdir)
  kill_after = rng.randint(start + 1, _NUM_STEPS.value - 1)
  delay = rng.uniform(0.0, 1.5)
  printed = start
  with subprocess.Popen(_command(workdir), stderr=subprocess.PIPE, text=True) as process:
    timer = None
    for line in process.stderr:
      match = _STEP_LINE.match(line)
      if match:
        printed = int(match.group(1))
        if printed == kill_after and timer is None:
          timer = threading.Timer(delay, process.send_signal, (signal.SIGKILL,))
          timer.start()
    process.wait()
  if process.returncode == 0:  # it finished before the timer fired
    timer.cancel()
    return None
  if process.returncode != -signal.SIGKILL:
    raise RuntimeError(f"relive train ended with {process.returncode} before the kill")
  return printed, kill_after


def _finish(workdir):
  result = subprocess.run(_command(workdir), capture_output=True, text=True, check=False)
  if result.returncode != 0:
    raise RuntimeError(f"the resumed run failed:\n{result.stderr}")


def _losses(workdir):
  series, _ = events.read_series(os.path.join(workdir, "tb"))
  return {
    tag: [(step, float(tf.make_ndarray(value.tensor))) for step, value in series[tag]]
    for tag in _LOSSES
  }


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  rng = random.Random(_SEED.value)
  shutil.rmtree(_OUT.value, ignore_errors=True)
  straight = os.path.join(_OUT.value, "straight")
  _finish(straight)
  expected = _losses(straight)
  lost, chains, workdir = [], 0, None
  while len(lost) < _KILLS.value:
    if workdir is None:
      workdir = os.path.join(_OUT.value, f"killed{chains}")
      chains += 1
    killed = _kill_once(workdir, rng)
    resumes_at = _checkpoint_step(workdir)
    if killed:
      printed, kill_after = killed
      lost.append(printed - resumes_at)
      print(
        f"kill {len(lost)}: {workdir}, kill armed after step {kill_after}, last printed step "
        f"{printed}, resumes at {resumes_at}: {lost[-1]} steps lost",
        flush=True,
      )
    # A workdir past its last periodic checkpoint has no more kill moments of its own.
    if resumes_at + _CHECKPOINT_EVERY.value >= _NUM_STEPS.value or len(lost) == _KILLS.value:
      _finish(workdir)
      if _checkpoint_step(workdir) != _NUM_STEPS.value:
        raise RuntimeError(f"{workdir} did not end at step {_NUM_STEPS.value}")
      if _losses(workdir) != expected:
        raise RuntimeError(f"{workdir}'s losses differ from the straight run's")
      print(f"{workdir}: ends at step {_NUM_STEPS.value}, losses equal the straight run's")
      workdir = None
  print(
    f"\n| kills | checkpoint_every | steps lost per kill: max | mean | counts |\n"
    f"|---|---|---|---|---|\n"
    f"| {len(lost)} | {_CHECKPOINT_EVERY.value} | {max(lost)} | {sum(lost) / len(lost):.1f} "
    f"| {sorted(lost)} |"
  )


if __name__ == "__main__":
  app.run(main)
