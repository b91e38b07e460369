"""Trains the evaluation networks shipped in relive_tf/assets, with fixed seeds; one command.

  python -m relive_tf.metrics.shipped --out=relive_tf/assets

writes OUT/digit_recognizer (the per-frame digit recogniser of the sample scores, seed 2000) and
OUT/feature_network (the built-in 3D CNN of the Frechet and kernel distances, 32 frames of 64x64,
seed 1000), each a model.keras and a JSON description with its held-out figures (docs/metrics.md).
About an hour on 2 idle CPU cores. To measure clips of another shape, train a feature network for it
(--networks=feature_network --frames=16 --out=DIR) and pass DIR/feature_network to
`relive evaluate --feature_network` or train.feature_network.
"""

import os
import time

import tensorflow as tf
from absl import app
from absl import flags
from absl import logging

from relive_tf import progress
from relive_tf.metrics import digit_recognizer
from relive_tf.metrics import feature_network
from relive_tf.metrics import network_files

ASSETS = network_files.ASSETS
NETWORKS = ("digit_recognizer", "feature_network")

FLAGS = flags.FLAGS


def train(out_dir, networks=NETWORKS, frames=32, size=64):
  """Trains the named evaluation networks into out_dir/<name> with the seeds they ship with.

  TensorFlow's op determinism is on, so a second run gives the same weights on the same machine.

  Args:
    out_dir: parent folder, e.g. relive_tf/assets.
    networks: names from NETWORKS.
    frames, size: clip shape of the feature network; frame size of both.

  Returns:
    {name: the network's description (its JSON file)}.

  Raises:
    ValueError: an unknown network name.
  """
  unknown = sorted(set(networks) - set(NETWORKS))
  if unknown:
    raise ValueError(f"unknown networks {unknown}; choose from {list(NETWORKS)}")
  tf.config.experimental.enable_op_determinism()
  trainers = {
    "digit_recognizer": lambda path: digit_recognizer.train_digit_recognizer(path, size=size),
    "feature_network": lambda path: feature_network.train_feature_network(
      path, frames=frames, size=size
    ),
  }
  described = {}
  for number, name in enumerate(networks, start=1):
    path = os.path.join(out_dir, name)
    logging.info("[%d/%d] training the %s into %s", number, len(networks), name, path)
    start = time.monotonic()
    described[name] = trainers[name](path)
    logging.info(
      "[%d/%d] %s done in %s",
      number,
      len(networks),
      name,
      progress.format_duration(time.monotonic() - start),
    )
  return described


def define_flags():
  flags.DEFINE_string("out", ASSETS, "parent folder of the networks' folders")
  flags.DEFINE_list("networks", list(NETWORKS), f"which to train, of {', '.join(NETWORKS)}")
  flags.DEFINE_integer("frames", 32, "frames per clip of the feature network")
  flags.DEFINE_integer("size", 64, "frame height and width of both networks")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  for name, info in train(FLAGS.out, FLAGS.networks, FLAGS.frames, FLAGS.size).items():
    print(f"{name}: {info}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
