"""Where a run's wall time goes: the train step's wait for its batches, and time outside it."""

import contextlib
import time

import tensorflow as tf


class TimedIterator:
  """A (distributed) iterator that times, inside the compiled train step, each wait for a batch.

  train_step calls next() on it while it is traced; every call adds to `wait_seconds` the time from
  just before the iterator's GetNext op to the batch's arrival, measured in the graph: the blocked
  time when tf.data's prefetching falls behind. The sum bounds the step's stall from above: a batch
  that a step fetches while an earlier update of the same step still computes counts its whole
  wait, and the op that reads the clock after GetNext can queue behind the step's other work on
  TensorFlow's inter-op threads. In the tiny video WGAN's step that queueing alone reads as 4 to
  14 % of the step, with batches certain to be ready (docs/benchmarks.md, "What the input wait
  measures").
  """

  def __init__(self, iterator):
    self.iterator = iterator
    self.wait_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="input_wait")
    self._previous = None  # (graph, tensors) of the last batch traced

  def __iter__(self):
    return self

  def __next__(self):
    graph = tf.compat.v1.get_default_graph()
    # The next GetNext runs once the last one has returned: its wait starts then, not earlier.
    after = self._previous[1] if self._previous and self._previous[0] is graph else []
    with tf.control_dependencies(after):
      start = tf.timestamp()
    with tf.control_dependencies([start]):
      batch = next(self.iterator)
    tensors = tf.nest.flatten(batch, expand_composites=True)
    with tf.control_dependencies(tensors):
      self.wait_seconds.assign_add(tf.timestamp() - start)
    self._previous = (graph, tensors)
    return batch


class LoopTimer:
  """Time in the train step, its input wait and the wall time, over windows between summaries."""

  def __init__(self, iterator):
    """iterator: the TimedIterator the train steps read."""
    self.iterator = iterator
    self._start_window()

  def _start_window(self):
    self.window_start = time.perf_counter()
    self.step_seconds = 0.0
    self.iterator.wait_seconds.assign(0.0)

  @contextlib.contextmanager
  def step(self):
    """Times a train step, up to its metrics being read (which waits for the step to finish)."""
    start = time.perf_counter()
    yield
    self.step_seconds += time.perf_counter() - start

  def fractions(self):
    """The window since the last call (or the start), and starts the next one.

    Returns:
      {"input_wait_fraction": the steps' wait for batches / their time,
      "outside_step_fraction": 1 - time in steps / wall time (summaries, checkpoints, logging,
      evaluation)}.
    """
    wall = time.perf_counter() - self.window_start
    wait = float(self.iterator.wait_seconds.numpy())
    fractions = {
      "input_wait_fraction": wait / self.step_seconds if self.step_seconds else 0.0,
      "outside_step_fraction": 1.0 - self.step_seconds / wall if wall else 0.0,
    }
    self._start_window()
    return fractions
