"""A training run on one CPU leaves nothing in TensorFlow's gradient registry, so its graphs are
freed with its trainer."""

import gc
import weakref

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops

from relive_tf.models import activations
from relive_tf.training import gradient_registry

import helpers


def _custom_gradient_names():
  return {name for name in ops._gradient_registry._registry if name.startswith("CustomGradient-")}


def _traced_gradient():
  """A tf.function taking the fusible LeakyReLU's gradient, and a weak reference to its graph."""

  @tf.function
  def gradient(features):
    with tf.GradientTape() as tape:
      tape.watch(features)
      outputs = activations.leaky_relu(features, 0.2)
    return tape.gradient(outputs, features)

  features = tf.constant([-1.0, 2.0])
  return gradient, features, weakref.ref(gradient.get_concrete_function(features).graph)


def test_a_graph_traced_inside_is_freed_once_dropped_and_runs_until_then():
  gradient, features, graph = _traced_gradient()
  del gradient
  gc.collect()
  assert graph() is not None  # why the module exists: the registry holds the graph

  before = _custom_gradient_names()
  with gradient_registry.released_custom_gradients():
    gradient, features, graph = _traced_gradient()
    assert _custom_gradient_names() - before  # it did register one
  assert _custom_gradient_names() == before
  np.testing.assert_allclose(gradient(features), [0.2, 1.0])  # still runs
  del gradient
  gc.collect()
  assert graph() is None


def test_a_run_on_one_cpu_leaves_no_custom_gradient_behind_one_through_tf_distribute_does(
  tmp_path, two_replicas
):
  config = helpers.load_config("vgan", train__num_steps=2)
  before = _custom_gradient_names()
  helpers.train(config, tmp_path / "one_cpu")
  assert _custom_gradient_names() == before
  # Freeing its graphs would free an iterator with tf.data's autotuning, whose destructor can wait.
  helpers.train(config, tmp_path / "two_replicas", two_replicas)
  assert _custom_gradient_names() - before
