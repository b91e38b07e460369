"""The loop's timing: each step's wait for its batches, measured inside the compiled step."""

import tensorflow as tf

from relive_tf.training import step_timing


def _matmuls(count, scale):
  """A scalar that takes `count` 256x256 matmuls to compute (from `scale`: nothing to fold)."""
  value = tf.eye(256) * tf.cast(scale, tf.float32)
  for _ in range(count):
    value = tf.linalg.matmul(value, value)
  return tf.reduce_sum(value)


def _wait_fraction(dataset, work_per_step):
  iterator = step_timing.TimedIterator(iter(step_timing.stamped(dataset)))
  timer = step_timing.LoopTimer(iterator)

  @tf.function
  def step(batches):
    return _matmuls(work_per_step, next(batches)["x"])

  for _ in range(5):
    with timer.step():
      float(step(iterator))
  return timer.fractions()["input_wait_fraction"], step


def test_a_step_traced_with_a_timed_iterator_is_traced_once():
  _, step = _wait_fraction(tf.data.Dataset.from_tensors({"x": 1.0}).repeat(), work_per_step=1)
  assert step.experimental_get_tracing_count() == 1


def test_a_step_faster_than_its_pipeline_waits_most_of_its_time():
  slow = tf.data.Dataset.range(10).map(lambda i: {"x": _matmuls(200, i)})
  wait, _ = _wait_fraction(slow, work_per_step=1)
  assert 0.5 < wait <= 1.0


def test_a_step_fed_from_memory_hardly_waits():
  ready = tf.data.Dataset.from_tensors({"x": 1.0}).repeat().prefetch(2)
  wait, _ = _wait_fraction(ready, work_per_step=200)
  assert 0.0 <= wait < 0.2


def test_the_step_gets_its_batch_without_the_ready_time():
  dataset = tf.data.Dataset.from_tensors({"x": 1.0, "y": 2}).repeat()
  iterator = step_timing.TimedIterator(iter(step_timing.stamped(dataset)))

  @tf.function
  def keys(batches):
    return sorted(next(batches))

  assert keys(iterator) == ["x", "y"]


def test_the_wait_runs_from_the_request_to_the_batchs_ready_time():
  # A ready time 10 s after the pipeline's clock: each step counts about 10 s it never spent, which
  # a clock read in the step after GetNext (the old measure) would not.
  later = tf.data.Dataset.from_tensors({"x": 1.0}).repeat()
  later = later.map(lambda batch: {**batch, step_timing.READY_TIME: tf.timestamp() + 10.0})
  iterator = step_timing.TimedIterator(iter(later))

  @tf.function
  def step(batches):
    return next(batches)["x"]

  for _ in range(3):
    float(step(iterator))
  assert 29.0 < float(iterator.wait_seconds.numpy()) < 31.0
