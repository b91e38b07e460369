"""The poster's next-frame predictor: frames convolved to vectors, an LSTM, deconvolved to the next.

Layer names follow the TensorBoard histograms: predictor/encoder/conv1..convN and embed,
predictor/lstm, predictor/decoder/project, deconv1..deconvN-1 and frame.
"""

import keras
from keras import layers

from relive_tf.models import unet


def code_side(size, num_layers):
  """Side of the feature map after `num_layers` stride-2 convolutions of a size x size frame."""
  factor = 2**num_layers
  if size % factor:
    raise ValueError(
      f"data.size {size} must be a multiple of {factor}: the frame encoder halves it "
      f"{num_layers} times (one per model.encoder_widths entry)"
    )
  return size // factor


class FrameEncoder(keras.layers.Layer):
  """Frames [n, size, size, 3] -> vectors [n, embedding_dim], and each convolution's feature map.

  4x4 Conv2D layers of stride 2 with ReLU, flattened, then a dense layer to the embedding.
  """

  def __init__(self, widths, embedding_dim, name="encoder"):
    super().__init__(name=name)
    self.convs = [
      layers.Conv2D(width, 4, strides=2, padding="same", name=f"conv{i}")
      for i, width in enumerate(widths, start=1)
    ]
    self.flatten = layers.Flatten()
    self.embed = layers.Dense(embedding_dim, name="embed")

  def call(self, frames):
    """Returns (vectors, feature maps from the largest [n, size / 2, size / 2, widths[0]] down)."""
    features, feature_maps = frames, []
    for conv in self.convs:
      features = keras.ops.relu(conv(features))
      feature_maps.append(features)
    return self.embed(self.flatten(features)), feature_maps


class FrameDecoder(keras.layers.Layer):
  """Vectors [n, units] -> frames [n, side * 2**len(widths), same, 3] in [-1, 1], and masks.

  A dense projection to a side x side x widths[0] code, 4x4 Conv2DTranspose layers of stride 2 with
  ReLU for widths[1:], and a last one to RGB with tanh; with `with_mask`, another last one to a
  sigmoid mask [n, h, w, 1], or to mask_channels masks summing to 1 per pixel (softmax), or None.
  Given the encoder's feature maps of a frame (skip connections), each transposed convolution also
  sees the map of its input's size.
  """

  def __init__(self, side, widths, with_mask, mask_channels=1, name="decoder"):
    super().__init__(name=name)
    self.code_shape = (side, side, widths[0])
    self.project = layers.Dense(side * side * widths[0], name="project")
    self.deconvs = [
      layers.Conv2DTranspose(width, 4, strides=2, padding="same", name=f"deconv{i}")
      for i, width in enumerate(widths[1:], start=1)
    ]
    self.frame = layers.Conv2DTranspose(
      3, 4, strides=2, padding="same", activation="tanh", name="frame"
    )
    self.mask = (
      layers.Conv2DTranspose(
        mask_channels,
        4,
        strides=2,
        padding="same",
        activation="sigmoid" if mask_channels == 1 else "softmax",
        name="mask",
      )
      if with_mask
      else None
    )

  def call(self, vectors, skips=None):
    """Returns (frames, masks or None); `skips`: FrameEncoder feature maps, or None."""
    features = keras.ops.relu(keras.ops.reshape(self.project(vectors), (-1, *self.code_shape)))
    skips = list(reversed(skips)) if skips is not None else [None] * (len(self.deconvs) + 1)
    for deconv, skip in zip(self.deconvs, skips):
      features = keras.ops.relu(deconv(unet.join(features, skip)))
    features = unet.join(features, skips[-1])
    return self.frame(features), (self.mask(features) if self.mask is not None else None)


def apply_motion_kernels(frames, kernels):
  """Each frame moved by each of its kernels: Finn et al. 2016's CDNA transformation.

  "Unsupervised Learning for Physical Interaction through Video Prediction",
  https://arxiv.org/abs/1605.07157. A kernel that is one at a single tap shifts the frame by that
  tap's offset without blurring it, so moving digits stay sharp over a long rollout.

  Args:
    frames: [n, h, w, c].
    kernels: [n, k, s, s], each summing to 1 (s odd: shifts of up to (s - 1) / 2 pixels).

  Returns:
    [n, h, w, k, c]: frames[i] correlated with kernels[i, j] (zero outside the frame).
  """
  size = kernels.shape[-1]
  channels = frames.shape[-1]
  patches = keras.ops.image.extract_patches(frames, size, strides=1, padding="same")
  patches = keras.ops.reshape(
    patches, (-1, frames.shape[1], frames.shape[2], size * size, channels)
  )
  flat_kernels = keras.ops.reshape(kernels, (-1, kernels.shape[1], size * size))
  return keras.ops.einsum("nhwpc,nkp->nhwkc", patches, flat_kernels)


class NextFramePredictor(keras.Model):
  """Frames [batch, time, size, size, 3] in [-1, 1] -> the next frame after each one, same shape.

  The LSTM runs over the encoded frames; its output at time t decodes to the prediction of frame
  t + 1. `step` advances it by one frame from a given state, which `rollout` uses to feed the
  model's own predictions back as inputs.

  With `blend_input`, the decoder also draws a mask and the prediction is
  mask * decoded + (1 - mask) * input frame, as the video WGAN composes its two streams: pixels that
  stay put are copied from the input instead of being redrawn through the embedding. With
  `skip_connections`, the decoder also sees the encoder's feature maps of the input frame (as in
  Denton & Fergus 2018), so appearance need not pass through the embedding either. With
  `motion_kernels` k > 0, the LSTM output also gives k normalized kernel_size x kernel_size kernels
  that move the input frame (apply_motion_kernels), and the prediction is the per-pixel softmax
  blend of those k moved frames and the decoded frame: what moves is carried, not redrawn.
  """

  def __init__(
    self,
    encoder_widths,
    embedding_dim,
    lstm_units,
    decoder_widths,
    size,
    blend_input=False,
    skip_connections=False,
    motion_kernels=0,
    kernel_size=7,
    name="predictor",
  ):
    super().__init__(name=name)
    if len(decoder_widths) != len(encoder_widths):
      raise ValueError(
        f"model.decoder_widths {tuple(decoder_widths)} must have as many entries as "
        f"model.encoder_widths {tuple(encoder_widths)}: the decoder doubles the side "
        "once per entry to undo the encoder's halvings"
      )
    self.size = size
    self.skip_connections = skip_connections
    self.encoder = FrameEncoder(encoder_widths, embedding_dim)
    self.lstm = layers.LSTM(lstm_units, return_sequences=True, return_state=True, name="lstm")
    if motion_kernels and not kernel_size % 2:
      raise ValueError(f"model.kernel_size is {kernel_size}; use an odd size, centred on a pixel")
    self.motion_kernels = motion_kernels
    self.kernel_size = kernel_size
    self.kernels = (
      layers.Dense(motion_kernels * kernel_size * kernel_size, name="motion_kernels")
      if motion_kernels
      else None
    )
    self.decoder = FrameDecoder(
      code_side(size, len(encoder_widths)),
      decoder_widths,
      with_mask=blend_input or motion_kernels > 0,
      mask_channels=motion_kernels + 1 if motion_kernels else 1,
    )

  def _predict(self, outputs, inputs, feature_maps):
    """LSTM outputs [n, units], the input frames [n, h, w, 3] and their encoder feature maps ->
    the next frames [n, h, w, 3]."""
    frames, mask = self.decoder(outputs, feature_maps if self.skip_connections else None)
    if self.kernels is not None:
      logits = keras.ops.reshape(
        self.kernels(outputs), (-1, self.motion_kernels, self.kernel_size * self.kernel_size)
      )
      kernels = keras.ops.reshape(
        keras.ops.softmax(logits, axis=-1),
        (-1, self.motion_kernels, self.kernel_size, self.kernel_size),
      )
      candidates = keras.ops.concatenate(
        [apply_motion_kernels(inputs, kernels), frames[:, :, :, None]], axis=3
      )
      return keras.ops.sum(mask[..., None] * candidates, axis=3)
    return frames if mask is None else mask * frames + (1.0 - mask) * inputs

  def observe(self, frames, state=None):
    """Runs the LSTM over given frames (teacher forcing).

    Args:
      frames: [batch, time, size, size, 3] in [-1, 1].
      state: [h, c] ([batch, units] each) to continue from, or None to start afresh.

    Returns:
      (predictions [batch, time, size, size, 3]: entry t predicts frame t + 1, state [h, c]).
    """
    batch, time = keras.ops.shape(frames)[0], keras.ops.shape(frames)[1]
    flat_frames = keras.ops.reshape(frames, (-1, self.size, self.size, 3))  # one encoder call
    codes, feature_maps = self.encoder(flat_frames)
    outputs, hidden, cell = self.lstm(
      keras.ops.reshape(codes, (batch, time, codes.shape[-1])), initial_state=state
    )
    predictions = self._predict(
      keras.ops.reshape(outputs, (-1, outputs.shape[-1])), flat_frames, feature_maps
    )
    return keras.ops.reshape(predictions, (batch, time, self.size, self.size, 3)), [hidden, cell]

  def call(self, frames):
    return self.observe(frames)[0]

  def step(self, frame, state):
    """One frame in, the next frame out.

    Args:
      frame: [batch, size, size, 3].
      state: [h, c] from `observe` or an earlier step.

    Returns:
      (the predicted next frame [batch, size, size, 3], the new state).
    """
    code, feature_maps = self.encoder(frame)
    output, state = self.lstm.cell(code, state)
    return self._predict(output, frame, feature_maps), state

  def rollout(self, context, future):
    """Predicts `future` frames after `context`, feeding each prediction back as the next input.

    Args:
      context: [batch, k, size, size, 3] true frames, k >= 1.
      future: number of frames to predict, >= 1.

    Returns:
      [batch, future, size, size, 3]: frames k, k + 1, ... of the clip.
    """
    predictions, state = self.observe(context)
    frame = predictions[:, -1]
    frames = [frame]
    for _ in range(future - 1):
      frame, state = self.step(frame, state)
      frames.append(frame)
    return keras.ops.stack(frames, axis=1)
