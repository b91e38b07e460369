"""PyTorch eager twins of relive_tf's networks and train steps, built from the same config.

Each twin has relive_tf's layers, widths, parameter counts, losses and update rules
(relive_tf/models, relive_tf/training, relive_tf/losses.py), written as PyTorch code is usually
written: channels-first tensors ([batch, channels, frames, height, width]), nn modules, autograd,
torch.optim. Where the two frameworks' defaults differ, the twin takes Keras' values: batchnorm
momentum 0.99 (PyTorch's 0.01) and epsilon 1e-3, layer-norm epsilon 1e-3, RMSprop rho 0.9, epsilon
1e-7, Glorot-uniform kernels and zero biases. The LSTM stays PyTorch's own: it has two bias vectors
(input and hidden); the hidden one is zero and frozen here, so that both have Keras' one trainable
bias.

The GAN twins mirror the poster's recipe (transposed convolutions, one 3D critic with batch, layer
or no normalization, RMSprop or Adam, WGAN clipping, a gradient penalty, hinge or logistic losses)
and nothing else: build() refuses a config with resize upsampling, a frame critic, spectral norm,
an R1 penalty or an EMA generator (unmirrored()), rather than time a different network. Options a
config may lack (an older relive_tf) take the values that leave them off.

train.precision=mixed_bfloat16 runs the twins' forward passes under torch.autocast to bfloat16, as
Keras' mixed_bfloat16 policy runs relive_tf's layers: 16-bit convolutions and matmuls, float32
weights, and the networks' outputs cast to float32 before any loss (autocast()).
"""

import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BATCHNORM = dict(eps=1e-3, momentum=0.01)  # Keras' momentum 0.99 is PyTorch's 0.01
LAYERNORM_EPSILON = 1e-3
# Options added to the GAN configs after their first version, with the values that leave them off:
# the only values the twin mirrors, but for critic_learning_rate.
GAN_DEFAULTS = {
  "model.upsample": "transposed",
  "model.frame_critic_widths": (),
  "train.critic_learning_rate": 0.0,
  "train.r1_weight": 0.0,
  "train.ema_decay": 0.0,
}
UNMIRRORED = ("model.upsample", "model.frame_critic_widths", "train.r1_weight", "train.ema_decay")
CRITIC_NORMS = ("batch", "layer", "none")
PREDICTOR_DEFAULTS = {"model.motion_kernels": 0, "model.kernel_size": 7}
AUTOCAST_PRECISIONS = ("float32", "mixed_bfloat16")


def option(config, key, defaults):
  """config's value of "section.key", or the default that leaves the option off."""
  section, name = key.split(".")
  return config[section].get(name, defaults[key])


def unmirrored(config):
  """The "key=value" options of a GAN config the twin does not mirror ([]: it mirrors them all)."""
  if config.model_type not in ("vgan", "cvgan"):
    return []
  found = [
    f"{key}={option(config, key, GAN_DEFAULTS)!r}"
    for key in UNMIRRORED
    if option(config, key, GAN_DEFAULTS) != GAN_DEFAULTS[key]
  ]
  if config.model.critic_norm not in CRITIC_NORMS:
    found.append(f"model.critic_norm={config.model.critic_norm!r}")
  return found


def autocast(config):
  """A function returning the context config.train.precision's forward passes run in: none at
  float32, torch.autocast to bfloat16 on the CPU at mixed_bfloat16.

  Raises:
    ValueError: mixed_float16, which relive_tf runs with loss scaling, and which neither framework
      has fast CPU kernels for (docs/benchmarks.md).
  """
  precision = config.train.get("precision", "float32")
  if precision not in AUTOCAST_PRECISIONS:
    raise ValueError(
      f"the PyTorch twin runs train.precision {' or '.join(AUTOCAST_PRECISIONS)}, not "
      f"{precision!r}: time it with --frameworks=relive_tf"
    )
  if precision == "float32":
    return contextlib.nullcontext
  return lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)


def parameter_count(module):
  """Trainable parameters: what relive_tf's log line and checkpoints count as the network's."""
  return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)


def keras_init(module):
  """Keras' initial weights: Glorot-uniform kernels, zero biases; an LSTM's recurrent kernel
  orthogonal and its forget gate's bias 1."""
  for layer in module.modules():
    if isinstance(layer, nn.Linear | nn.modules.conv._ConvNd):
      nn.init.xavier_uniform_(layer.weight)
      if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    elif isinstance(layer, nn.LSTM):
      units = layer.hidden_size
      nn.init.xavier_uniform_(layer.weight_ih_l0)
      nn.init.orthogonal_(layer.weight_hh_l0)  # Keras' recurrent kernel, transposed
      nn.init.zeros_(layer.bias_ih_l0)
      nn.init.ones_(layer.bias_ih_l0.data[units : 2 * units])  # PyTorch's gates: i, f, g, o
      nn.init.zeros_(layer.bias_hh_l0)


def batchnorm(rank, channels):
  return (nn.BatchNorm3d if rank == 3 else nn.BatchNorm2d)(channels, **BATCHNORM)


class ChannelLayerNorm(nn.Module):
  """Keras' LayerNormalization on channels-last features: each position normalized over channels."""

  def __init__(self, channels):
    super().__init__()
    self.norm = nn.LayerNorm(channels, eps=LAYERNORM_EPSILON)

  def forward(self, x):
    return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def upsampling(rank, in_channels, out_channels, bias):
  """A 4-wide stride-2 transposed convolution that doubles every axis: relive_tf's
  vgan.upsampling_conv with model.upsample="transposed"."""
  transposed = nn.ConvTranspose3d if rank == 3 else nn.ConvTranspose2d
  return transposed(in_channels, out_channels, 4, stride=2, padding=1, bias=bias)


class CriticConv(nn.Module):
  """A 4-wide stride-2 convolution with Keras' "same" padding.

  "same" pads 1 before and 1 after an even-sized axis (PyTorch's padding=1), 1 and 2 around an
  odd-sized one: that extra zero is added only where an axis is odd.
  """

  def __init__(self, rank, in_channels, out_channels):
    super().__init__()
    self.conv = (nn.Conv3d if rank == 3 else nn.Conv2d)(in_channels, out_channels, 4, 2, padding=1)

  def forward(self, x):
    odd = [size % 2 for size in reversed(x.shape[2:])]
    if any(odd):
      x = F.pad(x, [pad for extra in odd for pad in (0, extra)])
    return self.conv(x)


def critic_normalization(kind, rank, channels):
  if kind == "none":
    return nn.Identity()
  if kind == "batch":
    return batchnorm(rank, channels)
  if kind == "layer":
    return ChannelLayerNorm(channels)
  raise ValueError(f"model.critic_norm is {kind!r}; the twin knows {', '.join(CRITIC_NORMS)}")


def join(features, skip):
  """U-Net skip: features with skip appended along channels (features alone without one)."""
  return features if skip is None else torch.cat([features, skip], dim=1)


class ForegroundStream(nn.Module):
  """Code [b, c, t, h, w] -> video [b, 3, 16t, 16h, 16w] in [-1, 1] and mask [b, 1, ...] or None."""

  def __init__(self, in_channels, widths, with_mask):
    super().__init__()
    blocks = []
    for width in widths:
      blocks += [
        upsampling(3, in_channels, width, bias=False),
        batchnorm(3, width),
        nn.ReLU(),
      ]
      in_channels = width
    self.blocks = nn.Sequential(*blocks)
    self.video_head = upsampling(3, in_channels, 3, bias=True)
    self.mask_head = upsampling(3, in_channels, 1, bias=True) if with_mask else None

  def forward(self, code):
    features = self.blocks(code)
    mask = torch.sigmoid(self.mask_head(features)) if self.mask_head is not None else None
    return torch.tanh(self.video_head(features)), mask


class BackgroundStream(nn.Module):
  """Vector [b, n] -> background image [b, 3, 16h, 16w]; skips: one channel count per transposed
  convolution and the head (coarsest first), or None."""

  def __init__(self, in_features, code_shape, widths, skip_channels=None):
    super().__init__()
    channels, height, width = code_shape
    self.code_shape = code_shape
    self.project = nn.Linear(in_features, channels * height * width, bias=False)
    self.project_bn = batchnorm(2, channels)
    skip_channels = skip_channels or [0] * (len(widths) + 1)
    self.deconvs = nn.ModuleList()
    self.norms = nn.ModuleList()
    for out_channels, skip in zip(widths, skip_channels):
      self.deconvs.append(upsampling(2, channels + skip, out_channels, bias=False))
      self.norms.append(batchnorm(2, out_channels))
      channels = out_channels
    self.image_head = upsampling(2, channels + skip_channels[-1], 3, bias=True)

  def forward(self, vector, skips=None):
    skips = skips if skips is not None else [None] * (len(self.deconvs) + 1)
    features = self.project(vector).view(-1, *self.code_shape)
    features = F.relu(self.project_bn(features))
    for deconv, norm, skip in zip(self.deconvs, self.norms, skips):
      features = F.relu(norm(deconv(join(features, skip))))
    return torch.tanh(self.image_head(join(features, skips[-1])))


def compose_video(foreground, mask, background):
  """mask * foreground + (1 - mask) * background (the same image at every frame), computed as
  relive_tf does, in three full-size operations."""
  if mask is None:
    return foreground
  background = background[:, :, None]
  return background + mask * (foreground - background)


def code_shape(widths, frames, size):
  """[channels, time, height, width] of the latent code: four doublings make the clip."""
  return [widths[0], frames // 16, size // 16, size // 16]


class VideoGenerator(nn.Module):
  """Noise [b, noise_dim] -> video [b, 3, frames, size, size]: relive_tf's vgan.VideoGenerator."""

  def __init__(self, noise_dim, widths, frames, size, two_stream):
    super().__init__()
    self.code_shape = code_shape(widths, frames, size)
    channels, _, height, width = self.code_shape
    self.noise_up = nn.Linear(noise_dim, math.prod(self.code_shape), bias=False)
    self.noise_up_bn = batchnorm(3, channels)
    self.foreground_stream = ForegroundStream(channels, widths[1:], two_stream)
    self.background_stream = (
      BackgroundStream(noise_dim, [channels, height, width], widths[1:]) if two_stream else None
    )

  def streams(self, noise):
    code = F.relu(self.noise_up_bn(self.noise_up(noise).view(-1, *self.code_shape)))
    foreground, mask = self.foreground_stream(code)
    background = self.background_stream(noise) if self.background_stream is not None else None
    return foreground, mask, background


class PhotoEncoder(nn.Module):
  """Photo [b, 3, size, size] -> code [b, c, t, h, w] and the four stride-2 layers' features."""

  def __init__(self, widths, code_shape):
    super().__init__()
    channels, time, _, _ = code_shape
    self.code_shape = code_shape
    self.downsamplers = nn.ModuleList()
    in_channels = 3
    for width in widths:
      self.downsamplers.append(
        nn.Sequential(
          nn.Conv2d(in_channels, width, 4, stride=2, padding=1, bias=False),
          batchnorm(2, width),
          nn.LeakyReLU(0.2),
        )
      )
      in_channels = width
    # Keras' "same" padding of a 4-wide stride-1 convolution: 1 before, 2 after, as PyTorch's.
    self.to_code = nn.Conv2d(in_channels, time * channels, 4, padding="same", bias=False)
    self.to_code_bn = batchnorm(2, time * channels)

  def forward(self, photo):
    features, scales = photo, []
    for downsampler in self.downsamplers:
      features = downsampler(features)
      scales.append(features)
    features = F.relu(self.to_code_bn(self.to_code(features)))
    channels, time, height, width = self.code_shape
    code = features.view(-1, time, channels, height, width).transpose(1, 2)
    return code, scales


class ConditionalGenerator(nn.Module):
  """Photo [b, 3, size, size] and noise [b, n] -> video: relive_tf's cvgan.ConditionalGenerator."""

  def __init__(
    self,
    noise_dim,
    encoder_widths,
    widths,
    frames,
    size,
    two_stream,
    skip_connections,
  ):
    super().__init__()
    self.noise_dim = noise_dim
    self.skip_connections = skip_connections
    self.code_shape = code_shape(widths, frames, size)
    channels, _, height, width = self.code_shape
    self.encoder = PhotoEncoder(encoder_widths, self.code_shape)
    self.foreground_stream = ForegroundStream(channels + noise_dim, widths[1:], two_stream)
    if two_stream:
      narrow = max(channels // 8, 1)
      self.background_code = nn.Conv2d(channels, narrow, 1)
      skips = list(encoder_widths[::-1]) if skip_connections else None
      self.background_stream = BackgroundStream(
        narrow * height * width + noise_dim,
        [channels, height, width],
        widths[1:],
        skip_channels=skips,
      )
    else:
      self.background_code = self.background_stream = None

  def _join_noise(self, code, noise):
    if noise is None:
      return code
    tiled = noise[:, :, None, None, None].expand(-1, -1, *code.shape[2:])
    return torch.cat([code, tiled], dim=1)

  def streams(self, photo, noise):
    code, scales = self.encoder(photo)
    foreground, mask = self.foreground_stream(self._join_noise(code, noise))
    background = None
    if self.background_stream is not None:
      still = self.background_code(code.mean(dim=2)).flatten(1)
      if noise is not None:
        still = torch.cat([still, noise], dim=1)
      skips = scales[::-1] if self.skip_connections else None
      background = self.background_stream(still, skips)
    return foreground, mask, background


class VideoCritic(nn.Module):
  """Video [b, c, frames, size, size] -> scores [b]: relive_tf's vgan.VideoCritic without a frame
  critic."""

  def __init__(self, in_channels, widths, normalization):
    super().__init__()
    blocks = []
    channels = in_channels
    for i, width in enumerate(widths, start=1):
      blocks.append(CriticConv(3, channels, width))
      if i > 1:
        blocks.append(critic_normalization(normalization, 3, width))
      blocks.append(nn.LeakyReLU(0.2))
      channels = width
    self.blocks = nn.Sequential(*blocks)
    self.score = CriticConv(3, channels, 1)

  def forward(self, video):
    return self.score(self.blocks(video)).mean(dim=(1, 2, 3, 4))


def make_optimizer(name, parameters, learning_rate, beta1, beta2):
  """torch.optim's RMSprop or Adam with Keras' defaults (rho 0.9, epsilon 1e-7)."""
  parameters = [parameter for parameter in parameters if parameter.requires_grad]
  if name == "rmsprop":
    return torch.optim.RMSprop(parameters, lr=learning_rate, alpha=0.9, eps=1e-7)
  if name == "adam":
    return torch.optim.Adam(parameters, lr=learning_rate, betas=(beta1, beta2), eps=1e-7)
  raise ValueError(f"train.optimizer is {name!r}; the twin knows rmsprop and adam")


def _input_gradients(critic, inputs):
  """d sum(critic(inputs)) / d inputs, kept differentiable (for the gradient penalty)."""
  inputs = inputs.detach().requires_grad_(True)
  (gradients,) = torch.autograd.grad(critic(inputs).sum(), inputs, create_graph=True)
  return gradients.flatten(1)


class GANTwin:
  """The video WGAN's or conditional WGAN's train step in PyTorch: relive_tf's VideoWGAN."""

  def __init__(self, config):
    """Raises ValueError: the config has options the twin does not mirror (unmirrored())."""
    found = unmirrored(config)
    if found:
      raise ValueError(
        f"the PyTorch twin mirrors the poster's recipe, not {', '.join(found)}: "
        f"use configs/{config.model_type}.py:tiny,poster or :poster, or leave these options at "
        "their defaults"
      )
    model, train, data = config.model, config.train, config.data
    self.conditional = config.model_type == "cvgan"
    if self.conditional:
      self.generator = ConditionalGenerator(
        model.noise_dim,
        model.encoder_widths,
        model.generator_widths,
        data.frames,
        data.size,
        model.two_stream,
        model.skip_connections,
      )
      self.condition_index = condition_index(model.condition_frame, data.frames)
    else:
      self.generator = VideoGenerator(
        model.noise_dim,
        model.generator_widths,
        data.frames,
        data.size,
        model.two_stream,
      )
    self.critic = VideoCritic(6 if self.conditional else 3, model.critic_widths, model.critic_norm)
    keras_init(self.generator)
    keras_init(self.critic)
    self.autocast = autocast(config)
    self.loss = train.loss
    self.clip_value = train.clip_value
    self.gradient_penalty_weight = train.gradient_penalty_weight
    self.mask_l1_weight = train.mask_l1_weight
    self.critic_steps = train.critic_steps
    self.batch_size = train.batch_size
    if self.conditional:
      self.l2_weight = train.l2_weight
      self.diversity_weight = train.diversity_weight
      self.diversity_cap = train.diversity_cap
    self.generator_optimizer = make_optimizer(
      train.optimizer,
      self.generator.parameters(),
      train.learning_rate,
      train.adam_beta1,
      train.adam_beta2,
    )
    self.critic_optimizer = make_optimizer(
      train.optimizer,
      self.critic.parameters(),
      option(config, "train.critic_learning_rate", GAN_DEFAULTS) or train.learning_rate,
      train.adam_beta1,
      train.adam_beta2,
    )

  @property
  def networks(self):
    return {"generator": self.generator, "critic": self.critic}

  @property
  def batches_per_step(self):
    return self.critic_steps

  def _average(self, per_example):
    return per_example.sum() / self.batch_size

  def fake_videos(self, batch, noise=None):
    noise = batch.get("noise") if noise is None else noise
    if self.conditional:
      streams = self.generator.streams(self.photos(batch), noise)
    else:
      streams = self.generator.streams(noise)
    foreground, mask, background = streams
    return compose_video(foreground, mask, background).float(), mask.float()

  def photos(self, batch):
    return batch["video"][:, :, self.condition_index]

  def critic_fn(self, batch):
    """videos -> scores: the critic as it judges this batch (beside its photos if conditional)."""
    if not self.conditional:
      return self.critic
    photos = self.photos(batch)

    def judge(videos):
      repeated = photos[:, :, None].expand(-1, -1, videos.shape[2], -1, -1)
      return self.critic(torch.cat([videos, repeated], dim=1))

    return judge

  def critic_step(self, batch, fake=None):
    """One critic update; fake: the generator's videos for the batch when already made."""
    real = batch["video"]
    with self.autocast():
      if fake is None:
        with torch.no_grad():
          fake, _ = self.fake_videos(batch)
      critic = self.critic_fn(batch)
      real_scores, fake_scores = critic(real).float(), critic(fake).float()
      if self.loss == "hinge":
        loss = self._average(F.relu(1.0 - real_scores) + F.relu(1.0 + fake_scores))
      elif self.loss == "logistic":
        loss = self._average(F.softplus(-real_scores) + F.softplus(fake_scores))
      else:
        loss = self._average(fake_scores - real_scores)
      total = loss
      if self.loss == "wgan-gp":
        alpha = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
        gradients = _input_gradients(critic, alpha * real + (1.0 - alpha) * fake)
        norms = torch.sqrt(gradients.float().square().sum(dim=1) + 1e-10)
        total = total + self.gradient_penalty_weight * self._average((norms - 1.0).square())
    self.critic_optimizer.zero_grad(set_to_none=True)
    total.backward(inputs=list(self.critic_optimizer.param_groups[0]["params"]))
    self.critic_optimizer.step()
    if self.loss == "wgan":
      with torch.no_grad():
        for parameter in self.critic.parameters():
          parameter.clamp_(-self.clip_value, self.clip_value)
    return loss

  def generator_step(self, batch, fake, mask):
    """One generator update on the videos it made for the batch (with their autograd graph)."""
    with self.autocast():
      fake_scores = self.critic_fn(batch)(fake).float()
      if self.loss == "logistic":
        loss = self._average(F.softplus(-fake_scores))
      else:
        loss = self._average(-fake_scores)
      total = loss
      if mask is not None and self.mask_l1_weight:
        total = total + self.mask_l1_weight * self._average(mask.abs().mean(dim=(1, 2, 3, 4)))
      if self.conditional:
        error = (fake[:, :, self.condition_index] - self.photos(batch)).square()
        total = total + self.l2_weight * self._average(error.mean(dim=(1, 2, 3)))
        if self.diversity_weight:
          noise = batch["noise"]
          other_noise = torch.randn_like(noise)
          other, _ = self.fake_videos(batch, noise=other_noise)
          difference = (fake - other).abs().mean(dim=(1, 2, 3, 4))
          ratio = difference / (noise - other_noise).abs().mean(1)
          diversity = self._average(-torch.clamp(ratio, max=self.diversity_cap))
          total = total + self.diversity_weight * diversity
    self.generator_optimizer.zero_grad(set_to_none=True)
    total.backward(inputs=list(self.generator_optimizer.param_groups[0]["params"]))
    self.generator_optimizer.step()
    return loss

  def train_step(self, batches):
    """critic_steps critic updates, then a generator update on the last batch; the losses.

    As in relive_tf's train_step, the last critic update and the generator update share one
    forward pass of the generator (the critic update leaves the generator as it was), except with
    weight clipping (loss "wgan"), where relive_tf makes the videos again after clipping.
    """
    if self.loss == "wgan":
      for batch in batches:
        critic_loss = self.critic_step(batch)
      with self.autocast():
        fake, mask = self.fake_videos(batch)
    else:
      for batch in batches[:-1]:
        self.critic_step(batch)
      batch = batches[-1]
      with self.autocast():
        fake, mask = self.fake_videos(batch)
      critic_loss = self.critic_step(batch, fake.detach())
    generator_loss = self.generator_step(batch, fake, mask)
    return {"critic_loss": critic_loss.item(), "generator_loss": generator_loss.item()}


def condition_index(condition_frame, frames):
  """relive_tf's cvgan.condition_index: "middle", "first" or a frame index."""
  if condition_frame == "middle":
    return frames // 2
  if condition_frame == "first":
    return 0
  return int(condition_frame)


class FrameEncoder(nn.Module):
  """Frames [n, 3, size, size] -> vectors [n, embedding] and each convolution's feature map."""

  def __init__(self, widths, embedding_dim, size):
    super().__init__()
    self.convs = nn.ModuleList()
    in_channels = 3
    for width in widths:
      self.convs.append(nn.Conv2d(in_channels, width, 4, stride=2, padding=1))
      in_channels = width
    side = size // 2 ** len(widths)
    self.embed = nn.Linear(side * side * in_channels, embedding_dim)

  def forward(self, frames):
    features, feature_maps = frames, []
    for conv in self.convs:
      features = F.relu(conv(features))
      feature_maps.append(features)
    return self.embed(features.flatten(1)), feature_maps


class FrameDecoder(nn.Module):
  """Vectors [n, units] -> frames [n, 3, size, size] in [-1, 1] and masks (or None)."""

  def __init__(self, units, side, widths, mask_channels, skip_channels=None):
    super().__init__()
    self.code_shape = (widths[0], side, side)
    self.project = nn.Linear(units, side * side * widths[0])
    skip_channels = skip_channels or [0] * len(widths)
    self.deconvs = nn.ModuleList()
    channels = widths[0]
    for width, skip in zip(widths[1:], skip_channels):
      self.deconvs.append(nn.ConvTranspose2d(channels + skip, width, 4, stride=2, padding=1))
      channels = width
    channels += skip_channels[-1]
    self.frame = nn.ConvTranspose2d(channels, 3, 4, stride=2, padding=1)
    self.mask = (
      nn.ConvTranspose2d(channels, mask_channels, 4, stride=2, padding=1) if mask_channels else None
    )

  def forward(self, vectors, skips=None):
    features = F.relu(self.project(vectors).view(-1, *self.code_shape))
    skips = skips[::-1] if skips is not None else [None] * (len(self.deconvs) + 1)
    for deconv, skip in zip(self.deconvs, skips):
      features = F.relu(deconv(join(features, skip)))
    features = join(features, skips[-1])
    if self.mask is None:
      mask = None
    elif self.mask.out_channels == 1:
      mask = torch.sigmoid(self.mask(features))
    else:
      mask = torch.softmax(self.mask(features), dim=1)
    return torch.tanh(self.frame(features)), mask


def apply_motion_kernels(frames, kernels):
  """Each frame [n, c, h, w] correlated with each of its kernels [n, k, s, s] -> [n, k, c, h, w]."""
  size = kernels.shape[-1]
  n, channels, height, width = frames.shape
  patches = F.unfold(frames, size, padding=size // 2).view(n, channels, size * size, -1)
  moved = torch.einsum("ncpl,nkp->nkcl", patches, kernels.flatten(2))
  return moved.view(n, -1, channels, height, width)


class NextFramePredictor(nn.Module):
  """Frames [b, t, 3, size, size] -> the next frame after each: lstm.NextFramePredictor's twin."""

  def __init__(
    self,
    encoder_widths,
    embedding_dim,
    lstm_units,
    decoder_widths,
    size,
    blend_input,
    skip_connections,
    motion_kernels=0,
    kernel_size=7,
  ):
    super().__init__()
    self.size = size
    self.skip_connections = skip_connections
    self.encoder = FrameEncoder(encoder_widths, embedding_dim, size)
    self.lstm = nn.LSTM(embedding_dim, lstm_units, batch_first=True)
    # Keras' LSTM has one bias; PyTorch's second (hidden) one stays zero (keras_init).
    self.lstm.bias_hh_l0.requires_grad_(False)
    self.motion_kernels = motion_kernels
    self.kernel_size = kernel_size
    self.kernels = (
      nn.Linear(lstm_units, motion_kernels * kernel_size**2) if motion_kernels else None
    )
    mask_channels = motion_kernels + 1 if motion_kernels else (1 if blend_input else 0)
    self.decoder = FrameDecoder(
      lstm_units,
      size // 2 ** len(encoder_widths),
      decoder_widths,
      mask_channels,
      skip_channels=list(encoder_widths[::-1]) if skip_connections else None,
    )

  def _predict(self, outputs, inputs, feature_maps):
    frames, mask = self.decoder(outputs, feature_maps if self.skip_connections else None)
    if self.kernels is not None:
      logits = self.kernels(outputs).view(-1, self.motion_kernels, self.kernel_size**2)
      kernels = torch.softmax(logits, dim=-1).view(
        -1, self.motion_kernels, self.kernel_size, self.kernel_size
      )
      candidates = torch.cat([apply_motion_kernels(inputs, kernels), frames[:, None]], dim=1)
      return (mask[:, :, None] * candidates).sum(dim=1)
    return frames if mask is None else mask * frames + (1.0 - mask) * inputs

  def observe(self, frames, state=None):
    batch, time = frames.shape[:2]
    flat = frames.reshape(batch * time, *frames.shape[2:])
    codes, feature_maps = self.encoder(flat)
    outputs, state = self.lstm(codes.view(batch, time, -1), state)
    predictions = self._predict(outputs.reshape(batch * time, -1), flat, feature_maps)
    return predictions.view(frames.shape), state

  def step(self, frame, state):
    code, feature_maps = self.encoder(frame)
    output, state = self.lstm(code[:, None], state)
    return self._predict(output[:, 0], frame, feature_maps), state


class PredictorTwin:
  """The next-frame predictor's train step in PyTorch: relive_tf's NextFramePrediction."""

  batches_per_step = 1

  def __init__(self, config):
    model, train, data = config.model, config.train, config.data
    self.predictor = NextFramePredictor(
      model.encoder_widths,
      model.embedding_dim,
      model.lstm_units,
      model.decoder_widths,
      data.size,
      model.blend_input,
      model.skip_connections,
      option(config, "model.motion_kernels", PREDICTOR_DEFAULTS),
      option(config, "model.kernel_size", PREDICTOR_DEFAULTS),
    )
    keras_init(self.predictor)
    self.autocast = autocast(config)
    self.context_frames = train.context_frames
    self.probability = train.sampling_probability
    self.start_step = train.sampling_start_step
    self.ramp_steps = train.sampling_ramp_steps
    self.batch_size = train.batch_size
    self.optimizer = make_optimizer(
      train.optimizer,
      self.predictor.parameters(),
      train.learning_rate,
      train.adam_beta1,
      train.adam_beta2,
    )
    self.updates = 0

  @property
  def networks(self):
    return {"predictor": self.predictor}

  def sampling_probability(self):
    progress = (self.updates - self.start_step) / max(self.ramp_steps, 1)
    return self.probability * min(max(progress, 0.0), 1.0)

  def predictions(self, video):
    """Predictions of frames 1..T-1 [b, T-1, 3, h, w]: teacher forcing (the whole clip in one
    call, as relive_tf's step does until the chance rises above 0), or scheduled sampling."""
    probability = self.sampling_probability()
    if not probability:
      return self.predictor.observe(video[:, :-1])[0]
    predicted, state = self.predictor.observe(video[:, : self.context_frames])
    frames = list(predicted.unbind(dim=1))
    for t in range(self.context_frames, video.shape[1] - 1):
      draw = torch.rand(video.shape[0], 1, 1, 1)
      frame = torch.where(draw < probability, frames[-1].detach(), video[:, t])
      predicted_frame, state = self.predictor.step(frame, state)
      frames.append(predicted_frame)
    return torch.stack(frames, dim=1)

  def train_step(self, batches):
    (batch,) = batches
    video = batch["video"]
    with self.autocast():
      predictions = self.predictions(video).float()
      errors = (predictions - video[:, 1:]).square().mean(dim=(1, 2, 3, 4))
      loss = errors.sum() / self.batch_size
    self.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    self.optimizer.step()
    self.updates += 1
    return {"next_frame_mse": loss.item()}


def build(config):
  """The twin of a relive_tf config: a GANTwin (vgan, cvgan) or a PredictorTwin (lstm).

  Raises:
    ValueError: no twin of the config's model_type, or options it does not mirror (unmirrored()).
  """
  if config.model_type in ("vgan", "cvgan"):
    return GANTwin(config)
  if config.model_type == "lstm":
    return PredictorTwin(config)
  raise ValueError(f"no PyTorch twin of model_type {config.model_type!r}")


def to_torch(batch, model_type):
  """A relive_tf batch ({name: array}, videos [b, t, h, w, 3]) as the twin takes it: videos
  [b, 3, t, h, w] for the GANs, [b, t, 3, h, w] (a sequence of frames) for the predictor."""
  converted = {name: torch.from_numpy(np.array(value)) for name, value in batch.items()}
  video = converted["video"]
  converted["video"] = (
    video.permute(0, 1, 4, 2, 3) if model_type == "lstm" else video.permute(0, 4, 1, 2, 3)
  ).contiguous()
  return converted
