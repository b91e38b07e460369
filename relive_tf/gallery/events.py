"""Scalar curves read back from a workdir's TensorBoard event files."""

import math
import os

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.util import tensor_util

_EVENT_FILES = "events.out.tfevents.*"


def event_files(summary_dir):
  """A workdir's event files, oldest first: those of its runs (tb/train, tb/eval) and those of
  workdirs written before the runs had folders, directly in tb/.

  Args:
    summary_dir: WORKDIR/tb.

  Returns:
    [path], ordered by the creation time in their names (events.out.tfevents.<seconds>...).
  """
  paths = tf.io.gfile.glob(os.path.join(summary_dir, _EVENT_FILES)) + tf.io.gfile.glob(
    os.path.join(summary_dir, "*", _EVENT_FILES)
  )
  return sorted(paths, key=lambda path: (os.path.basename(path), path))


def read_scalars(summary_dir):
  """The scalar curves of a workdir's TensorBoard logs, read from every event file (event_files).

  A resumed run writes a second event file that repeats the steps after the last checkpoint: the
  later file's value wins. A file still being written may end in a partial record, which is skipped.

  Args:
    summary_dir: WORKDIR/tb.

  Returns:
    {tag: (steps int64 [n], values float64 [n])}, steps increasing, non-finite values left out.
  """
  curves = {}
  plugins = {}  # tag -> plugin name; TensorFlow may give the metadata on a tag's first value only
  for path in event_files(summary_dir):
    for event in event_file_loader.EventFileLoader(path).Load():
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name:
          plugins[value.tag] = value.metadata.plugin_data.plugin_name
        if plugins.get(value.tag) != scalar_metadata.PLUGIN_NAME:
          continue
        number = float(tensor_util.make_ndarray(value.tensor))
        if math.isfinite(number):
          curves.setdefault(value.tag, {})[event.step] = number
  return {
    tag: (np.array(sorted(points), np.int64), np.array([points[s] for s in sorted(points)]))
    for tag, points in sorted(curves.items())
  }
