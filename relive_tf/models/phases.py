"""4-wide, stride-2, "same" 3D transposed convolutions run as stride-1 convolutions of their phases.

oneDNN runs a transposed convolution as a convolution's input gradient, whose output channels fill
its vector lanes: to 3 or 4 channels (the video heads, the critic's input gradient at the video) it
uses a fraction of them. Along each axis such a transposed convolution makes output 2m - 1 + s
(s = 0, 1) from inputs m - 1 + j (j = 0, 1) through its tap 2 + s - 2j, so one stride-1 convolution
with a 2-wide kernel makes all 8 output phases of each window as 8 times the channels, which
interleaved_phases puts back in place (the sub-pixel form; Shi et al. 2016).
"""

import keras
import tensorflow as tf
from keras import layers

PHASE_CONVOLUTION = "phase_convolution"  # its ops' name scope, which bench/flops.py looks for
_STRIDES = [1, 2, 2, 2, 1]


def phase_convolution(features, kernel):
  """The 8 output phases of a 4-wide, stride-2, "same" transposed convolution, as one stride-1
  convolution with a 2-wide kernel over the features padded by one.

  With the interleaving (XLA), at the tiny heads' shapes (batch 8, 16x32x32x8 -> 32x64x64x4) the
  forward pass takes 6.5 ms instead of 15, at the poster's widths (64 channels in) 25 instead of
  79 (`python bench/step_pieces.py`, "phases"). The windows at the edges do about 13 % more
  multiply-adds than the transposed convolution, for outputs that interleaved_phases crops.

  Args:
    features: [b, d, h, w, c].
    kernel: the transposed convolution's kernel [4, 4, 4, filters, c].

  Returns:
    [b, d + 1, h + 1, w + 1, 8 * filters], the phases ordered (s_d, s_h, s_w, filter).
  """
  for axis in (0, 2, 4):  # the taps of phase s over j = 0, 1: 2 + s - 2j
    taps = [(slice(None),) * axis + (slice(2 + phase, None, -2),) for phase in (0, 1)]
    kernel = tf.stack([kernel[index] for index in taps], axis)
  filters, channels = kernel.shape[-2:]  # kernel: [s_d, j_d, s_h, j_h, s_w, j_w, filters, c]
  kernel = tf.reshape(
    tf.transpose(kernel, [1, 3, 5, 7, 0, 2, 4, 6]), [2, 2, 2, channels, 8 * filters]
  )
  # PadV2, not tf.pad's Pad: grappler's remapper folds a Pad into the convolution after it, though
  # the convolution's gradient still reads the Pad's shape, and then undoes its every fusion in the
  # function (activations.py says why that matters).
  padded = tf.raw_ops.PadV2(
    input=features,
    paddings=[[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]],
    constant_values=tf.zeros([], features.dtype),
  )
  with tf.name_scope(PHASE_CONVOLUTION):  # its gradients' ops take the scope too
    return tf.nn.conv3d(padded, kernel, [1] * 5, "VALID")


def interleaved_phases(phases):
  """phase_convolution's output [b, d + 1, h + 1, w + 1, 8 * filters] -> the transposed
  convolution's [b, 2d, 2h, 2w, filters]."""
  _, depth, height, width, channels = phases.shape
  filters = channels // 8
  phases = tf.reshape(phases, [-1, depth, height, width, 2, 2, 2, filters])
  phases = tf.transpose(phases, [0, 1, 4, 2, 5, 3, 6, 7])
  outputs = tf.reshape(phases, [-1, 2 * depth, 2 * height, 2 * width, filters])
  return outputs[:, 1:-1, 1:-1, 1:-1]


# XLA makes the interleaving one pass, where TensorFlow's transpose takes about twice as long.
_interleaved_by_xla = tf.function(interleaved_phases, jit_compile=True, autograph=False)


@tf.custom_gradient
def strided_convolution(inputs, kernel):
  """A 4-wide, stride-2, "same" 3D convolution [b, 2d, 2h, 2w, c] -> [b, d, h, w, filters] (kernel
  [4, 4, 4, c, filters]) whose input gradient, a transposed convolution to c channels, runs as a
  phase convolution. Its gradients are differentiable again (R1's double backpropagation)."""
  outputs = tf.nn.conv3d(inputs, kernel, _STRIDES, "SAME")

  def gradients(output_gradients):
    input_gradients = _interleaved_by_xla(phase_convolution(output_gradients, kernel))
    kernel_gradients = tf.raw_ops.Conv3DBackpropFilterV2(
      input=inputs,
      filter_sizes=tf.shape(kernel),
      out_backprop=output_gradients,
      strides=_STRIDES,
      padding="SAME",
    )
    return input_gradients, kernel_gradients

  return outputs, gradients


@keras.saving.register_keras_serializable(package="relive_tf")
class PhaseGradientConv3D(layers.Conv3D):
  """keras.layers.Conv3D (4-wide, stride 2, "same") whose input gradient runs as a phase
  convolution: for a critic's first layer, whose input gradient (in every generator update and
  R1 penalty) is a transposed convolution to the video's 3 channels. The same weights, outputs and
  gradients as Conv3D; inputs with an odd size along an axis take Conv3D's own gradient.

  Raises:
    ValueError: any shape but 4 wide, stride 2, "same", channels last, one group.
  """

  def __init__(self, filters, kernel_size=4, strides=2, padding="same", **kwargs):
    super().__init__(filters, kernel_size, strides=strides, padding=padding, **kwargs)
    shape = (self.kernel_size, self.strides, self.padding, self.data_format, self.groups)
    if shape != ((4,) * 3, (2,) * 3, "same", "channels_last", 1):  # Keras refuses dilation itself
      raise ValueError(
        f"{self.name}: a phase gradient needs kernel_size 4, strides 2, padding 'same', "
        f"channels_last and groups 1; got {self.kernel_size}, {self.strides}, {self.padding!r}, "
        f"{self.data_format} and {self.groups}"
      )

  def convolution_op(self, inputs, kernel):
    if any(size is None or size % 2 for size in inputs.shape[1:-1]):
      return super().convolution_op(inputs, kernel)
    return strided_convolution(inputs, keras.ops.cast(kernel, inputs.dtype))
