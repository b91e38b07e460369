"""Test set-up: oneDNN on and two logical CPU devices, so distribution is tested without a GPU."""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # before TensorFlow is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
  _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import shutil  # noqa: E402

import pytest  # noqa: E402

from relive_tf.metrics import digit_recognizer  # noqa: E402

import helpers  # noqa: E402


@pytest.fixture(name="make_config")
def make_config_fixture():
  """A factory: make_config("vgan", "tiny", train__num_steps=2) -> a config."""
  return helpers.load_config


@pytest.fixture(name="two_replicas", scope="session")
def two_replicas_fixture():
  """One MirroredStrategy over the two logical CPUs for the whole session.

  Every new strategy numbers its collective operations from the same keys, so two of them in one
  process can meet in the same collective instance with different shapes and abort.
  """
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture(name="trained_workdir", scope="session")
def trained_workdir_fixture(tmp_path_factory):
  """A factory: trained_workdir("vgan", "tiny", train__num_steps=2, ...) -> the path of a workdir
  trained with that config on one CPU.

  Each distinct config is trained once per session; every call gets its own copy, so a test may
  write into it (reports, a resumed run) without another test seeing that.
  """
  trained = {}

  def make(model_type, variant="tiny", **overrides):
    key = (model_type, variant, tuple(sorted(overrides.items())))
    if key not in trained:
      trained[key] = tmp_path_factory.mktemp(f"{model_type}_trained")
      helpers.train(helpers.load_config(model_type, variant, **overrides), trained[key])
    copy = tmp_path_factory.mktemp(f"{model_type}_workdir") / "run"
    shutil.copytree(trained[key], copy, ignore=shutil.ignore_patterns(".lock"))
    return str(copy)

  return make


@pytest.fixture(name="small_digit_recognizer", scope="session")
def small_digit_recognizer_fixture(tmp_path_factory):
  """The folder of a digit recogniser for the tests' 32x32 frames: tiny and barely trained, so its
  scores say nothing; it stands in for the shipped one, which reads 64x64 frames."""
  path = str(tmp_path_factory.mktemp("digit_recognizer"))
  digit_recognizer.train_digit_recognizer(
    path, size=32, width=4, num_clips=16, epochs=1, eval_clips=4, real_clips=2
  )
  return path
