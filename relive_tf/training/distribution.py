"""Picks the tf.distribute strategy from what the machine (and TF_CONFIG) offers; lost workers."""

import contextlib
import json
import os
import re

import tensorflow as tf
from absl import logging

from relive_tf import errors


def training_tasks():
  """The addresses of the tasks that train, TF_CONFIG's chief and workers (empty when not set)."""
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster", {})
  return cluster.get("chief", []) + cluster.get("worker", [])


def pick_strategy():
  """MultiWorkerMirrored when TF_CONFIG names several tasks (workers, or a chief and workers),
  Mirrored over several local GPUs, else one device (the GPU if there is one)."""
  if len(training_tasks()) > 1:
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


def feeds_from_host(strategy):
  """Whether the train step can read the input pipeline's batches as they are: one task, one
  replica, on this machine's CPU, where tf.distribute's input pipeline has nothing to copy."""
  if len(training_tasks()) > 1 or strategy.num_replicas_in_sync != 1:
    return False
  try:
    (device,) = strategy.extended.worker_devices
  except RuntimeError:  # the default strategy: TensorFlow places the step itself
    return not tf.config.list_logical_devices("GPU")
  return tf.DeviceSpec.from_string(device).device_type == "CPU"


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


# TensorFlow names a task "/job:worker/replica:0/task:1" in the errors of collectives and of the
# coordination service's heartbeats.
_TASK = re.compile(r"/job:(?P<job>\w+)/(?:replica:\d+/)?task:(?P<index>\d+)")
# The coordination service's words for a task that stopped: killed, crashed, preempted, cut off.
_STOPPED_HEARTBEATS = "stopped sending heartbeats"
# What gRPC said when a peer's connection broke: "recvmsg:Connection reset by peer".
_GRPC_MESSAGE = re.compile(r'grpc_message:"([^"]+)"')
# What a lost peer raises in the train step: the coordination service's "tasks are unhealthy
# (stopped sending heartbeats)", a collective cut off, or its timeout.
_LOST_PEER_ERRORS = (
  tf.errors.UnavailableError,
  tf.errors.DeadlineExceededError,
  tf.errors.AbortedError,
  tf.errors.CancelledError,
  tf.errors.InternalError,
)


@contextlib.contextmanager
def lost_workers(strategy):
  """Turns the TensorFlow error a multi-worker run raises when a peer is gone into a one-line
  LostWorkerError that names the peer and says how to resume; other errors, and those of other
  strategies, pass on."""
  resolver = getattr(strategy, "cluster_resolver", None)
  try:
    yield
  except _LOST_PEER_ERRORS as error:
    message = resolver and resolver.task_type and lost_worker_message(error, resolver)
    if not message:
      raise
    raise errors.LostWorkerError(message) from None


def lost_worker_message(error, resolver):
  """What a worker says when a peer is lost: which one (its TF_CONFIG address), what TensorFlow
  saw (which of its errors comes first is a race: a broken connection or missed heartbeats), and
  how to resume; None when `error` names no other task and no missed heartbeats.

  Args:
    error: the tf.errors.OpError this worker raised.
    resolver: its strategy's cluster resolver (TF_CONFIG).
  """
  cluster = resolver.cluster_spec().as_dict()
  me = (resolver.task_type, resolver.task_id)
  lost = []
  for match in _TASK.finditer(error.message):
    task = (match["job"], int(match["index"]))
    if task != me and task not in lost and task[1] < len(cluster.get(task[0], ())):
      lost.append(task)
  if not lost and _STOPPED_HEARTBEATS not in error.message:
    return None
  who = (
    " and ".join(f"{job} {index} ({cluster[job][index]})" for job, index in lost)
    if lost
    else "a worker of the cluster"
  )
  if _STOPPED_HEARTBEATS in error.message:
    seen = _STOPPED_HEARTBEATS
  else:
    said = _GRPC_MESSAGE.search(error.message)
    seen = said[1] if said else type(error).__name__
  return (
    f"{who} {'were' if len(lost) > 1 else 'was'} lost (crashed, killed or unreachable: {seen}), "
    f"so {me[0]} {me[1]} stops too; restart every worker with the same command: training "
    "resumes from the last checkpoint"
  )
