"""The poster's conditional WGAN: a photo encoder before the video WGAN's streams, a photo critic.

Layer names follow the poster's TensorBoard histograms: generator/encoder/encode1..encode5,
generator/foreground_stream, generator/background_stream, discriminator/disc1..disc5.
"""

import keras
from keras import layers

from relive_tf.models import vgan


def condition_index(condition_frame, frames):
  """The frame a photo stands for: "middle" (frames // 2), "first" (0) or an index in [0, frames).

  Args:
    condition_frame: "middle", "first", or an index as an int or a string of digits.
    frames: clip length.

  Returns:
    The frame index, an int.
  """
  if condition_frame == "middle":
    return frames // 2
  if condition_frame == "first":
    return 0
  text = str(condition_frame).strip()
  if text.isdigit() and int(text) < frames:
    return int(text)
  raise ValueError(
    f"model.condition_frame is {condition_frame!r}; use 'middle', 'first' or a frame "
    f"index from 0 to {frames - 1}"
  )


class PhotoEncoder(keras.layers.Layer):
  """Photo [b, size, size, 3] in [-1, 1] -> latent code [b, time, size / 16, size / 16, channels].

  encode1..encode4: 4x4 Conv2D, stride 2, batchnorm, LeakyReLU, halving 64x64 to 4x4. encode5: a 4x4
  Conv2D with stride 1 (4x4 is already the code's size) to time * channels, batchnorm and ReLU like
  the video WGAN's noise_up, split into the code's time steps.
  """

  def __init__(self, widths, code_shape, name="encoder"):
    super().__init__(name=name)
    if len(widths) != vgan.UPSAMPLING_LAYERS:
      raise ValueError(
        f"model.encoder_widths is {tuple(widths)}; give {vgan.UPSAMPLING_LAYERS} widths, "
        "one per stride-2 layer"
      )
    self.code_shape = code_shape
    time, _, _, channels = code_shape
    self.downsamplers = [
      [
        layers.Conv2D(width, 4, strides=2, padding="same", use_bias=False, name=f"encode{i}"),
        vgan.batch_normalization(f"encode{i}_bn"),
        layers.LeakyReLU(0.2),
      ]
      for i, width in enumerate(widths, start=1)
    ]
    last = len(widths) + 1
    self.to_code = layers.Conv2D(
      time * channels, 4, padding="same", use_bias=False, name=f"encode{last}"
    )
    self.to_code_bn = vgan.batch_normalization(f"encode{last}_bn")

  def call(self, photo, training=False):
    """The code, and the four stride-2 layers' features (32x32 to 4x4 at size 64) for skips."""
    features, scales = photo, []
    for conv, norm, activation in self.downsamplers:
      features = activation(norm(conv(features), training=training))
      scales.append(features)
    features = keras.ops.relu(self.to_code_bn(self.to_code(features), training=training))
    time, height, width, channels = self.code_shape
    code = keras.ops.reshape(features, [-1, height, width, time, channels])
    return keras.ops.transpose(code, [0, 3, 1, 2, 4]), scales


class ConditionalGenerator(keras.Model):
  """Photo [b, size, size, 3] (and noise [b, noise_dim]) -> video [b, frames, size, size, 3].

  The encoder maps the photo to the latent code (2x4x4x512 at the poster's sizes), joined with the
  noise along channels; the video WGAN's foreground stream decodes it to a video and a mask. Its
  background stream decodes a vector of what stays still: the code averaged over time, narrowed by
  a 1x1 convolution to an eighth of its channels (keeping the stream's dense projection small) and
  flattened, joined with the noise. With skip_connections, the background stream also sees the
  encoder's features at every scale (U-Net skips): the photo's still content need not squeeze
  through the 4x4 code, which leaves the foreground stream the motion.
  """

  def __init__(
    self,
    noise_dim,
    encoder_widths,
    widths,
    frames,
    size,
    two_stream=True,
    skip_connections=True,
    upsample="transposed",
    name="generator",
  ):
    super().__init__(name=name)
    self.noise_dim = noise_dim
    self.skip_connections = skip_connections
    vgan.check_generator_widths(widths)
    self.code_shape = vgan.latent_shape(frames, size, widths[0])
    _, height, width, channels = self.code_shape
    self.encoder = PhotoEncoder(encoder_widths, self.code_shape)
    self.foreground_stream = vgan.ForegroundStream(
      widths[1:], with_mask=two_stream, upsample=upsample
    )
    if two_stream:
      self.background_code = layers.Conv2D(max(channels // 8, 1), 1, name="background_code")
      self.background_stream = vgan.BackgroundStream(
        [height, width, channels], widths[1:], upsample
      )
    else:
      self.background_code = self.background_stream = None

  def _join_noise(self, code, noise):
    """The code [b, time, h, w, c] with the noise [b, noise_dim] at every position appended."""
    if (noise is None) != (self.noise_dim == 0):
      raise ValueError(
        f"this generator takes noise of size {self.noise_dim}, got "
        f"{'none' if noise is None else keras.ops.shape(noise)}"
      )
    if noise is None:
      return code
    time, height, width, _ = self.code_shape
    tiled = keras.ops.broadcast_to(
      noise[:, None, None, None, :],
      [keras.ops.shape(noise)[0], time, height, width, self.noise_dim],
    )
    return keras.ops.concatenate([code, tiled], axis=-1)

  def latent_code(self, photo, noise=None, training=False):
    """[b, time, h, w, channels + noise_dim]: the photo's code joined with the noise."""
    return self._join_noise(self.encoder(photo, training=training)[0], noise)

  def streams(self, photo, noise=None, training=False):
    """foreground [b, t, h, w, 3], mask [b, t, h, w, 1] and background [b, h, w, 3] (or None)."""
    # Through __call__, so that weights built here are named generator/... like the poster's.
    return self(photo, noise, training=training, outputs="streams")

  def video_and_mask(self, photo, noise=None, training=False):
    """The video [b, t, h, w, 3] and its mask [b, t, h, w, 1] (None with one stream)."""
    return self(photo, noise, training=training, outputs="video_and_mask")

  def call(self, photo, noise=None, training=False, outputs="video"):
    """outputs: "video", "video_and_mask" or "streams" (see the methods of those names)."""
    if outputs not in vgan.GENERATOR_OUTPUTS:
      raise ValueError(f"outputs={outputs!r}: use one of {vgan.GENERATOR_OUTPUTS}")
    code, scales = self.encoder(photo, training=training)
    latent_code = self._join_noise(code, noise)
    background = None
    if self.background_stream is not None:
      still = self.background_code(keras.ops.mean(code, axis=1))
      still = keras.ops.reshape(still, [keras.ops.shape(code)[0], -1])
      if noise is not None:
        still = keras.ops.concatenate([still, noise], axis=-1)
      skips = scales[::-1] if self.skip_connections else None
      background = self.background_stream(still, skips, training=training)
    if outputs == "streams":
      return (*self.foreground_stream(latent_code, training=training), background)
    video, mask = self.foreground_stream(latent_code, training=training, background=background)
    return (video, mask) if outputs == "video_and_mask" else video


class ConditionalCritic(vgan.VideoCritic):
  """Video [b, frames, size, size, 3] and photo [b, size, size, 3] -> one score per video [b].

  The video critic on 6 channels: the video concatenated with the photo repeated over time.
  """

  def call(self, video, photo, training=False, frame_offset=0):
    repeated = keras.ops.repeat(photo[:, None], keras.ops.shape(video)[1], axis=1)
    return super().call(
      keras.ops.concatenate([video, repeated], axis=-1),
      training=training,
      frame_offset=frame_offset,
    )
