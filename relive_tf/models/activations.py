"""A LeakyReLU that TensorFlow's graph optimizer can fuse into the convolution before it.

Grappler's remapper fuses a convolution, its bias and a LeakyReLU into one oneDNN call, dropping
the bias's own output; but TensorFlow's gradient of LeakyReLU reads that output (its input), so the
rewrite fails ("remapper failed: ... fanout ... exist for missing node .../BiasAdd" on stderr) and
the remapper's every fusion in that function is undone: no convolution of the train step ran fused.
Read from the activation's output instead, the gradient is the same (a slope >= 0 keeps the input's
sign) and the fusion holds (docs/benchmarks.md, "An eighth").
"""

import keras
import tensorflow as tf
from keras import layers


def leaky_relu(features, negative_slope):
  """tf.nn.leaky_relu(features, negative_slope) whose gradient reads its output, not its input.

  Its gradient is differentiable again (R1's double backpropagation), as TensorFlow's is.

  Args:
    features: a float tensor of any shape.
    negative_slope: the slope below zero, >= 0 (keras.layers.LeakyReLU refuses a negative one).
  """

  @tf.custom_gradient
  def activation(features):
    outputs = tf.nn.leaky_relu(features, negative_slope)

    def gradient(output_gradients):
      return tf.raw_ops.LeakyReluGrad(
        gradients=output_gradients, features=outputs, alpha=negative_slope
      )

    return outputs, gradient

  return activation(features)


@keras.saving.register_keras_serializable(package="relive_tf")
class FusibleLeakyReLU(layers.LeakyReLU):
  """keras.layers.LeakyReLU whose gradient reads its output (leaky_relu): the same outputs and
  gradients, and a convolution, bias and activation before it that oneDNN runs as one call."""

  def call(self, inputs):
    return leaky_relu(inputs, self.negative_slope)
