"""Adam whose update of a weight is one TensorFlow kernel instead of about ten ops: the candidate
bench/optimizer_update.py times against Keras's Adam.

Keras 3 composes each weight's update from generic ops (multiply, square, sqrt, assign...), one
set per weight; TensorFlow's training kernel ResourceApplyAdam (what tf.keras 2 ran) does the same
arithmetic in one op per weight. Measured, the fused update takes half the time of Keras's, but the
updates are about 1 % of a tiny train step, so the package keeps Keras's Adam (docs/benchmarks.md).
"""

import relive_tf  # noqa: F401, I001 (turns oneDNN on before TensorFlow loads, as relive does)

import keras
import tensorflow as tf


class FusedAdam(keras.optimizers.Adam):
  """keras.optimizers.Adam (Kingma & Ba 2015, without amsgrad) updating each weight with
  tf.raw_ops.ResourceApplyAdam: m, v and the weight as Keras computes them, epsilon outside the
  square root."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    if self.amsgrad:
      raise ValueError("FusedAdam has no amsgrad; use keras.optimizers.Adam")

  def update_step(self, gradient, variable, learning_rate):
    dtype = variable.dtype
    local_step = tf.cast(self.iterations + 1, dtype)
    beta_1 = tf.cast(self.beta_1, dtype)
    beta_2 = tf.cast(self.beta_2, dtype)
    index = self._get_variable_index(variable)
    tf.raw_ops.ResourceApplyAdam(
      var=variable.handle,
      m=_handle(self._momentums[index], variable),
      v=_handle(self._velocities[index], variable),
      beta1_power=tf.pow(beta_1, local_step),
      beta2_power=tf.pow(beta_2, local_step),
      lr=tf.cast(learning_rate, dtype),
      beta1=beta_1,
      beta2=beta_2,
      epsilon=tf.cast(self.epsilon, dtype),
      grad=tf.cast(gradient, dtype),
    )


def _handle(slot, variable):
  """The resource handle of an optimizer slot's copy on `variable`'s device: under a strategy, the
  update runs once per device with that device's copy of the weight."""
  value = slot.value if isinstance(slot, keras.Variable) else slot
  copies = tf.distribute.get_strategy().experimental_local_results(value)
  return next((copy for copy in copies if copy.device == variable.device), value).handle
