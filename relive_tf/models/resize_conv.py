"""Nearest-neighbour doubling then a 3-wide convolution, run as one stride-2 transposed conv."""

import keras
import numpy as np

# Per axis, doubling by repetition then convolving with taps w (3 wide, "same") equals a 4-wide
# stride-2 transposed convolution with taps _TAPS @ w: each output phase sums two neighbouring taps.
_TAPS = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], np.float32)


def tap_matrix(rank):
  """[4**rank, 3**rank]: _TAPS on every axis at once (their Kronecker product), so that one
  matmul maps a flattened 3-wide kernel to the 4-wide one; a chain of per-axis einsums cost 4x
  the time, forward and backward, in every generator pass (docs/benchmarks.md)."""
  matrix = _TAPS
  for _ in range(rank - 1):
    matrix = np.kron(matrix, _TAPS)
  return matrix


class ResizeConv(keras.layers.Layer):
  """[b, *spatial, c] -> [b, *(2 * spatial), filters]: UpSampling then a 3-wide Conv, fused.

  Resizing then convolving draws no checkerboard, unlike a free stride-2 transposed convolution
  (Odena et al. 2016, https://distill.pub/2016/deconv-checkerboard/); running it as a transposed
  convolution with tied taps costs 8 taps per output instead of 27 (in 3D). The kernel variable is a
  plain [3] * rank + [c, filters] convolution kernel.
  """

  def __init__(self, rank, filters, use_bias=True, activation=None, name=None):
    super().__init__(name=name)
    self.rank = rank
    self.filters = filters
    self.use_bias = use_bias
    self.activation = keras.activations.get(activation)

  def build(self, input_shape):
    shape = [3] * self.rank + [input_shape[-1], self.filters]
    self.kernel = self.add_weight(name="kernel", shape=shape, initializer="glorot_uniform")
    self.bias = (
      self.add_weight(name="bias", shape=[self.filters], initializer="zeros")
      if self.use_bias
      else None
    )

  def transposed_kernel(self):
    """The equivalent transposed-convolution kernel, [4] * rank + [filters, c], in the layer's
    compute dtype (bfloat16 or float16 under a mixed precision policy, like the inputs)."""
    taps = keras.ops.convert_to_tensor(tap_matrix(self.rank), dtype=self.compute_dtype)
    weights = keras.ops.swapaxes(keras.ops.cast(self.kernel, self.compute_dtype), -1, -2)
    kernel = keras.ops.matmul(taps, keras.ops.reshape(weights, [3**self.rank, -1]))
    return keras.ops.reshape(kernel, [4] * self.rank + list(weights.shape[-2:]))

  def call(self, inputs):
    outputs = keras.ops.conv_transpose(inputs, self.transposed_kernel(), strides=2, padding="same")
    if self.bias is not None:
      outputs = outputs + self.bias
    return self.activation(outputs)
