"""Summaries read back from a workdir's TensorBoard event files, one series per tag."""

import math
import os

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.util import tensor_util

_EVENT_FILES = "events.out.tfevents.*"


def _started(path):
  """The wall time of a file's first summary (its first event, which gives the file's version,
  holds whole seconds only); that of its first event when it holds none; infinity when empty."""
  first = math.inf
  for event in event_file_loader.EventFileLoader(path).Load():
    if event.summary.value:
      return event.wall_time
    first = min(first, event.wall_time)
  return first


def event_files(summary_dir):
  """A workdir's event files, oldest first: those of its runs (tb/train, tb/eval) and those of
  workdirs written before the runs had folders, directly in tb/.

  Args:
    summary_dir: WORKDIR/tb.

  Returns:
    [path], ordered by the wall time of their first summary. The names hold the creation second
    and a per-process counter, which sort wrongly within a second and from counter 10 on.
  """
  paths = tf.io.gfile.glob(os.path.join(summary_dir, _EVENT_FILES)) + tf.io.gfile.glob(
    os.path.join(summary_dir, "*", _EVENT_FILES)
  )
  return sorted(paths, key=lambda path: (_started(path), os.path.basename(path), path))


def _run_folders(summary_dir):
  """{folder: [event file, oldest first]} of a workdir's runs: tb/train, tb/eval, and tb/."""
  folders = {}
  for path in event_files(summary_dir):
    folders.setdefault(os.path.dirname(path), []).append(path)
  return folders


def read_series(summary_dir):
  """Every summary of a workdir's TensorBoard logs, one series per tag, as TensorBoard shows it.

  A run killed after its last checkpoint wrote summaries for steps the resumed run writes again,
  and a run that went back to a checkpoint (train.nan_policy="restore") writes them again in the
  same file. As TensorBoard purges orphaned data, a run's points at or after the step where its
  next event file begins are dropped (the resumed run starts there), and within a file a tag that
  goes back to step s drops its points from s on. A file still being written may end in a
  partial record, which is skipped.

  Args:
    summary_dir: WORKDIR/tb.

  Returns:
    {tag: [(step, summary_pb2.Summary.Value), ...]} with steps increasing, each step once (a tag
    left with no point is left out), and {tag: plugin name}.
  """
  series = {}
  plugins = {}  # TensorFlow may give a tag's metadata on its first value only
  for paths in _run_folders(summary_dir).values():
    points = {}  # tag -> {step: value} of this run folder
    for path in paths:
      last_step = {}  # tag -> the last step this file gave it
      for event in event_file_loader.EventFileLoader(path).Load():
        if not event.summary.value:
          continue
        if not last_step:  # the file's first summary: where this run began (or resumed)
          for steps in points.values():
            for step in [step for step in steps if step >= event.step]:
              del steps[step]
        for value in event.summary.value:
          if value.metadata.plugin_data.plugin_name:
            plugins[value.tag] = value.metadata.plugin_data.plugin_name
          steps = points.setdefault(value.tag, {})
          if event.step < last_step.get(value.tag, event.step):
            for step in [step for step in steps if step >= event.step]:
              del steps[step]
          last_step[value.tag] = event.step
          steps[event.step] = value
    for tag, steps in points.items():
      series.setdefault(tag, {}).update(steps)
  return {tag: sorted(steps.items()) for tag, steps in sorted(series.items()) if steps}, plugins


def read_scalars(summary_dir):
  """The scalar curves of a workdir's TensorBoard logs, one point per step (see read_series).

  Args:
    summary_dir: WORKDIR/tb.

  Returns:
    {tag: (steps int64 [n], values float64 [n])}, steps increasing, non-finite values left out.
  """
  series, plugins = read_series(summary_dir)
  curves = {}
  for tag, points in series.items():
    if plugins.get(tag) != scalar_metadata.PLUGIN_NAME:
      continue
    numbers = [(step, float(tensor_util.make_ndarray(value.tensor))) for step, value in points]
    finite = [(step, number) for step, number in numbers if math.isfinite(number)]
    if finite:
      curves[tag] = (
        np.array([step for step, _ in finite], np.int64),
        np.array([number for _, number in finite]),
      )
  return curves
