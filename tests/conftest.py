"""Test set-up: oneDNN on and two logical CPU devices, so distribution is tested without a GPU."""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # before TensorFlow is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # pylint: disable=g-import-not-at-top

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

import importlib.util  # pylint: disable=g-import-not-at-top,g-bad-import-order
import pathlib  # pylint: disable=g-import-not-at-top,g-bad-import-order

import pytest  # pylint: disable=g-import-not-at-top,g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[1]


def load_config(name, variant="tiny", **overrides):
  """configs/<name>.py's get_config(variant), with dotted-key overrides such as train__num_steps=2."""
  spec = importlib.util.spec_from_file_location(f"configs.{name}", REPO / "configs" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(variant)
  with config.unlocked():
    for key, value in overrides.items():
      *parents, leaf = key.split("__")
      node = config
      for parent in parents:
        node = node[parent]
      node[leaf] = value
  return config


@pytest.fixture(name="make_config")
def make_config_fixture():
  """A factory: make_config("vgan", "tiny", train__num_steps=2) -> a config."""
  return load_config


@pytest.fixture(name="two_replicas", scope="session")
def two_replicas_fixture():
  """One MirroredStrategy over the two logical CPUs for the whole session.

  Every new strategy numbers its collective operations from the same keys, so two of them in one
  process can meet in the same collective instance with different shapes and abort.
  """
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
