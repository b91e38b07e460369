"""Releases the custom gradients a training run traced, so that its graphs can be freed.

Each tf.custom_gradient traced into a graph (activations.leaky_relu, phases.strided_convolution)
registers its gradient function in TensorFlow's global gradient registry under a new
"CustomGradient-N" name, and TensorFlow never removes it. The function's closure holds the graph's
tensors, so every train step traced in a process stayed in memory after its trainer was gone, with
the variables it captured: 108 MiB of resident memory more for each one-step default video WGAN
run in one process (tensorflow/tensorflow#97697; docs/reliability.md, "Memory after a run"). A
name is looked up only while its own graph is traced.
"""

import contextlib

from tensorflow.python.framework import ops

_PREFIX = "CustomGradient-"  # tf.custom_gradient's names in graph mode


@contextlib.contextmanager
def released_custom_gradients():
  """Within the block, custom gradients register as usual; on leaving it (also on an error) the
  ones registered inside are removed from TensorFlow's gradient registry, so that the graphs
  traced inside are freed with the last object that holds them (a trainer's tf.functions).

  Functions traced inside and kept still run, and trace again (registering anew) when they must.
  What can no longer be built is a new gradient through a graph traced inside (an outer tape over
  a call of one of its concrete functions), which training never asks for.
  """
  # Private: TensorFlow has no call that unregisters a gradient (framework/ops.py, registry.py).
  registry = ops._gradient_registry._registry
  before = set(registry)
  try:
    yield
  finally:
    for name in set(registry) - before:
      if name.startswith(_PREFIX):
        del registry[name]
