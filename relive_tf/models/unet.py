"""U-Net skip connections: an encoder's feature map joined to a decoder's along channels."""

import keras


def join(features, skip):
  """features [..., c] with skip [..., c'] appended along channels; features alone without one."""
  return features if skip is None else keras.ops.concatenate([features, skip], axis=-1)
