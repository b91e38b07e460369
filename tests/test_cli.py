"""`relive train` and `relive generate` end to end, and the CLI's help and error messages."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import helpers

TINY = f"--config={helpers.REPO}/configs/vgan.py:tiny"
FAST = [
  "--config.train.num_steps=2",
  "--config.train.critic_steps=1",
  "--config.train.batch_size=2",
  "--config.train.num_samples=1",
]
relive = helpers.run_cli


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
  assert os.listdir(workdir / "tb")
  assert "step 2/2" in result.stderr and "steps/s" in result.stderr
  assert "TensorBoard logs in" in result.stdout


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


def test_resuming_a_finished_run_does_nothing(trained):
  workdir, _ = trained
  result = relive("train", TINY, f"--workdir={workdir}", *FAST)
  assert result.returncode == 0 and "nothing to do" in result.stderr


def test_help_lists_subcommands_and_flags():
  overview = relive("--help")
  assert overview.returncode == 0 and "train" in overview.stdout and "generate" in overview.stdout
  train_help = relive("train", "--help")
  assert "--config" in train_help.stdout and "--workdir" in train_help.stdout


@pytest.mark.parametrize(
  "args,message",
  [
    (["train", TINY, "--workdir=W", "--config.train.no_such_key=1"], "unknown config key"),
    (["train", TINY, "--workdir=W", "--config.train.num_steps=0"], "train.num_steps is 0"),
    (["train", "--workdir=W"], "--config must have a value"),
    (["generate", "--workdir=W", "--out=O"], "holds no config.json"),
    (["dance"], "unknown subcommand 'dance'"),
    (["generate", "--workdir=W", "--out=O", "stray"], "unexpected arguments: stray"),
  ],
)
def test_bad_input_gets_a_clear_error_without_traceback(tmp_path, args, message):
  result = relive(*args, cwd=tmp_path)
  assert result.returncode != 0
  assert message in result.stderr
  assert "Traceback" not in result.stderr


def test_generate_without_a_checkpoint_is_refused(tmp_path):
  (tmp_path / "w").mkdir()
  (tmp_path / "w" / "config.json").write_text(
    '{"model_type": "vgan", "seed": 0, "model": {}, "data": {}, "train": {}}'
  )
  result = relive("generate", f"--workdir={tmp_path / 'w'}", f"--out={tmp_path / 'o'}")
  assert result.returncode == 1 and "holds no checkpoint yet" in result.stderr


def test_a_bug_below_the_cli_keeps_its_traceback(tmp_path):
  # A config that is not JSON is no input relive_tf checks: the JSON decoder's error is shown whole.
  (tmp_path / "config.json").write_text("{not json")
  result = relive("generate", f"--workdir={tmp_path}", f"--out={tmp_path / 'o'}")
  assert result.returncode != 0 and "Traceback" in result.stderr


def test_a_failed_data_check_inside_tensorflow_is_printed_as_one_line():
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
    "run(['relive', 'prepare', '--verify=DIR'])\n"
  )
  result = subprocess.run(
    [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
  )
  assert result.returncode == 1
  assert result.stderr.splitlines()[-1] == (
    "relive prepare: error: shard x.tfrecord is damaged; copy it again"
  )
  assert "Traceback" not in result.stderr
