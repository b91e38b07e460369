"""Video feature extractors for the distances: I3D from a SavedModel, or the built-in 3D CNN."""

import keras
import numpy as np
import tensorflow as tf

from relive_tf.data import pipeline
from relive_tf.metrics import feature_network
from relive_tf.metrics import network_files

I3D_RESOLUTION = 224
# The FVD reference feeds the Kinetics-400 I3D batches of exactly 16 clips.
I3D_BATCH_SIZE = 16


def _check_videos(videos):
  videos = np.asarray(videos)
  if videos.ndim != 5 or videos.shape[-1] != 3 or videos.shape[0] < 1:
    raise ValueError(
      f"expected videos [num_clips >= 1, frames, height, width, 3], got shape {list(videos.shape)}"
    )
  if videos.dtype != np.uint8 and not np.issubdtype(videos.dtype, np.floating):
    raise ValueError(
      f"expected uint8 videos in [0, 255] or float videos in [-1, 1], got {videos.dtype}"
    )
  return videos


def i3d_preprocess(videos):
  """The FVD reference protocol's input: frames resized to 224x224 bilinear, scaled to [-1, 1].

  Args:
    videos: [batch, frames, height, width, 3], uint8 in [0, 255] or float in [-1, 1].

  Returns:
    float32 [batch, frames, 224, 224, 3] in [-1, 1].
  """
  # Bilinear weights sum to 1, so scaling to [-1, 1] before resizing equals scaling after.
  videos = pipeline.as_float_video(videos)
  batch, frames, height, width, _ = tf.unstack(tf.shape(videos))
  all_frames = tf.reshape(videos, [batch * frames, height, width, 3])
  # The reference used TF1's tf.image.resize_bilinear, whose sampling grid is not half-pixel
  # centered; TF2's tf.image.resize is. The legacy op keeps FVD comparable with published numbers.
  resized = tf.raw_ops.ResizeBilinear(
    images=all_frames,
    size=[I3D_RESOLUTION, I3D_RESOLUTION],
    align_corners=False,
    half_pixel_centers=False,
  )
  return tf.reshape(resized, [batch, frames, I3D_RESOLUTION, I3D_RESOLUTION, 3])


def _pick(named, preferred, what, path):
  """The only entry of `named`, or the first of `preferred` present in it."""
  if len(named) == 1:
    return next(iter(named))
  for name in preferred:
    if name in named:
      return name
  raise ValueError(
    f"the I3D SavedModel at {path} has the {what}s {sorted(named)}; expected one, or one "
    f"named {' or '.join(preferred)}"
  )


class I3DFeatures:
  """Features of an I3D network (FVD), loaded from a SavedModel directory; nothing is downloaded.

  The SavedModel needs a signature (e.g. "serving_default" or "default") with one float32 input
  [batch, frames, 224, 224, 3] in [-1, 1] and one output [batch, dims] (the Kinetics-400 I3D's 400
  logits in the reference); docs/metrics.md shows how to export one.
  """

  name = "i3d"

  def __init__(self, path, batch_size=I3D_BATCH_SIZE):
    """Loads and checks the model.

    Args:
      path: SavedModel directory.
      batch_size: clips per call, unless the signature fixes its batch size.

    Raises:
      ValueError: the path is missing, is not a SavedModel or its signature does not fit.
    """
    self.path = path
    if not tf.io.gfile.isdir(path):
      raise ValueError(
        f"i3d {path!r} is not a directory; pass the SavedModel directory of an I3D "
        f"network (docs/metrics.md says how to export one)"
      )
    try:
      self._model = tf.saved_model.load(path)
    except (OSError, ValueError, tf.errors.OpError) as error:
      raise ValueError(
        f"i3d {path!r} is not a loadable TensorFlow SavedModel ({error}); pass the "
        f"directory that holds saved_model.pb"
      ) from error
    signatures = dict(getattr(self._model, "signatures", {}))
    if not signatures:
      raise ValueError(
        f"the SavedModel at {path} has no signatures; export it with "
        f"tf.saved_model.save(model, path, signatures=...) (docs/metrics.md)"
      )
    self._function = signatures[
      _pick(signatures, ("serving_default", "default"), "signature", path)
    ]
    _, inputs = self._function.structured_input_signature
    if len(inputs) != 1:
      raise ValueError(
        f"the I3D signature at {path} takes the inputs {sorted(inputs)}; expected one video input"
      )
    ((self._input_name, spec),) = inputs.items()
    shape = spec.shape
    if (
      spec.dtype != tf.float32
      or shape.rank != 5
      or not shape[1:].is_compatible_with([None, I3D_RESOLUTION, I3D_RESOLUTION, 3])
    ):
      raise ValueError(
        f"the I3D signature at {path} takes {spec.dtype.name} {shape}; expected float32 "
        f"[batch, frames, {I3D_RESOLUTION}, {I3D_RESOLUTION}, 3]"
      )
    self._frames = shape[1]
    self._fixed_batch_size = shape[0]
    self._batch_size = shape[0] or batch_size
    outputs = self._function.structured_outputs
    self._output_name = _pick(outputs, ("default", "logits"), "output", path)
    if outputs[self._output_name].shape.rank not in (None, 2):
      raise ValueError(
        f"the I3D output {self._output_name!r} at {path} has shape "
        f"{outputs[self._output_name].shape}; expected [batch, dims]"
      )
    self.description = f"I3D SavedModel {path}"

  def __call__(self, videos):
    """Features of clips.

    Args:
      videos: [num_clips, frames, height, width, 3], uint8 in [0, 255] or float in [-1, 1].

    Returns:
      float64 [num_clips, dims].
    """
    videos = _check_videos(videos)
    if self._frames is not None and videos.shape[1] != self._frames:
      raise ValueError(
        f"the I3D model at {self.path} takes {self._frames} frames per clip; these clips "
        f"have {videos.shape[1]}"
      )
    embedded = []
    for start in range(0, len(videos), self._batch_size):
      chunk = videos[start : start + self._batch_size]
      count = len(chunk)
      if self._fixed_batch_size:  # the last chunk is padded with repeats of its first clip
        chunk = np.concatenate(
          [chunk, np.repeat(chunk[:1], self._fixed_batch_size - count, axis=0)]
        )
      try:
        output = self._function(**{self._input_name: i3d_preprocess(chunk)})[self._output_name]
      except (tf.errors.InvalidArgumentError, ValueError) as error:
        raise ValueError(
          f"the I3D model at {self.path} rejected clips of shape "
          f"{list(chunk.shape[1:])} resized to {I3D_RESOLUTION}x{I3D_RESOLUTION}: "
          f"{error}"
        ) from error
      if output.shape.rank != 2:
        raise ValueError(
          f"the I3D model at {self.path} returned shape {output.shape}; expected [batch, dims]"
        )
      embedded.append(output.numpy()[:count])
    return np.concatenate(embedded).astype(np.float64)


class BuiltinFeatures:
  """Features of the built-in network (feature_network.train_feature_network; no download)."""

  name = "builtin"

  def __init__(self, path, batch_size=32):
    """Loads the network saved in `path`.

    Raises:
      ValueError: `path` holds no complete feature network.
    """
    self.path = path
    model, self.info = network_files.load(
      path, feature_network.INFO_FILE, "built-in feature network", "feature_network"
    )
    embedding = keras.Model(model.inputs, model.get_layer("embedding").output)
    frames, size = self.info["frames"], self.info["size"]
    # One graph for any number of clips: embedding batch after batch never retraces.
    self._embed = tf.function(
      lambda videos: embedding(videos, training=False),
      input_signature=[tf.TensorSpec([None, frames, size, size, 3], tf.float32)],
    )
    self._batch_size = batch_size
    self.description = (
      f"built-in 3D CNN {network_files.shown(path)} "
      f"(digit sets {self.info['digit_set_accuracy']:.0%}, "
      f"direction sets {self.info['direction_set_accuracy']:.0%} held-out)"
    )

  def __call__(self, videos):
    """Features of clips.

    Args:
      videos: [num_clips, frames, size, size, 3] with the frames and size the network was trained
        on, uint8 in [0, 255] or float in [-1, 1].

    Returns:
      float64 [num_clips, embedding_dim].
    """
    videos = _check_videos(videos)
    frames, height, width = videos.shape[1:4]
    if height != width:
      raise ValueError(
        f"the built-in feature network takes square frames; these are {height}x{width}"
      )
    self.check_clip_shape(frames, height)
    embedded = [
      self._embed(pipeline.as_float_video(videos[start : start + self._batch_size])).numpy()
      for start in range(0, len(videos), self._batch_size)
    ]
    return np.concatenate(embedded).astype(np.float64)

  def check_clip_shape(self, frames, size):
    """Raises a ValueError unless the network was trained on clips of `frames` x `size` x `size`."""
    if (frames, size) != (self.info["frames"], self.info["size"]):
      raise ValueError(
        f"the feature network in {self.path} was trained on clips of "
        f"{self.info['frames']}x{self.info['size']}x{self.info['size']}, these are "
        f"{frames}x{size}x{size}; train one for this shape (`python -m "
        f"relive_tf.metrics.shipped --networks=feature_network --frames={frames} --size={size} "
        "--out=DIR`) and pass DIR/feature_network (--feature_network, or "
        "--config.train.feature_network in training)"
      )
