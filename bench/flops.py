"""FLOPs of a traced TensorFlow function, counted from the shapes of its linear ops.

Counted: convolutions (2D, 3D), their input and filter gradients (which also run the transposed
convolutions; phases.phase_convolution, a transposed convolution run as a stride-1 one, and its
gradients count as the transposed convolution, the network's own arithmetic, without its edge
windows), matrix products and einsums, each as 2 x its multiply-adds, wherever they sit in the
graph: in nested function calls (an XLA-compiled replica step), in both branches of a condition (the
larger), and in while loops times their trip count (an LSTM over time, and its gradient). Element-
wise work (activations, normalization, optimizer updates) is left out: on these networks it is a
few percent of the arithmetic, and it is not what a matmul-rate ceiling measures.
"""

import relive_tf  # noqa: F401, I001 (turns oneDNN on before TensorFlow loads, as relive does)

import math
import re

import tensorflow as tf
from tensorflow.python.framework import tensor_util

from relive_tf.models import phases

CONVOLUTIONS = ("Conv2D", "Conv3D", "DepthwiseConv2dNative")
INPUT_GRADIENTS = ("Conv2DBackpropInput", "Conv3DBackpropInputV2", "Conv3DBackpropInput")
FILTER_GRADIENTS = ("Conv2DBackpropFilter", "Conv3DBackpropFilterV2", "Conv3DBackpropFilter")
LOOPS = ("While", "StatelessWhile")
CONDITIONS = ("If", "StatelessIf")


def _shape(tensor):
  dims = tensor.shape.as_list() if tensor.shape.rank is not None else None
  if dims is None or None in dims:
    raise ValueError(f"{tensor.name} has no static shape ({tensor.shape}): FLOPs need one")
  return dims


def _channels_last(op):
  data_format = op.get_attr("data_format") if "data_format" in op.node_def.attr else b"NHWC"
  if data_format not in (b"NHWC", b"NDHWC"):
    raise ValueError(f"{op.name}: data_format {data_format.decode()} is not counted")


def einsum_flops(equation, shapes):
  """2 x multiply-adds of a two-operand einsum: one per combination of every index's values."""
  inputs = equation.replace(" ", "").split("->")[0].split(",")
  sizes = {}
  for labels, shape in zip(inputs, shapes):
    if "." in labels:
      raise ValueError(f"einsum {equation!r} with an ellipsis is not counted")
    sizes.update(zip(labels, shape))
  return 2 * math.prod(sizes.values())


def _positions(op, shape):
  """The output positions [b, *spatial] of a convolution whose output (or output gradient) has
  `shape`; for a phase convolution, the transposed convolution's inputs (one fewer per axis)."""
  batch, *spatial = shape[:-1]
  if any(re.fullmatch(rf"{phases.PHASE_CONVOLUTION}(_\d+)?", part) for part in op.name.split("/")):
    spatial = [size - 1 for size in spatial]
  return batch * math.prod(spatial)


def op_flops(op):
  """FLOPs of one op outside loops and calls (0 for ops that are not linear)."""
  kind = op.type
  if kind in CONVOLUTIONS:
    _channels_last(op)
    filter_size = math.prod(_shape(op.inputs[1]))
    if kind == "DepthwiseConv2dNative":
      filter_size //= _shape(op.inputs[1])[2]  # each input channel meets its own filters only
    return 2 * filter_size * _positions(op, _shape(op.outputs[0]))
  if kind in INPUT_GRADIENTS:  # a transposed convolution: every input pixel meets the whole filter
    _channels_last(op)
    return 2 * math.prod(_shape(op.inputs[1])) * _positions(op, _shape(op.inputs[2]))
  if kind in FILTER_GRADIENTS:
    _channels_last(op)
    return 2 * math.prod(_shape(op.outputs[0])) * _positions(op, _shape(op.inputs[2]))
  if kind == "MatMul":
    a, b = _shape(op.inputs[0]), _shape(op.inputs[1])
    rows, inner = a[::-1] if op.get_attr("transpose_a") else a
    columns = b[0] if op.get_attr("transpose_b") else b[1]
    return 2 * rows * inner * columns
  if kind in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
    a, b = _shape(op.inputs[0]), _shape(op.inputs[1])
    rows, inner = (a[-1], a[-2]) if op.get_attr("adj_x") else (a[-2], a[-1])
    columns = b[-2] if op.get_attr("adj_y") else b[-1]
    batch = math.prod(_shape(op.outputs[0])[:-2])
    return 2 * batch * rows * inner * columns
  if kind == "Einsum":
    return einsum_flops(op.get_attr("equation").decode(), [_shape(t) for t in op.inputs])
  return 0


def _function_graph(graph, name):
  """The FuncGraph of a function the graph (or a graph enclosing it) calls."""
  while graph is not None:
    functions = getattr(graph, "_functions", {})
    if name in functions:
      return functions[name].graph
    graph = getattr(graph, "outer_graph", None)
  raise ValueError(f"function {name} is not in the graph's library")


def _source(tensor, graph, bindings):
  """The tensor a function's argument or result stands for: through the call ops that pass it in
  (bindings: an argument's ref -> the caller's tensor) and out of the functions that return it, so a
  loop traced inside a function (a Keras LSTM) sees the constants and loops of its callers."""
  while True:
    if tensor.ref() in bindings:
      tensor, graph = bindings[tensor.ref()]
    elif _called(tensor.op):
      inner = _function_graph(graph, tensor.op.get_attr("f").name)
      _bind(tensor.op, graph, inner, bindings)
      tensor, graph = inner.outputs[tensor.value_index], inner
    elif tensor.op.type == "Identity":
      tensor = tensor.op.inputs[0]
    else:
      return tensor


def _called(op):
  """Whether op calls a function whose arguments are its inputs (a nested tf.function)."""
  return op.type in ("PartitionedCall", "StatefulPartitionedCall")


def _bind(call, graph, inner, bindings):
  """Records that the function `inner`'s arguments are the call op's inputs (in `graph`)."""
  for argument, value in zip(inner.inputs, call.inputs, strict=True):
    bindings[argument.ref()] = (value, graph)


def _trip_count(op, graph, counts, bindings):
  """Iterations of a While op: those of the forward loop it undoes when it is a gradient loop (its
  inputs include that loop's iteration count), else its maximum_iterations when constant, else the
  length of the tensor list it unstacks (an RNN's inputs over time)."""
  sources = [_source(tensor, graph, bindings) for tensor in op.inputs]
  # A gradient loop's third input is its forward loop's first output, the iterations it ran (not
  # any loop output: a loop may start from another loop's final state, as a rollout does).
  iterations = sources[2]
  if iterations.op.type in LOOPS and iterations.value_index == 0 and iterations.op in counts:
    return counts[iterations.op]
  maximum = tensor_util.constant_value(sources[1])
  if maximum is not None and int(maximum) >= 0:
    return int(maximum)
  for tensor in sources:
    if tensor.op.type == "TensorListFromTensor":
      return _shape(tensor.op.inputs[0])[0]
  raise ValueError(f"{op.name}: the trip count of this loop is not known from the graph")


def live_ops(graph):
  """The ops of a FuncGraph that run: those its outputs or its stateful ops (control outputs)
  depend on. A tape traced in a tf.function also differentiates what no update needs (the critic's
  gradient through the generator); TensorFlow prunes those ops before running the function."""
  live, frontier = set(), [t.op for t in graph.outputs] + list(graph.control_outputs)
  while frontier:
    op = frontier.pop()
    if op in live:
      continue
    live.add(op)
    frontier.extend(t.op for t in op.inputs)
    frontier.extend(op.control_inputs)
  return [op for op in graph.get_operations() if op in live]


def graph_flops(graph, by_type=None, _counts=None, _bindings=None):
  """FLOPs of one run of a graph (a tf.function's FuncGraph), nested functions and loops included;
  ops that TensorFlow prunes (live_ops) are left out.

  Args:
    graph: a FuncGraph, e.g. `function.get_concrete_function(*args).graph`.
    by_type: a dict to add each op type's FLOPs to, or None.

  Returns:
    The total, an int.

  Raises:
    ValueError: an op without static shapes, or a loop whose trip count the graph does not give.
  """
  counts = {} if _counts is None else _counts  # While op -> trip count, across nested functions
  bindings = {} if _bindings is None else _bindings
  total = 0
  for op in live_ops(graph):
    if op.type in LOOPS:
      counts[op] = _trip_count(op, graph, counts, bindings)
      body = _function_graph(graph, op.get_attr("body").name)
      total += counts[op] * graph_flops(body, by_type, counts, bindings)
    elif op.type in CONDITIONS:
      branches = [
        _function_graph(graph, op.get_attr(name).name) for name in ("then_branch", "else_branch")
      ]
      total += max(graph_flops(branch, None, counts, bindings) for branch in branches)
    elif _called(op):
      inner = _function_graph(graph, op.get_attr("f").name)
      _bind(op, graph, inner, bindings)
      total += graph_flops(inner, by_type, counts, bindings)
    else:
      flops = op_flops(op)
      total += flops
      if flops and by_type is not None:
        by_type[op.type] = by_type.get(op.type, 0) + flops
  return total


def function_flops(function, *args):
  """FLOPs of one call of a tf.function (or a Python function, traced here) on args."""
  if not hasattr(function, "get_concrete_function"):
    function = tf.function(function)
  return graph_flops(function.get_concrete_function(*args).graph)
