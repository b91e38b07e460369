"""The poster's video WGAN: a two-stream generator (Vondrick et al. 2016) and a 3D CNN critic.

Layer names follow the poster's TensorBoard histograms: generator/noise_up,
generator/foreground_stream, generator/background_stream, discriminator/disc1..disc5.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from relive_tf.models import activations
from relive_tf.models import phases
from relive_tf.models import resize_conv
from relive_tf.models import unet

UPSAMPLING_LAYERS = 4  # each doubles time and space: a 2x4x4 latent code becomes 32x64x64


def check_frames_judged(frames_judged, frames):
  """Raises a ValueError naming model.frames_judged unless it is from 1 to the clips' frames."""
  if not 1 <= frames_judged <= frames:
    raise ValueError(
      f"model.frames_judged is {frames_judged}; the frame critic judges from 1 to the clips' "
      f"{frames} frames (data.frames)"
    )


def check_generator_widths(widths):
  """Raises a ValueError naming model.generator_widths unless it holds UPSAMPLING_LAYERS positive
  integers: the latent code's channels, then one per stream layer (a shorter tuple failed inside
  the train step's graph)."""
  if (
    not isinstance(widths, (list, tuple))
    or len(widths) != UPSAMPLING_LAYERS
    or not all(isinstance(width, int) and width > 0 for width in widths)
  ):
    raise ValueError(
      f"model.generator_widths is {widths!r}; give {UPSAMPLING_LAYERS} positive integers, the "
      "latent code's channels then one per layer, e.g. (64, 32, 16, 8)"
    )


def latent_shape(frames, size, channels):
  """[time, height, width, channels] of the latent code for a clip of frames x size x size."""
  factor = 2**UPSAMPLING_LAYERS
  if min(frames, size) < factor or frames % factor or size % factor:
    raise ValueError(
      f"frames ({frames}) and size ({size}) must be positive multiples of {factor}: the "
      f"generator doubles both {UPSAMPLING_LAYERS} times from its latent code"
    )
  return [frames // factor, size // factor, size // factor, channels]


UPSAMPLINGS = ("transposed", "resize")
GENERATOR_OUTPUTS = ("video", "video_and_mask", "streams")


def batch_normalization(name):
  """BatchNormalization that, under a distribution strategy of several replicas, normalizes every
  replica with the global batch's statistics (synchronized: an all-reduce per layer and call); on
  one replica, the plain layer with fused moments. Decided when the layer is made, inside the
  strategy's scope; the weights are the same either way, so checkpoints move between the two."""
  synchronized = tf.distribute.get_strategy().num_replicas_in_sync > 1
  return layers.BatchNormalization(synchronized=synchronized, name=name)


def _normalization(kind, name):
  if kind in ("none", "spectral"):
    return layers.Identity(name=name)
  if kind == "batch":
    return batch_normalization(name)
  if kind == "layer":
    return layers.LayerNormalization(name=name)
  raise ValueError(f"unknown normalization {kind!r}: use 'batch', 'layer', 'spectral' or 'none'")


def upsampling_conv(rank, filters, upsample, name, **kwargs):
  """A layer that doubles every axis of a rank-2 or rank-3 feature map.

  "transposed": the poster's 4-wide stride-2 transposed convolution. "resize": nearest-neighbour
  doubling, then a 3-wide convolution, which draws no checkerboard (Odena et al. 2016,
  https://distill.pub/2016/deconv-checkerboard/).
  """
  if upsample == "transposed":
    transposed = layers.Conv3DTranspose if rank == 3 else layers.Conv2DTranspose
    return transposed(filters, 4, strides=2, padding="same", name=name, **kwargs)
  if upsample == "resize":
    return resize_conv.ResizeConv(rank, filters, name=name, **kwargs)
  raise ValueError(f"model.upsample is {upsample!r}; use one of {UPSAMPLINGS}")


def critic_conv(rank, filters, normalization, name, first=False):
  """A 4-wide stride-2 convolution, spectrally normalized (Miyato et al. 2018) when asked. A 3D
  critic's first layer takes its input gradient, toward the video's 3 channels, by phases: the
  tiny steps take 0.95 to 0.98 of the time they took with TensorFlow's (docs/benchmarks.md)."""
  if rank == 3 and first:
    conv = phases.PhaseGradientConv3D(filters, name=name)
  else:
    conv = (layers.Conv3D if rank == 3 else layers.Conv2D)(
      filters, 4, strides=2, padding="same", name=name
    )
  if normalization == "spectral":
    return layers.SpectralNormalization(conv, name=f"{name}_sn")
  return conv


class ForegroundStream(keras.layers.Layer):
  """Latent code [b, 2, 4, 4, c] -> foreground video [b, 32, 64, 64, 3] in [-1, 1], mask in [0, 1].

  Three 4x4x4 Conv3DTranspose layers (stride 2, batchnorm, ReLU) then two heads, each a fourth
  transposed convolution: a tanh video and a sigmoid mask.
  """

  def __init__(self, widths, with_mask, upsample="transposed", name="foreground_stream"):
    super().__init__(name=name)
    self.blocks = []
    for i, width in enumerate(widths, start=1):
      self.blocks += [
        upsampling_conv(3, width, upsample, f"deconv{i}", use_bias=False),
        batch_normalization(f"deconv{i}_bn"),
        layers.ReLU(),
      ]
    self.video_head = upsampling_conv(3, 3, upsample, "video", activation="tanh")
    self.mask_head = (
      upsampling_conv(3, 1, upsample, "mask", activation="sigmoid") if with_mask else None
    )

  def call(self, code, training=False, background=None):
    """(foreground, mask): [b, t, h, w, 3] and [b, t, h, w, 1] (None with one stream).

    Given the background [b, h, w, 3], the composed video replaces the foreground; in training it
    is composed in one XLA-compiled kernel (`composed_heads`).
    """
    features = code
    for block in self.blocks:
      features = block(features, training=training)
    if self.mask_head is None:
      return self.video_head(features), None
    heads = [self.video_head, self.mask_head]
    if background is None:
      return tuple(upsampling_heads(features, heads))
    if not training:
      foreground, mask = upsampling_heads(features, heads)
      return compose_video(foreground, mask, background), mask
    kernel, bias = joined_heads(features, heads)
    return composed_heads(phases.phase_convolution(features, kernel), bias, background)


def joined_heads(features, heads):
  """Upsampling layers of one kind that read the same features, as one transposed convolution.

  Their kernels are joined along the output channels: at full resolution a transposed convolution
  to a few channels costs oneDNN about as much for 1 channel as for 4, so the video (3) and mask
  (1) heads together take half the time of two calls (docs/benchmarks.md).

  Args:
    features: [b, *spatial, c].
    heads: ResizeConv or Conv{2,3}DTranspose layers (4-wide, stride 2, "same", with biases).

  Returns:
    the joined transposed kernel [4] * rank + [sum of filters, c] and the joined biases [sum of
    filters], in the features' dtype.
  """
  for head in heads:
    if not head.built:
      head.build(features.shape)
  kernel = keras.ops.concatenate([transposed_kernel(head, features.dtype) for head in heads], -2)
  bias = keras.ops.concatenate([head.bias for head in heads], 0)
  return kernel, keras.ops.cast(bias, features.dtype)


def upsampling_heads(features, heads):
  """The heads' joined transposed convolution (joined_heads), split back, each head with its own
  bias and activation: the same outputs, the same weights as calling each head, in one
  convolution.

  Returns:
    one [b, *(2 * spatial), head.filters] tensor per head.
  """
  kernel, bias = joined_heads(features, heads)
  outputs = keras.ops.conv_transpose(features, kernel, strides=2, padding="same") + bias
  ends = np.cumsum([head.filters for head in heads])[:-1].tolist()
  return [head.activation(part) for head, part in zip(heads, keras.ops.split(outputs, ends, -1))]


@tf.function(jit_compile=True, autograph=False)
def composed_heads(head_phases, bias, background):
  """The video [b, t, h, w, 3] and mask [b, t, h, w, 1] from the joined video and mask heads'
  phases.phase_convolution [b, t/2 + 1, h/2 + 1, w/2 + 1, 32] before their bias [4] and activations
  (tanh, sigmoid), and the background [b, h, w, 3].

  The same arithmetic as upsampling_heads then compose_video, compiled by XLA into one pass over
  the full-size tensors and one for the gradients, where TensorFlow runs an op per step of it
  (the phases' interleaving included). Training uses it; inference and exports use the separate
  ops, since TF Serving runs XLA-compiled functions only when asked to
  (--xla_cpu_compilation_enabled).
  """
  foreground, mask = tf.split(phases.interleaved_phases(head_phases) + bias, [3, 1], axis=-1)
  mask = tf.sigmoid(mask)
  return compose_video(tf.tanh(foreground), mask, background), mask


def transposed_kernel(layer, dtype):
  """An upsampling layer's kernel as a transposed convolution's, [4] * rank + [filters, c]."""
  if isinstance(layer, resize_conv.ResizeConv):
    return keras.ops.cast(layer.transposed_kernel(), dtype)
  return keras.ops.cast(layer.kernel, dtype)


class BackgroundStream(keras.layers.Layer):
  """Noise [b, n] -> one background image [b, 64, 64, 3] in [-1, 1], static over time.

  A dense projection to a 4x4 code, three 4x4 Conv2DTranspose layers (stride 2, batchnorm, ReLU) and
  a tanh image head. Given skips (a photo's features, U-Net style), each transposed convolution also
  sees the skip of its input's resolution, so the background can keep the photo's detail.
  """

  def __init__(self, code_shape, widths, upsample="transposed", name="background_stream"):
    super().__init__(name=name)
    height, width, channels = code_shape
    self.project = layers.Dense(height * width * channels, use_bias=False, name="project")
    self.project_bn = batch_normalization("project_bn")
    self.code_shape = code_shape
    self.deconvs = [
      upsampling_conv(2, channels, upsample, f"deconv{i}", use_bias=False)
      for i, channels in enumerate(widths, start=1)
    ]
    self.norms = [batch_normalization(f"deconv{i}_bn") for i in range(1, len(widths) + 1)]
    self.image_head = upsampling_conv(2, 3, upsample, "image", activation="tanh")

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
  background = background[:, None]
  return background + mask * (foreground - background)  # 3 full-size ops instead of 4


class VideoGenerator(keras.Model):
  """Noise [batch, noise_dim] -> video [batch, frames, size, size, 3] in [-1, 1].

  noise_up projects the noise to the latent code (2x4x4x512 at the poster's sizes); the foreground
  stream decodes it to a video and a mask, the background stream decodes the noise to one image.
  Five layers deep counting noise_up.
  """

  def __init__(
    self, noise_dim, widths, frames, size, two_stream=True, upsample="transposed", name="generator"
  ):
    super().__init__(name=name)
    self.noise_dim = noise_dim
    check_generator_widths(widths)
    self.code_shape = latent_shape(frames, size, widths[0])
    time, height, width, channels = self.code_shape
    self.noise_up = layers.Dense(time * height * width * channels, use_bias=False, name="noise_up")
    self.noise_up_bn = batch_normalization("noise_up_bn")
    self.foreground_stream = ForegroundStream(widths[1:], with_mask=two_stream, upsample=upsample)
    self.background_stream = (
      BackgroundStream([height, width, channels], widths[1:], upsample) if two_stream else None
    )

  def latent_code(self, noise, training=False):
    code = keras.ops.reshape(self.noise_up(noise), [-1, *self.code_shape])
    return keras.ops.relu(self.noise_up_bn(code, training=training))

  def streams(self, noise, training=False):
    """foreground [b, t, h, w, 3], mask [b, t, h, w, 1] and background [b, h, w, 3] (or None)."""
    return self(noise, training=training, outputs="streams")

  def video_and_mask(self, noise, training=False):
    """The video [b, t, h, w, 3] and its mask [b, t, h, w, 1] (None with one stream)."""
    return self(noise, training=training, outputs="video_and_mask")

  def call(self, noise, training=False, outputs="video"):
    """outputs: "video", "video_and_mask" or "streams" (see the methods of those names)."""
    if outputs not in GENERATOR_OUTPUTS:
      raise ValueError(f"outputs={outputs!r}: use one of {GENERATOR_OUTPUTS}")
    code = self.latent_code(noise, training)
    background = (
      self.background_stream(noise, training=training)
      if self.background_stream is not None
      else None
    )
    if outputs == "streams":
      return (*self.foreground_stream(code, training=training), background)
    video, mask = self.foreground_stream(code, training=training, background=background)
    return (video, mask) if outputs == "video_and_mask" else video


def critic_blocks(rank, widths, normalization, prefix):
  """The layers of a critic's downsampling blocks PREFIX1..PREFIXn: a strided 4x4(x4) convolution
  (critic_conv) of each width, normalized from the second on, then LeakyReLU(0.2) (DCGAN's
  critic, Radford et al. 2016)."""
  blocks = []
  for i, width in enumerate(widths, start=1):
    blocks.append(critic_conv(rank, width, normalization, f"{prefix}{i}", first=i == 1))
    if i > 1:
      blocks.append(_normalization(normalization, f"{prefix}{i}_norm"))
    blocks.append(activations.FusibleLeakyReLU(0.2))
  return blocks


class FrameCritic(keras.layers.Layer):
  """Frames [b, k, size, size, c] -> one score per video [b]: a 2D critic on k frames of each video.

  A second critic that judges frames alone sharpens what each frame shows, as MoCoGAN's image
  discriminator (Tulyakov et al. 2018) and DVD-GAN's spatial one (Clark et al. 2019) do; the video
  critic still judges the motion. frame1..frameN: 4x4 Conv2D, stride 2, LeakyReLU (normalized after
  the first); then a 4x4 Conv2D to one channel, averaged over space and the k frames.

  stacked: the k frames enter as one image of k*c channels instead, so the critic also sees whether
  distant frames show the same thing (StyleGAN-V's discriminator joins sparse frames along
  channels, Skorokhodov et al. 2022).
  """

  def __init__(self, widths, normalization="batch", stacked=False, name="frame_critic"):
    super().__init__(name=name)
    self.blocks = critic_blocks(2, widths, normalization, "frame")
    self.score = critic_conv(2, 1, normalization, f"frame{len(widths) + 1}")
    self.stacked = stacked

  def call(self, frames, training=False):
    shape = keras.ops.shape(frames)
    if self.stacked:
      stacked = keras.ops.transpose(frames, [0, 2, 3, 1, 4])
      frames = keras.ops.reshape(stacked, [shape[0], 1, shape[2], shape[3], shape[1] * shape[4]])
      shape = keras.ops.shape(frames)
    features = keras.ops.reshape(frames, [-1, shape[2], shape[3], shape[4]])
    for block in self.blocks:
      features = block(features, training=training)
    scores = keras.ops.mean(self.score(features, training=training), axis=[1, 2, 3])
    return keras.ops.mean(keras.ops.reshape(scores, [shape[0], shape[1]]), axis=1)


class VideoCritic(keras.Model):
  """Video [batch, frames, size, size, channels] -> scores [batch], or [batch, 2] with frame critic.

  disc1..disc4: 4x4x4 Conv3D, stride 2, LeakyReLU (normalized after disc1); disc5: a 4x4x4 Conv3D to
  one channel, averaged over what is left of time and space. Batchnorm suits weight clipping (the
  poster's); with a gradient penalty use layer norm, spectral norm or none, since the penalty is
  per sample. With frame_critic_widths, a FrameCritic also scores frames_judged frames of each
  video, one at a time or, with frames_stacked, together.
  """

  def __init__(
    self,
    widths,
    normalization="batch",
    frame_critic_widths=(),
    frames_judged=4,
    frames_stacked=False,
    name="discriminator",
  ):
    super().__init__(name=name)
    self.blocks = critic_blocks(3, widths, normalization, "disc")
    self.score = critic_conv(3, 1, normalization, f"disc{len(widths) + 1}")
    self.frame_critic = (
      FrameCritic(frame_critic_widths, normalization, frames_stacked)
      if frame_critic_widths
      else None
    )
    self.frames_judged = frames_judged

  def frame_stride(self, frames):
    """The frames between two the frame critic judges in a clip of `frames`.

    Raises:
      ValueError: model.frames_judged is below 1 or above the clip's frames.
    """
    check_frames_judged(self.frames_judged, frames)
    return frames // self.frames_judged

  def call(self, video, training=False, frame_offset=0):
    """Scores [b] from the video critic alone, or [b, 2] (video, frames) with a frame critic.

    The frame critic judges frames_judged evenly spaced frames from frame_offset, an int in
    [0, frames / frames_judged): the trainer varies it so that every frame is judged in turn.
    """
    features = video
    for block in self.blocks:
      features = block(features, training=training)
    scores = keras.ops.mean(self.score(features, training=training), axis=[1, 2, 3, 4])
    if self.frame_critic is None:
      return scores
    stride = self.frame_stride(video.shape[1])
    judged = keras.ops.take(
      video, frame_offset + stride * keras.ops.arange(self.frames_judged), axis=1
    )
    return keras.ops.stack([scores, self.frame_critic(judged, training=training)], axis=1)
