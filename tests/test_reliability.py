"""Faults a long run meets: SIGTERM; SIGKILL and failing writes in train, prepare, export; NaN."""

import errno
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import sys

import pytest
import tensorflow as tf
from tensorflow.python.checkpoint import checkpoint_management as management

from relive_tf import errors
from relive_tf import families
from relive_tf import files
from relive_tf.data import prepare
from relive_tf.data import shards
from relive_tf.serving import publish
from relive_tf.serving import warmup
from relive_tf.training import loop
from relive_tf.training import trainer as trainer_lib

import helpers

TINY = f"--config={helpers.REPO}/configs/vgan.py:tiny"
NUM_STEPS = 6
FAST = [
  f"--config.train.num_steps={NUM_STEPS}",
  "--config.train.critic_steps=1",
  "--config.train.batch_size=2",
  "--config.train.num_samples=1",
  "--config.train.log_every=1",
]


def _saved_step(checkpoint_prefix):
  return int(tf.train.load_variable(checkpoint_prefix, "step/.ATTRIBUTES/VARIABLE_VALUE"))


def test_sigterm_saves_the_step_it_arrived_in_and_exits_0_saying_how_to_resume(tmp_path):
  workdir = tmp_path / "run"
  # No periodic checkpoint: the only one is the stop's.
  args = [TINY, *FAST, "--config.train.checkpoint_every=100", f"--workdir={workdir}"]
  after = random.randint(1, NUM_STEPS - 2)
  command = os.path.join(os.path.dirname(sys.executable), "relive")
  with subprocess.Popen([command, "train", *args], stderr=subprocess.PIPE, text=True) as process:
    seen = []
    for line in process.stderr:
      seen.append(line)
      if line.startswith(f"step {after}/{NUM_STEPS}"):
        process.send_signal(signal.SIGTERM)
        break
    seen.extend(process.stderr)
  lines = "".join(seen)
  assert process.returncode == 0, (after, lines)
  assert "Traceback" not in lines
  stop = re.search(
    rf"relive train: stopped at step (\d+) of {NUM_STEPS} \(SIGTERM\); checkpoint saved in "
    rf"{workdir}/checkpoints: run the same command to resume",
    lines,
  )
  assert stop, lines
  stopped_at = int(stop.group(1))
  assert after <= stopped_at < NUM_STEPS
  latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
  assert latest.endswith(f"ckpt-{stopped_at}") and _saved_step(latest) == stopped_at


def test_sigterm_while_the_networks_build_exits_0_as_a_stop_does(tmp_path):
  args = [TINY, *FAST, f"--workdir={tmp_path / 'run'}"]
  command = os.path.join(os.path.dirname(sys.executable), "relive")
  with subprocess.Popen([command, "train", *args], stderr=subprocess.PIPE, text=True) as process:
    seen = []
    for line in process.stderr:
      seen.append(line)
      if "building the video WGAN networks" in line:  # TensorFlow loaded; no step yet
        process.send_signal(signal.SIGTERM)
        break
    seen.extend(process.stderr)
  lines = "".join(seen)
  # Before, the default action ended it with 143 and no word.
  assert process.returncode == 0, lines
  assert "Traceback" not in lines
  assert re.search(r"relive train: stopped (while starting|at step 1 )", lines), lines


# Run as `relive train`: SIGTERM arrives as TensorFlow starts to load, in the command's first
# seconds.
SIGTERM_AS_TENSORFLOW_LOADS = """
import os, signal, sys
from relive_tf import cli
from relive_tf.cli import console

load = console.setup

def load_after_a_sigterm(verbosity):
  os.kill(os.getpid(), signal.SIGTERM)
  load(verbosity)

console.setup = load_after_a_sigterm
sys.exit(cli.run(["relive", "train", *sys.argv[1:]]))
"""


def test_sigterm_as_tensorflow_loads_exits_0_as_a_stop_does(tmp_path):
  workdir = tmp_path / "run"
  result = subprocess.run(
    [sys.executable, "-c", SIGTERM_AS_TENSORFLOW_LOADS, TINY, *FAST, f"--workdir={workdir}"],
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  # Before, the handler came after TensorFlow had loaded: status -15 (143 in a shell), no word.
  assert result.returncode == 0, result.stderr
  assert result.stderr.endswith(
    "relive train: stopped while starting (SIGTERM), before any step: run the same command to "
    "train\n"
  ), result.stderr
  assert not (workdir / "checkpoints").exists()


# Run as `relive train`, killed (SIGKILL) while it saves the checkpoint of step KILL_AT: its data
# file is half written and the state file does not name it yet.
KILLED_IN_A_CHECKPOINT_WRITE = """
import glob, os, signal, sys
from tensorflow.python.checkpoint import checkpoint_management as management
from relive_tf import cli

write_state = management.update_checkpoint_state_internal

def die_in_the_write(save_dir, model_checkpoint_path, *args, **kwargs):
  if model_checkpoint_path.endswith("ckpt-{kill_at}"):
    for path in glob.glob(model_checkpoint_path + ".data-*"):
      os.truncate(path, os.path.getsize(path) // 2)
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
  write_state(save_dir, model_checkpoint_path, *args, **kwargs)

management.update_checkpoint_state_internal = die_in_the_write
cli.run(["relive", "train", *sys.argv[1:]])
"""


def _killed_train(script, kill_at, workdir, every):
  """Runs `relive train` through `script` (which SIGKILLs it in step kill_at) and checks that it
  died there; returns the run's arguments, for the resume."""
  args = [TINY, *FAST, f"--config.train.checkpoint_every={every}", f"--workdir={workdir}"]
  killed = subprocess.run(
    [sys.executable, "-c", script.format(kill_at=kill_at), *args],
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
  )
  assert killed.returncode == -signal.SIGKILL, killed.stderr
  assert f"step {kill_at}/{NUM_STEPS}" in killed.stderr
  return args


def test_sigkill_inside_a_checkpoint_write_resumes_from_the_one_before(tmp_path):
  workdir = tmp_path / "run"
  every, kill_at = 2, 4
  _killed_train(KILLED_IN_A_CHECKPOINT_WRITE, kill_at, workdir, every)
  checkpoint_dir = str(workdir / "checkpoints")
  assert glob.glob(f"{checkpoint_dir}/ckpt-{kill_at}.data-*"), "the cut checkpoint is on disk"
  assert tf.train.latest_checkpoint(checkpoint_dir).endswith(f"ckpt-{kill_at - every}")

  config = helpers.load_config(
    "vgan",
    train__num_steps=NUM_STEPS,
    train__critic_steps=1,
    train__batch_size=2,
    train__num_samples=1,
    train__log_every=1,
    train__checkpoint_every=every,
  )
  helpers.train(config, workdir)
  latest = tf.train.latest_checkpoint(checkpoint_dir)
  assert latest.endswith(f"ckpt-{NUM_STEPS}") and _saved_step(latest) == NUM_STEPS
  assert helpers.restore(workdir).step == NUM_STEPS
  # One series per tag: the steps the killed run wrote after step 2 were written again.
  for tag in ("train/critic_loss", "train/generator_loss", "train/steps_per_second"):
    steps = [step for step, _ in helpers.summary_values(workdir)[tag]]
    assert steps == list(range(1, NUM_STEPS + 1)), (tag, steps)


# Runs `relive train` and SIGKILLs it in the middle of step {kill_at}'s summary write: the event
# file flushed, its last record cut short, as a kill between two write() calls leaves it.
KILLED_IN_A_SUMMARY_WRITE = """
import glob, os, signal, sys
import tensorflow as tf
from relive_tf import cli
from relive_tf.training import loop

write_summaries = loop._write_summaries

def die_in_the_write(trainer, metrics, step, heavy):
  write_summaries(trainer, metrics, step, heavy)
  if step == {kill_at}:
    tf.summary.flush()
    newest = max(glob.glob(os.path.join(sys.argv[-1].split("=", 1)[1], "tb/train/events.*")))
    os.truncate(newest, os.path.getsize(newest) - 7)
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)

loop._write_summaries = die_in_the_write
cli.run(["relive", "train", *sys.argv[1:]])
"""


def test_sigkill_inside_a_summary_write_leaves_readers_one_series_per_tag(tmp_path):
  workdir = tmp_path / "run"
  every, kill_at = 2, 5
  args = _killed_train(KILLED_IN_A_SUMMARY_WRITE, kill_at, workdir, every)
  # Readers skip the cut record: the series ends at the killed step or the one before.
  cut = [step for step, _ in helpers.summary_values(workdir)["train/critic_loss"]]
  assert cut[0] == 1 and cut[-1] in (kill_at - 1, kill_at), cut

  resumed = helpers.run_cli("train", *args)
  assert resumed.returncode == 0, resumed.stderr
  assert len(glob.glob(str(workdir / "tb" / "train" / "events.*"))) == 2
  assert helpers.restore(workdir).step == NUM_STEPS
  for tag in ("train/critic_loss", "train/generator_loss", "train/steps_per_second"):
    steps = [step for step, _ in helpers.summary_values(workdir)[tag]]
    assert steps == list(range(1, NUM_STEPS + 1)), (tag, steps)


# Runs prepare() and SIGKILLs it when its third shard is written whole but not yet renamed.
KILLED_BEFORE_A_SHARD_RENAME = """
import os, signal, sys
from relive_tf.data import prepare, shards

close = shards.ShardWriter.close

def die_before_the_rename(self):
  if self._writer is not None and self._number == 2:
    self._writer.close()
    os.kill(os.getpid(), signal.SIGKILL)
  return close(self)

shards.ShardWriter.close = die_before_the_rename
prepare.prepare(layout="folder", source=sys.argv[1], out=sys.argv[2], **eval(sys.argv[3]))
"""


def _tfrecords(folder):
  return {
    name: (folder / name).read_bytes()
    for name in sorted(os.listdir(folder))
    if name.endswith(".tfrecord")
  }


def test_a_prepare_killed_between_shards_shows_no_partial_shard_and_reruns_to_the_same_shards(
  tmp_path,
):
  source = tmp_path / "videos"
  source.mkdir()
  for number in range(4):
    helpers.write_avi(source / f"{number}.avi", helpers.smooth_video(12, 24, 32, seed=number))
  # One shard per file, 8-frame clips of 16x16.
  settings = dict(frames=8, size=16, test_fraction=0.0, workers=1, shard_mb=1e-9)
  straight = prepare.prepare(
    layout="folder", source=str(source), out=str(tmp_path / "a"), **settings
  )
  out = tmp_path / "b"
  killed = subprocess.run(
    [sys.executable, "-c", KILLED_BEFORE_A_SHARD_RENAME, source, out, repr(settings)],
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
  )
  assert killed.returncode == -signal.SIGKILL, killed.stderr
  assert sorted(os.listdir(out)) == [
    files.LOCK_FILE,
    shards.PROGRESS,
    "train-00000.tfrecord",
    "train-00001.tfrecord",
    "train-00002.tfrecord.partial",
  ]
  with pytest.raises(ValueError, match="unfinished"):
    shards.read_manifest(str(out))
  rerun = prepare.prepare(layout="folder", source=str(source), out=str(out), **settings)
  assert rerun["shards"] == straight["shards"]
  assert _tfrecords(out) == _tfrecords(tmp_path / "a")
  assert sorted(os.listdir(out)) == [files.LOCK_FILE, shards.MANIFEST, *_tfrecords(out)]


# Runs `relive export` and SIGKILLs it once the SavedModel is written, before its warm-up file.
KILLED_IN_AN_EXPORT = """
import os, signal, sys
from relive_tf import cli
from relive_tf.serving import warmup
from relive_tf.training import loop
from relive_tf.training import trainer as trainer_lib

def die(*args):
  os.kill(os.getpid(), signal.SIGKILL)

warmup.write_warmup_requests = die
cli.run(["relive", "export", *sys.argv[1:]])
"""


def _small_vgan_config(**overrides):
  """The tiny video WGAN with narrower networks, two steps of batch 2."""
  settings = dict(
    train__num_steps=2,
    train__batch_size=2,
    train__num_samples=1,
    train__critic_steps=1,
    train__checkpoint_every=2,
    model__noise_dim=8,
    model__generator_widths=(16, 8, 8, 4),
    model__critic_widths=(4, 8, 8, 8),
  )
  return helpers.load_config("vgan", **dict(settings, **overrides))


@pytest.fixture(name="small_vgan", scope="module")
def small_vgan_fixture(tmp_path_factory):
  """A workdir of _small_vgan_config trained to step 2 (checkpoint ckpt-2); copy it to change it."""
  workdir = tmp_path_factory.mktemp("small") / "run"
  helpers.train(_small_vgan_config(), workdir)
  return workdir


def test_a_killed_export_leaves_no_version_and_the_next_export_clears_its_folder(
  small_vgan, tmp_path
):
  workdir = small_vgan
  export_dir = tmp_path / "export" / "vgan"
  publish.export(str(workdir), str(export_dir), families.FAMILIES.values())
  models_config = (tmp_path / "export" / publish.MODELS_CONFIG).read_text()

  killed = subprocess.run(
    [
      sys.executable,
      "-c",
      KILLED_IN_AN_EXPORT,
      f"--workdir={workdir}",
      f"--export_dir={export_dir}",
    ],
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
  )
  assert killed.returncode == -signal.SIGKILL, killed.stderr
  left = sorted(os.listdir(export_dir))
  assert re.fullmatch(r"\.2\.incomplete-[0-9a-f]{8}", left[0]) and left[1:] == ["1"], left
  assert publish.model_versions(str(export_dir)) == [1]
  assert (tmp_path / "export" / publish.MODELS_CONFIG).read_text() == models_config

  publish.export(str(workdir), str(export_dir), families.FAMILIES.values())
  assert sorted(os.listdir(export_dir)) == ["1", "2"]
  assert publish.model_versions(str(export_dir)) == [1, 2]


# Failing writes: a full disk, injected where each writer hands bytes to the file system.


def _disk_full(path):
  return tf.errors.ResourceExhaustedError(None, None, f"{path}; No space left on device")


def test_a_failed_checkpoint_write_names_it_and_keeps_the_one_before(
  small_vgan, tmp_path, monkeypatch
):
  workdir = tmp_path / "run"
  shutil.copytree(small_vgan, workdir)
  write_state = management.update_checkpoint_state_internal

  def disk_full_at_step_4(save_dir, model_checkpoint_path, *args, **kwargs):
    if model_checkpoint_path.endswith("ckpt-4"):  # its data files are written: fail midway
      raise _disk_full(f"{save_dir}/checkpoint.tmp")
    write_state(save_dir, model_checkpoint_path, *args, **kwargs)

  monkeypatch.setattr(management, "update_checkpoint_state_internal", disk_full_at_step_4)
  with pytest.raises(errors.WriteError) as raised:
    helpers.train(_small_vgan_config(train__num_steps=4), workdir)
  message = str(raised.value)
  assert "\n" not in message
  assert re.match(
    rf"cannot write the checkpoint of step 4 \({workdir}/checkpoints/ckpt-4\): .*No space left "
    r"on device; the checkpoint of step 2 is kept: free some space",
    message,
  ), message
  assert not glob.glob(f"{workdir}/checkpoints/ckpt-4*")
  assert helpers.restore(workdir).step == 2


def test_a_failed_shard_write_names_it_keeps_the_shards_before_and_a_rerun_completes(
  tmp_path, monkeypatch
):
  source = tmp_path / "videos"
  source.mkdir()
  for number in range(3):
    helpers.write_avi(source / f"{number}.avi", helpers.smooth_video(12, 24, 32, seed=number))
  settings = dict(frames=8, size=16, test_fraction=0.0, workers=1, shard_mb=1e-9)
  out = tmp_path / "out"
  real_writer = tf.io.TFRecordWriter

  class FullDisk(real_writer):
    def write(self, record):
      if self.path.endswith("train-00001.tfrecord.partial"):
        raise _disk_full(self.path)
      super().write(record)

  def writer(path):
    opened = FullDisk(path)
    opened.path = path
    return opened

  monkeypatch.setattr(tf.io, "TFRecordWriter", writer)
  with pytest.raises(errors.WriteError) as raised:
    prepare.prepare(layout="folder", source=str(source), out=str(out), **settings)
  assert str(raised.value).startswith(
    f"cannot write the shard train-00001.tfrecord ({out}/train-00001.tfrecord.partial): "
    f"{out}/train-00001.tfrecord.partial; No space left on device; the 1 finished train shards "
    "before it are kept"
  ), str(raised.value)
  assert sorted(os.listdir(out)) == [files.LOCK_FILE, shards.PROGRESS, "train-00000.tfrecord"]
  first = (out / "train-00000.tfrecord").read_bytes()
  monkeypatch.setattr(tf.io, "TFRecordWriter", real_writer)
  manifest = prepare.prepare(layout="folder", source=str(source), out=str(out), **settings)
  assert manifest["clips"] == 3 and (out / "train-00000.tfrecord").read_bytes() == first


def test_a_failed_export_write_names_it_and_keeps_the_versions_before(
  small_vgan, tmp_path, monkeypatch
):
  export_dir = tmp_path / "export" / "vgan"
  publish.export(str(small_vgan), str(export_dir), families.FAMILIES.values())
  models_config = (tmp_path / "export" / publish.MODELS_CONFIG).read_text()

  def disk_full(export_path, model_name, requests):
    del model_name, requests
    raise OSError(errno.ENOSPC, "No space left on device", f"{export_path}/assets.extra")

  monkeypatch.setattr(warmup, "write_warmup_requests", disk_full)
  with pytest.raises(errors.WriteError) as raised:
    publish.export(str(small_vgan), str(export_dir), families.FAMILIES.values())
  assert re.fullmatch(
    rf"cannot write the export vgan \({export_dir}/\.2\.incomplete-[0-9a-f]{{8}}\): No space "
    r"left on device; versions \[1\] are kept: free some space or fix the permissions, then run "
    r"the same command again",
    str(raised.value),
  ), str(raised.value)
  assert sorted(os.listdir(export_dir)) == ["1"]
  assert (tmp_path / "export" / publish.MODELS_CONFIG).read_text() == models_config
  assert tf.saved_model.load(str(export_dir / "1")).signatures


# NaN and infinity: injected after chosen steps, into a loss or into a weight (as a NaN gradient
# would leave it).


def _inject_nan(monkeypatch, at_steps, into):
  """Makes the next trainers built put NaN into `into` ("loss" or "weight") after the train
  steps counted in `at_steps` (1 = the first step this process runs)."""
  build = trainer_lib.build

  def build_with_nan(*args, **kwargs):
    trainer = build(*args, **kwargs)
    train_step, calls = trainer.train_step, []

    def step_with_nan(iterator):
      metrics = train_step(iterator)
      calls.append(None)
      if len(calls) in at_steps and into == "loss":
        return dict(metrics, critic_loss=tf.constant(float("nan")))
      if len(calls) in at_steps:
        kernel = trainer.networks["generator"].trainable_variables[0]
        kernel.assign(tf.fill(kernel.shape, float("nan")))
      return metrics

    trainer.train_step = step_with_nan
    return trainer

  monkeypatch.setattr(trainer_lib, "build", build_with_nan)


def test_a_nan_weight_stops_naming_the_step_and_the_weight(tmp_path, monkeypatch):
  _inject_nan(monkeypatch, at_steps={3}, into="weight")
  with pytest.raises(loop.NonFiniteLossError) as raised:
    helpers.train(_small_vgan_config(train__num_steps=4), tmp_path)
  assert re.match(
    r"the weight generator/\S+ \(a gradient of this step was NaN or infinite\) at step 3: "
    rf"training stopped\. The last good checkpoint \({tmp_path}/checkpoints/ckpt-2\) is kept; "
    r"lower train.learning_rate, set train.nan_policy='restore', or check the data",
    str(raised.value),
  ), str(raised.value)
  assert helpers.restore(tmp_path).step == 2


def test_nan_policy_restore_goes_back_to_the_checkpoint_with_a_lower_learning_rate(
  tmp_path, monkeypatch
):
  _inject_nan(monkeypatch, at_steps={3}, into="loss")
  config = _small_vgan_config(
    train__num_steps=4, train__log_every=1, train__nan_policy="restore", train__nan_lr_factor=0.25
  )
  trainer = helpers.train(config, tmp_path)
  assert helpers.restore(tmp_path).step == 4
  for optimizer in trainer.optimizers.values():
    assert float(optimizer.learning_rate) == pytest.approx(config.train.learning_rate * 0.25)
  # The diverged step 3 is not logged; its rerun is, once.
  steps = [step for step, _ in helpers.summary_values(tmp_path)["train/critic_loss"]]
  assert steps == [1, 2, 3, 4]


def test_nan_policy_restore_stops_after_nan_max_restores(tmp_path, monkeypatch):
  _inject_nan(monkeypatch, at_steps={3, 4}, into="loss")
  config = _small_vgan_config(
    train__num_steps=4, train__nan_policy="restore", train__nan_max_restores=1
  )
  with pytest.raises(
    loop.NonFiniteLossError,
    match=r"critic_loss=nan at step 3: training "
    r"stopped after 1 restores \(train.nan_max_restores=1\)",
  ) as raised:
    helpers.train(config, tmp_path)
  # It already restores: the advice is what is left to change.
  assert str(raised.value).endswith("is kept; lower train.learning_rate, or check the data")
  assert helpers.restore(tmp_path).step == 2


def test_nan_policy_restore_before_any_checkpoint_says_there_is_none(tmp_path, monkeypatch):
  _inject_nan(monkeypatch, at_steps={1}, into="loss")
  config = _small_vgan_config(train__num_steps=4, train__nan_policy="restore")
  with pytest.raises(
    loop.NonFiniteLossError,
    match=r"critic_loss=nan at step 1: training stopped \(train.nan_policy='restore', but no "
    r"checkpoint was written yet to go back to\)\. Lower train.learning_rate, or check the data$",
  ):
    helpers.train(config, tmp_path)


def test_a_nan_before_any_checkpoint_says_none_was_written(tmp_path, monkeypatch):
  _inject_nan(monkeypatch, at_steps={1}, into="loss")
  with pytest.raises(
    loop.NonFiniteLossError,
    match=r"critic_loss=nan at step 1: training stopped\. No checkpoint was written yet; lower "
    r"train.learning_rate, set train.nan_policy='restore', or check the data$",
  ):
    helpers.train(_small_vgan_config(train__num_steps=4), tmp_path)


def test_an_export_root_another_export_is_writing_is_refused(small_vgan, tmp_path):
  root = tmp_path / "export"
  with files.exclusive_use(str(root), "relive export"):
    with pytest.raises(ValueError, match=rf"{root} is in use by relive export \(process \d+\)"):
      publish.export(str(small_vgan), str(root / "vgan"), families.FAMILIES.values())
  assert not (root / "vgan").exists()
