"""`relive train` and `relive generate` end to end, and the CLI's help and error messages."""

import os
import random
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from relive_tf import cli
from relive_tf import files
from relive_tf import progress
from relive_tf.cli import console
from relive_tf.cli import messages

import helpers

TINY = f"--config={helpers.REPO}/configs/vgan.py:tiny"
FAST = [
  "--config.train.num_steps=2",
  "--config.train.critic_steps=1",
  "--config.train.batch_size=2",
  "--config.train.num_samples=1",
]
relive = helpers.run_cli
# A line of TensorFlow's C++ logging, in absl's format: "I0000 00:00:1796083.5 6137 port.cc:153] ".
NATIVE_LOG_LINE = r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "


@pytest.fixture(name="trained", scope="module")
def trained_fixture(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("cli") / "run"
  result = relive("train", TINY, f"--workdir={workdir}", *FAST)
  assert result.returncode == 0, result.stderr
  return workdir, result


def test_train_writes_checkpoints_summaries_and_config(trained):
  workdir, result = trained
  assert (workdir / "config.json").is_file()
  assert any(name.startswith("ckpt-2") for name in os.listdir(workdir / "checkpoints"))
  assert os.listdir(workdir / "tb" / "train")
  assert "step 2/2" in result.stderr and "steps/s" in result.stderr
  assert "TensorBoard logs in" in result.stdout


def test_train_leaves_without_the_interpreters_shutdown_once_all_is_written(tmp_path):
  # That shutdown freed the training iterator last and waited up to a minute for tf.data's
  # autotuning thread (docs/reliability.md, "Exit"); an atexit function runs only in it.
  code = (
    "import atexit, sys\n"
    "from relive_tf import cli\n"
    "atexit.register(print, 'interpreter shutdown')\n"
    "cli.run(['relive', *sys.argv[1:]])\n"
  )
  workdir = tmp_path / "run"
  result = subprocess.run(
    [sys.executable, "-c", code, "train", TINY, f"--workdir={workdir}", *FAST],
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
  )
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[-1].startswith("trained: ") and "shutdown" not in result.stdout
  assert {step for step, _ in helpers.summary_values(workdir)["train/critic_loss"]} == {1, 2}
  assert helpers.restore(workdir).step == 2


def test_train_prints_only_its_own_lines(trained):
  _, result = trained
  lines = result.stderr.splitlines()
  assert lines[0].startswith("strategy: "), lines[:3]
  for noise in (
    NATIVE_LOG_LINE,  # TensorFlow's C++ logging: oneDNN, cuda drivers, cuInit, tf.data warnings
    "InitializeLog",
    "Sharding callback",  # TensorFlow's Python side, through absl
    "Warning",  # Python warnings of any library
    "model_type",  # the resolved config: in config.json and at --verbosity=1
  ):
    assert not [line for line in lines if re.search(noise, line)], (noise, result.stderr)


def test_verbosity_1_also_prints_the_config_and_tensorflows_lines(trained):
  workdir, _ = trained
  result = relive("train", TINY, f"--workdir={workdir}", *FAST, "--verbosity=1")
  assert result.returncode == 0, result.stderr
  assert "model_type: vgan" in result.stderr
  assert re.search(NATIVE_LOG_LINE, result.stderr, re.MULTILINE)


def test_verbosity_1_prints_the_workdirs_config_for_commands_that_read_one(trained, tmp_path):
  workdir, _ = trained
  quiet = relive("generate", f"--workdir={workdir}", "--num=1", f"--out={tmp_path / 'a'}")
  loud = relive("generate", f"--workdir={workdir}", "--num=1", f"--out={tmp_path / 'b'}", "-v", "1")
  assert quiet.returncode == loud.returncode == 0, loud.stderr
  assert "model_type" not in quiet.stderr
  assert f"config of {workdir}:" in loud.stderr and "model_type: vgan" in loud.stderr


def test_the_final_hint_names_commands_as_they_can_be_typed(trained):
  workdir, result = trained
  # run_cli starts relive by its path, which is not on PATH in the test run: the hint repeats it.
  bin_dir = os.path.dirname(sys.executable)
  assert f"({bin_dir}/tensorboard --logdir {workdir}/tb)" in result.stdout
  assert f"`{bin_dir}/relive generate --workdir={workdir} --out=OUT`" in result.stdout


@pytest.mark.parametrize("video_format", ["gif", "mp4"])
def test_generate_writes_32_frames_of_64x64(trained, tmp_path, video_format):
  workdir, _ = trained
  result = relive(
    "generate", f"--workdir={workdir}", "--num=2", f"--out={tmp_path}", f"--format={video_format}"
  )
  assert result.returncode == 0, result.stderr
  paths = sorted(tmp_path.glob(f"*.{video_format}"))
  assert len(paths) == 2
  if video_format == "gif":
    with Image.open(paths[0]) as gif:
      assert gif.n_frames == 32 and gif.size == (64, 64)
  else:
    import cv2  # noqa: PLC0415 (this case only)

    capture = cv2.VideoCapture(str(paths[0]))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 32
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc in ("h264", "avc1"), f"{fourcc} is not H.264, which browsers need"


def test_generate_is_repeatable_for_a_seed(trained, tmp_path):
  workdir, _ = trained
  for name in ("a", "b"):
    relive("generate", f"--workdir={workdir}", "--num=1", f"--out={tmp_path / name}", "--seed=5")
  frames = [np.asarray(Image.open(tmp_path / name / "video_0000.gif")) for name in ("a", "b")]
  np.testing.assert_array_equal(*frames)


def test_generate_into_a_folder_of_earlier_videos_warns(trained, tmp_path):
  workdir, _ = trained
  first = relive("generate", f"--workdir={workdir}", "--num=2", f"--out={tmp_path}")
  assert first.returncode == 0 and "already holds" not in first.stderr
  again = relive("generate", f"--workdir={workdir}", "--num=1", f"--out={tmp_path}", "--seed=5")
  assert again.returncode == 0
  assert (
    f"{tmp_path} already holds 2 videos of an earlier run: the new ones replace 1 of them, the "
    "rest stay" in again.stderr
  )
  assert sorted(os.listdir(tmp_path)) == ["video_0000.gif", "video_0001.gif"]
  # It said the new ones replace those of the same names where none shared a name.
  mp4 = relive("generate", f"--workdir={workdir}", "--num=1", f"--out={tmp_path}", "--format=mp4")
  assert "the new ones replace 0 of them, the rest stay" in mp4.stderr


def test_generate_into_a_folder_it_cannot_create_says_so_in_one_line(trained, tmp_path):
  # As root every parent passes os.access, and tf.io.gfile.makedirs failed in a traceback.
  from relive_tf.inference import generate  # noqa: PLC0415 (loads TensorFlow)

  workdir, _ = trained
  (tmp_path / "a_file").write_text("")
  with pytest.raises(ValueError, match=r"cannot create the folder .*a_file/out \(.*\); give a"):
    generate.generate(workdir, 1, str(tmp_path / "a_file" / "out"))


def test_generate_writes_each_batch_before_it_makes_the_next(trained, tmp_path, monkeypatch):
  # All the videos were held in memory before the first was written (0.8 MB each): --num=100000
  # needed 80 GB, and an interrupted run wrote nothing.
  from relive_tf.data import video_io  # noqa: PLC0415 (loads TensorFlow)
  from relive_tf.inference import generate  # noqa: PLC0415
  from relive_tf.training import checkpoints  # noqa: PLC0415
  from relive_tf.training import vgan  # noqa: PLC0415

  workdir, _ = trained
  events, written = [], []
  made = generate.pipeline.to_uint8_video
  monkeypatch.setattr(
    generate.pipeline, "to_uint8_video", lambda videos: events.append("made") or made(videos)
  )
  monkeypatch.setattr(
    video_io, "write_video", lambda path, video: events.append("written") or written.append(video)
  )
  paths = generate.generate(str(workdir), 18, str(tmp_path), seed=3)
  assert events == ["made"] + ["written"] * 16 + ["made"] + ["written"] * 2
  assert [os.path.basename(path) for path in paths[-2:]] == ["video_0016.gif", "video_0017.gif"]
  generator = checkpoints.restore_trained(str(workdir), vgan.FAMILY, "a test").trainer
  monkeypatch.undo()
  np.testing.assert_array_equal(
    np.stack(written), generate.sample_videos(generator.sampling_generator, 18, 3)
  )


def test_resuming_a_finished_run_does_nothing(trained):
  workdir, _ = trained
  result = relive("train", TINY, f"--workdir={workdir}", *FAST)
  assert result.returncode == 0 and "nothing to do" in result.stderr


def test_counts_read_as_english():
  assert [progress.counted(n, "clip") for n in (0, 1, 2)] == ["0 clips", "1 clip", "2 clips"]
  assert progress.counted(2, "process") == "2 processes"
  assert progress.counted(1, "process") == "1 process"


def test_help_lists_subcommands_and_flags():
  overview = relive("--help")
  assert overview.returncode == 0 and "train" in overview.stdout and "generate" in overview.stdout
  train_help = relive("train", "--help")
  assert "--config" in train_help.stdout and "--workdir" in train_help.stdout


def test_help_marks_the_required_flags():
  text = relive("generate", "--help").stdout
  assert text.startswith("usage: relive generate --workdir=WORKDIR --out=OUT [--flags]\n")
  required = text.split("required flags:\n")[1].split("\n\n")[0]
  assert [line.split(":")[0].strip() for line in required.splitlines()] == ["--workdir", "--out"]
  optional = text.split("optional flags:\n")[1].split("\n\n")[0]
  assert "--num: number of videos (an integer in the range [1, 10000]; default 8)" in optional
  # prepare --verify checks shards without the flags that preparing needs.
  text = relive("prepare", "--help").stdout
  assert text.startswith(
    "usage: relive prepare --format=FORMAT --source=SOURCE --out=OUT [--flags]\n"
    "   or: relive prepare --verify=DIR\n"
  )
  assert "required flags (none with --verify=DIR):\n  --format:" in text
  # A multi flag's help, as absl extends it, in one run of words.
  assert "relive train`; repeat this option" in relive("gallery", "--help").stdout


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in cli.SUBCOMMANDS])
def test_help_does_not_load_tensorflow(argv):
  code = (
    "import sys\n"
    "from relive_tf import cli\n"
    "try:\n"
    "  cli.run(['relive', *sys.argv[1:]])\n"
    "except SystemExit as exit:\n"
    "  assert exit.code == 0, exit.code\n"
    "print('loaded:', sorted({'tensorflow', 'keras'} & set(sys.modules)))\n"
  )
  result = subprocess.run(
    [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False
  )
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[-1] == "loaded: []"


def test_generate_without_a_checkpoint_is_refused(tmp_path):
  (tmp_path / "w").mkdir()
  (tmp_path / "w" / "config.json").write_text(
    '{"model_type": "vgan", "seed": 0, "model": {}, "data": {}, "train": {}}'
  )
  result = relive("generate", f"--workdir={tmp_path / 'w'}", f"--out={tmp_path / 'o'}")
  assert result.returncode == 1 and "holds no checkpoint yet" in result.stderr


def test_a_workdir_training_before_its_first_checkpoint_says_so(tmp_path):
  # It said "train it first" while `relive train` was making it.
  (tmp_path / "w").mkdir()
  (tmp_path / "w" / "config.json").write_text(
    '{"model_type": "vgan", "seed": 0, "model": {}, "data": {}, "train": {}}'
  )
  with files.exclusive_use(str(tmp_path / "w"), "relive train"):
    result = relive("generate", f"--workdir={tmp_path / 'w'}", f"--out={tmp_path / 'o'}")
  assert result.returncode == 1
  assert f"holds no checkpoint yet: relive train (process {os.getpid()}) is training it" in (
    result.stderr
  )
  assert files.holder(str(tmp_path / "w")) is None


def test_a_bug_below_the_cli_keeps_its_traceback(tmp_path):
  # A ValueError raised inside a library relive_tf calls, not by relive_tf about its input: here
  # the JSON decoder, handed text no file holds, is shown whole.
  script = (
    "import json\n"
    "from relive_tf.training import workdir\n"
    "workdir._read_json = lambda path: json.loads('{not json')\n"
    "from relive_tf.cli import run\n"
    f"run(['relive', 'generate', '--workdir={tmp_path}', '--out={tmp_path / 'o'}'])\n"
  )
  (tmp_path / "config.json").write_text("{}")
  result = subprocess.run(
    [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
  )
  assert result.returncode != 0 and "Traceback" in result.stderr, result.stderr


def test_a_cut_config_json_is_named_in_one_line(tmp_path):
  (tmp_path / "config.json").write_text('{"model_type": "vg')
  result = relive("generate", f"--workdir={tmp_path}", f"--out={tmp_path / 'o'}")
  assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
  assert (
    result.stderr.strip()
    .splitlines()[-1]
    .startswith(f"relive generate: error: {tmp_path / 'config.json'} is not valid JSON (")
  )
  assert result.stderr.strip().endswith("restore it, or train in another workdir")


def test_a_failed_data_check_inside_tensorflow_is_printed_as_one_line(tmp_path):
  # How `relive evaluate` or `relive gallery` meets a damaged test shard: an InvalidArgumentError
  # raised in a graph, carrying the check's message among TensorFlow's details.
  script = (
    "import tensorflow as tf\n"
    "from relive_tf.data import shards\n"
    "def damaged(path):\n"
    "  raise tf.errors.InvalidArgumentError(None, None, 'Graph execution error:\\n"
    "assertion failed: [relive_tf data check: shard x.tfrecord is damaged; copy it again]\\n"
    "\\t [[{{node Assert/Assert}}]]')\n"
    "shards.verify = damaged\n"
    "from relive_tf.cli import run\n"
    f"run(['relive', 'prepare', '--verify={tmp_path}'])\n"
  )
  result = subprocess.run(
    [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
  )
  assert result.returncode == 1
  assert result.stderr.splitlines()[-1] == (
    "relive prepare: error: shard x.tfrecord is damaged; copy it again"
  )
  assert "Traceback" not in result.stderr


def _losses(workdir):
  """{tag: [(step, value)]} of the losses a train step returns, from the workdir's summaries."""
  return {
    tag: [(step, float(value)) for step, value in values]
    for tag, values in helpers.summary_values(workdir).items()
    if tag in ("train/critic_loss", "train/generator_loss", "train/wasserstein_estimate")
  }


def test_ctrl_c_stops_at_a_step_boundary_and_the_resumed_run_equals_a_straight_one(tmp_path):
  args = [TINY, *FAST[1:], "--config.train.num_steps=6", "--config.train.log_every=1"]
  straight = relive("train", *args, f"--workdir={tmp_path / 'straight'}")
  assert straight.returncode == 0, straight.stderr
  # Ctrl-C while step `after` + 1 runs, at whatever point of it the signal lands.
  after = random.randint(1, 4)
  command = os.path.join(os.path.dirname(sys.executable), "relive")
  with subprocess.Popen(
    [command, "train", *args, f"--workdir={tmp_path / 'cut'}"], stderr=subprocess.PIPE, text=True
  ) as process:
    seen = []
    for line in process.stderr:
      seen.append(line)
      if line.startswith(f"step {after}/6"):
        process.send_signal(signal.SIGINT)
        break
    seen.extend(process.stderr)
  lines = "".join(seen)
  assert process.returncode == 128 + signal.SIGINT, (after, lines)
  assert "Traceback" not in lines
  assert re.search(r"relive train: stopped at step \d of 6 \(SIGINT\); checkpoint saved", lines)
  resumed = relive("train", *args, f"--workdir={tmp_path / 'cut'}")
  assert resumed.returncode == 0, resumed.stderr
  assert _losses(tmp_path / "cut") == _losses(tmp_path / "straight"), f"interrupted after {after}"


def test_a_command_beside_relive_is_named_by_its_path_unless_path_finds_it(tmp_path, monkeypatch):
  bin_dir = tmp_path / ".venv" / "bin"
  bin_dir.mkdir(parents=True)
  for name in ("relive", "tensorboard"):
    (bin_dir / name).write_text("#!/bin/sh\n")
    (bin_dir / name).chmod(0o755)
  monkeypatch.chdir(tmp_path)
  monkeypatch.setattr(sys, "argv", [".venv/bin/relive", "train"])
  monkeypatch.setenv("PATH", "/usr/bin:/bin")
  assert console.command("tensorboard") == ".venv/bin/tensorboard"
  monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
  assert console.command("tensorboard") == "tensorboard"


def test_an_os_error_about_a_path_reads_as_one_sentence():
  error = PermissionError(13, "Permission denied", "/data/runs")
  assert messages.path_error(error) == (
    "cannot use '/data/runs': permission denied; check the path and its permissions"
  )


def test_the_config_flags_value_is_read_as_absl_reads_it():
  arguments = ["--config=a.py", "-config", "b.py", "--workdir=w", "--", "--config=c.py"]
  assert cli._last_value(arguments, "config") == "b.py"
  assert cli._last_value(["--configs=a.py", "--workdir=w"], "config") is None


def test_a_missing_config_names_a_few_files_beside_it(tmp_path):
  for name in "abcdef":
    (tmp_path / f"{name}.py").write_text("")
  message = messages.config_load_error(f"{tmp_path}/nope.py:tiny", FileNotFoundError(2, "gone"))
  assert message.startswith(f"{tmp_path}/nope.py does not exist: give one of {tmp_path}/a.py, ")
  assert f"{tmp_path}/d.py and 2 more .py files, with a variant" in message
