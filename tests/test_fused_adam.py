"""The benchmark's FusedAdam updates weights and slots as keras.optimizers.Adam does, on one device
and two: bench/optimizer_update.py times the same arithmetic."""

import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers

sys.path.insert(0, str(helpers.REPO))
from bench import fused_adam  # noqa: E402

SHAPES = [(3, 4), (4,), (2, 2, 3)]


def _train(optimizer_class, strategy, steps=5):
  """Weights and slots after `steps` Adam updates of fixed gradients; the step's learning rate
  changes halfway, as nan_policy=restore changes it."""
  rng = np.random.default_rng(0)
  initial = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
  gradients = [
    [rng.normal(size=shape).astype(np.float32) for shape in SHAPES] for _ in range(steps)
  ]
  with strategy.scope():
    weights = [keras.Variable(value) for value in initial]
    optimizer = optimizer_class(learning_rate=1e-2, beta_1=0.5, beta_2=0.9)
    optimizer.build(weights)  # in the scope, as the trainers build theirs

  def replica_update(step_gradients):
    # A loss whose gradient is step_gradients: gradients reach the optimizer as in training.
    with tf.GradientTape() as tape:
      loss = tf.add_n([tf.reduce_sum(w * g) for w, g in zip(weights, step_gradients)])
    optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))

  @tf.function
  def update(step_gradients):
    strategy.run(replica_update, args=(step_gradients,))

  for step, step_gradients in enumerate(gradients):
    if step == steps // 2:
      optimizer.learning_rate.assign(5e-3)
    # Under two replicas the gradients are summed: halve them so both runs see the same update.
    scale = 1.0 / strategy.num_replicas_in_sync
    update([tf.constant(gradient * scale) for gradient in step_gradients])
  slots = [keras.ops.convert_to_numpy(v) for v in optimizer.variables]
  return [keras.ops.convert_to_numpy(w) for w in weights], slots


@pytest.mark.parametrize("replicas", [1, 2])
def test_fused_adam_matches_keras_adam(replicas, two_replicas):
  strategy = two_replicas if replicas == 2 else tf.distribute.get_strategy()
  fused_weights, fused_slots = _train(fused_adam.FusedAdam, strategy)
  keras_weights, keras_slots = _train(keras.optimizers.Adam, strategy)
  assert len(fused_slots) == len(keras_slots)  # the same slots: checkpoints are unchanged
  for fused, reference in zip(fused_weights + fused_slots, keras_weights + keras_slots):
    np.testing.assert_allclose(fused, reference, rtol=1e-5, atol=1e-6)
  initial = np.random.default_rng(0).normal(size=SHAPES[0])
  assert np.abs(fused_weights[0] - initial).max() > 1e-3  # the weights did move


def test_fused_adam_updates_with_the_fused_kernel():
  weight = keras.Variable(np.ones([3], np.float32))
  optimizer = fused_adam.FusedAdam(learning_rate=1e-2)
  optimizer.build([weight])

  def update(gradient):
    optimizer.apply_gradients([(gradient, weight)])

  graph = tf.function(update).get_concrete_function(tf.TensorSpec([3])).graph
  # Keras's own Adam traces as Mul, Sqrt and AssignSub ops, with no ResourceApply kernel.
  kernels = [op.type for op in graph.get_operations() if op.type.startswith("ResourceApply")]
  assert kernels == ["ResourceApplyAdam"]


def test_fused_adam_refuses_amsgrad():
  with pytest.raises(ValueError, match="amsgrad"):
    fused_adam.FusedAdam(amsgrad=True)
