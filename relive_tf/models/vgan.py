"""The poster's video WGAN: a two-stream generator (Vondrick et al. 2016) and a 3D CNN critic.

Layer names follow the poster's TensorBoard histograms: generator/noise_up,
generator/foreground_stream, generator/background_stream, discriminator/disc1..disc5.
"""

import keras
from keras import layers

from relive_tf.models import unet

UPSAMPLING_LAYERS = 4  # each doubles time and space: a 2x4x4 latent code becomes 32x64x64


def latent_shape(frames, size, channels):
  """[time, height, width, channels] of the latent code for a clip of frames x size x size."""
  factor = 2**UPSAMPLING_LAYERS
  if frames % factor or size % factor:
    raise ValueError(
      f"frames ({frames}) and size ({size}) must be multiples of {factor}: the "
      f"generator doubles both {UPSAMPLING_LAYERS} times from its latent code"
    )
  return [frames // factor, size // factor, size // factor, channels]


def _normalization(kind, name):
  if kind == "batch":
    # Synchronized so that every replica normalizes with the statistics of the global batch.
    return layers.BatchNormalization(synchronized=True, name=name)
  if kind == "layer":
    return layers.LayerNormalization(name=name)
  if kind == "none":
    return layers.Identity(name=name)
  raise ValueError(f"unknown normalization {kind!r}: use 'batch', 'layer' or 'none'")


class ForegroundStream(keras.layers.Layer):
  """Latent code [b, 2, 4, 4, c] -> foreground video [b, 32, 64, 64, 3] in [-1, 1], mask in [0, 1].

  Three 4x4x4 Conv3DTranspose layers (stride 2, batchnorm, ReLU) then two heads, each a fourth
  transposed convolution: a tanh video and a sigmoid mask.
  """

  def __init__(self, widths, with_mask, name="foreground_stream"):
    super().__init__(name=name)
    self.blocks = []
    for i, width in enumerate(widths, start=1):
      self.blocks += [
        layers.Conv3DTranspose(
          width, 4, strides=2, padding="same", use_bias=False, name=f"deconv{i}"
        ),
        layers.BatchNormalization(synchronized=True, name=f"deconv{i}_bn"),
        layers.ReLU(),
      ]
    self.video_head = layers.Conv3DTranspose(
      3, 4, strides=2, padding="same", activation="tanh", name="video"
    )
    self.mask_head = (
      layers.Conv3DTranspose(1, 4, strides=2, padding="same", activation="sigmoid", name="mask")
      if with_mask
      else None
    )

  def call(self, code, training=False):
    features = code
    for block in self.blocks:
      features = block(features, training=training)
    mask = self.mask_head(features) if self.mask_head is not None else None
    return self.video_head(features), mask


class BackgroundStream(keras.layers.Layer):
  """Noise [b, n] -> one background image [b, 64, 64, 3] in [-1, 1], static over time.

  A dense projection to a 4x4 code, three 4x4 Conv2DTranspose layers (stride 2, batchnorm, ReLU) and
  a tanh image head. Given skips (a photo's features, U-Net style), each transposed convolution also
  sees the skip of its input's resolution, so the background can keep the photo's detail.
  """

  def __init__(self, code_shape, widths, name="background_stream"):
    super().__init__(name=name)
    height, width, channels = code_shape
    self.project = layers.Dense(height * width * channels, use_bias=False, name="project")
    self.project_bn = layers.BatchNormalization(synchronized=True, name="project_bn")
    self.code_shape = code_shape
    self.deconvs = [
      layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", use_bias=False, name=f"deconv{i}"
      )
      for i, channels in enumerate(widths, start=1)
    ]
    self.norms = [
      layers.BatchNormalization(synchronized=True, name=f"deconv{i}_bn")
      for i in range(1, len(widths) + 1)
    ]
    self.image_head = layers.Conv2DTranspose(
      3, 4, strides=2, padding="same", activation="tanh", name="image"
    )

  def call(self, noise, skips=None, training=False):
    """skips: None, or one feature map per transposed convolution, coarsest (4x4) first."""
    if skips is None:
      skips = [None] * (len(self.deconvs) + 1)
    features = keras.ops.reshape(self.project(noise), [-1, *self.code_shape])
    features = keras.ops.relu(self.project_bn(features, training=training))
    for deconv, norm, skip in zip(self.deconvs, self.norms, skips):
      features = keras.ops.relu(norm(deconv(unet.join(features, skip)), training=training))
    return self.image_head(unet.join(features, skips[-1]))


def compose_video(foreground, mask, background):
  """Vondrick et al.'s two streams: mask * foreground + (1 - mask) * background, over time.

  Args:
    foreground: [b, t, h, w, 3]; mask: [b, t, h, w, 1] or None (one stream);
    background: [b, h, w, 3].

  Returns:
    video [b, t, h, w, 3].
  """
  if mask is None:
    return foreground
  return mask * foreground + (1.0 - mask) * background[:, None]


class VideoGenerator(keras.Model):
  """Noise [batch, noise_dim] -> video [batch, frames, size, size, 3] in [-1, 1].

  noise_up projects the noise to the latent code (2x4x4x512 at the poster's sizes); the foreground
  stream decodes it to a video and a mask, the background stream decodes the noise to one image.
  Five layers deep counting noise_up.
  """

  def __init__(self, noise_dim, widths, frames, size, two_stream=True, name="generator"):
    super().__init__(name=name)
    self.noise_dim = noise_dim
    self.code_shape = latent_shape(frames, size, widths[0])
    time, height, width, channels = self.code_shape
    self.noise_up = layers.Dense(time * height * width * channels, use_bias=False, name="noise_up")
    self.noise_up_bn = layers.BatchNormalization(synchronized=True, name="noise_up_bn")
    self.foreground_stream = ForegroundStream(widths[1:], with_mask=two_stream)
    self.background_stream = (
      BackgroundStream([height, width, channels], widths[1:]) if two_stream else None
    )

  def latent_code(self, noise, training=False):
    code = keras.ops.reshape(self.noise_up(noise), [-1, *self.code_shape])
    return keras.ops.relu(self.noise_up_bn(code, training=training))

  def streams(self, noise, training=False):
    """foreground [b, t, h, w, 3], mask [b, t, h, w, 1] and background [b, h, w, 3] (or None)."""
    return self(noise, training=training, return_streams=True)

  def call(self, noise, training=False, return_streams=False):
    foreground, mask = self.foreground_stream(self.latent_code(noise, training), training=training)
    background = (
      self.background_stream(noise, training=training)
      if self.background_stream is not None
      else None
    )
    if return_streams:
      return foreground, mask, background
    return compose_video(foreground, mask, background)


class VideoCritic(keras.Model):
  """Video [batch, frames, size, size, channels] -> one unbounded score per video [batch].

  disc1..disc4: 4x4x4 Conv3D, stride 2, LeakyReLU (normalized after disc1); disc5: a 4x4x4 Conv3D to
  one channel, averaged over what is left of time and space. Batchnorm suits weight clipping (the
  poster's); with a gradient penalty use layer norm or none, since the penalty is per sample.
  """

  def __init__(self, widths, normalization="batch", name="discriminator"):
    super().__init__(name=name)
    self.blocks = []
    for i, width in enumerate(widths, start=1):
      self.blocks.append(layers.Conv3D(width, 4, strides=2, padding="same", name=f"disc{i}"))
      if i > 1:
        self.blocks.append(_normalization(normalization, f"disc{i}_norm"))
      self.blocks.append(layers.LeakyReLU(0.2))
    self.score = layers.Conv3D(1, 4, strides=2, padding="same", name=f"disc{len(widths) + 1}")

  def call(self, video, training=False):
    features = video
    for block in self.blocks:
      features = block(features, training=training)
    return keras.ops.mean(self.score(features), axis=[1, 2, 3, 4])
