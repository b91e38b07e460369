"""Picks the tf.distribute strategy from what the machine (and TF_CONFIG) offers."""

import json
import os

import tensorflow as tf
from absl import logging


def cluster_workers():
  """Worker addresses named by TF_CONFIG (empty when not set)."""
  config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
  return config.get("cluster", {}).get("worker", [])


def pick_strategy():
  """MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored over several local GPUs,
  else one device (the GPU if there is one)."""
  if len(cluster_workers()) > 1:
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
  else:
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
      strategy = tf.distribute.MirroredStrategy()
    else:
      strategy = tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
  logging.info(
    "strategy: %s with %d replica(s)", type(strategy).__name__, strategy.num_replicas_in_sync
  )
  return strategy


def is_chief(strategy):
  """Whether this process writes the checkpoints and summaries (always, on one machine)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return resolver.task_type == "chief" or (
    resolver.task_type == "worker"
    and resolver.task_id == 0
    and "chief" not in resolver.cluster_spec().as_dict()
  )
