"""Video features for the distances: I3D from a user-supplied SavedModel, or a small built-in 3D CNN."""

import json
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from relive_tf import files
from relive_tf.data import pipeline
from relive_tf.errors import UserError
from relive_tf.metrics import digit_labels

I3D_RESOLUTION = 224
# The FVD reference feeds the Kinetics-400 I3D batches of exactly 16 clips.
I3D_BATCH_SIZE = 16

FEATURE_NETWORK_MODEL = "model.keras"
FEATURE_NETWORK_INFO = "feature_network.json"


def _to_0_255(videos):
  """uint8 in [0, 255] or float in [-1, 1] -> float32 in [0, 255]."""
  videos = tf.convert_to_tensor(videos)
  if videos.dtype == tf.uint8:
    return tf.cast(videos, tf.float32)
  return (tf.cast(videos, tf.float32) + 1.0) * 127.5


def _check_videos(videos):
  videos = np.asarray(videos)
  if videos.ndim != 5 or videos.shape[-1] != 3 or videos.shape[0] < 1:
    raise UserError(f"expected videos [num_clips >= 1, frames, height, width, 3], got shape "
                    f"{list(videos.shape)}")
  if videos.dtype != np.uint8 and not np.issubdtype(videos.dtype, np.floating):
    raise UserError(f"expected uint8 videos in [0, 255] or float videos in [-1, 1], got {videos.dtype}")
  return videos


def i3d_preprocess(videos):
  """The FVD reference protocol's input: frames resized to 224x224 bilinear, scaled to [-1, 1].

  Args:
    videos: [batch, frames, height, width, 3], uint8 in [0, 255] or float in [-1, 1].

  Returns:
    float32 [batch, frames, 224, 224, 3] in [-1, 1].
  """
  videos = _to_0_255(videos)
  batch, frames, height, width, _ = tf.unstack(tf.shape(videos))
  all_frames = tf.reshape(videos, [batch * frames, height, width, 3])
  # The reference used TF1's tf.image.resize_bilinear, whose sampling grid is not half-pixel
  # centered; TF2's tf.image.resize is. The legacy op keeps FVD comparable with published numbers.
  resized = tf.raw_ops.ResizeBilinear(images=all_frames, size=[I3D_RESOLUTION, I3D_RESOLUTION],
                                      align_corners=False, half_pixel_centers=False)
  resized = tf.reshape(resized, [batch, frames, I3D_RESOLUTION, I3D_RESOLUTION, 3])
  return 2.0 * resized / 255.0 - 1.0


def _pick(named, preferred, what, path):
  """The only entry of `named`, or the first of `preferred` present in it."""
  if len(named) == 1:
    return next(iter(named))
  for name in preferred:
    if name in named:
      return name
  raise UserError(f"the I3D SavedModel at {path} has the {what}s {sorted(named)}; expected one, or one "
                  f"named {' or '.join(preferred)}")


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
      UserError: the path is missing, is not a SavedModel or its signature does not fit.
    """
    self.path = path
    if not os.path.isdir(path):
      raise UserError(f"--i3d={path!r} is not a directory; pass the SavedModel directory of an I3D "
                      f"network (docs/metrics.md says how to export one)")
    try:
      self._model = tf.saved_model.load(path)
    except (OSError, ValueError, tf.errors.OpError) as error:
      raise UserError(f"--i3d={path!r} is not a loadable TensorFlow SavedModel ({error}); pass the "
                      f"directory that holds saved_model.pb") from error
    signatures = dict(getattr(self._model, "signatures", {}))
    if not signatures:
      raise UserError(f"the SavedModel at {path} has no signatures; export it with "
                      f"tf.saved_model.save(model, path, signatures=...) (docs/metrics.md)")
    self._function = signatures[_pick(signatures, ("serving_default", "default"), "signature", path)]
    _, inputs = self._function.structured_input_signature
    if len(inputs) != 1:
      raise UserError(f"the I3D signature at {path} takes the inputs {sorted(inputs)}; expected one "
                      f"video input")
    (self._input_name, spec), = inputs.items()
    shape = spec.shape
    if (spec.dtype != tf.float32 or shape.rank != 5
        or not shape[1:].is_compatible_with([None, I3D_RESOLUTION, I3D_RESOLUTION, 3])):
      raise UserError(f"the I3D signature at {path} takes {spec.dtype.name} {shape}; expected float32 "
                      f"[batch, frames, {I3D_RESOLUTION}, {I3D_RESOLUTION}, 3]")
    self._frames = shape[1]
    self._fixed_batch_size = shape[0]
    self._batch_size = shape[0] or batch_size
    outputs = self._function.structured_outputs
    self._output_name = _pick(outputs, ("default", "logits"), "output", path)
    if outputs[self._output_name].shape.rank not in (None, 2):
      raise UserError(f"the I3D output {self._output_name!r} at {path} has shape "
                      f"{outputs[self._output_name].shape}; expected [batch, dims]")
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
      raise UserError(f"the I3D model at {self.path} takes {self._frames} frames per clip; these clips "
                      f"have {videos.shape[1]}")
    embedded = []
    for start in range(0, len(videos), self._batch_size):
      chunk = videos[start:start + self._batch_size]
      count = len(chunk)
      if self._fixed_batch_size:  # the last chunk is padded with repeats of its first clip
        chunk = np.concatenate([chunk, np.repeat(chunk[:1], self._fixed_batch_size - count, axis=0)])
      try:
        output = self._function(**{self._input_name: i3d_preprocess(chunk)})[self._output_name]
      except (tf.errors.InvalidArgumentError, ValueError) as error:
        raise UserError(f"the I3D model at {self.path} rejected clips of shape "
                        f"{list(chunk.shape[1:])} resized to {I3D_RESOLUTION}x{I3D_RESOLUTION}: "
                        f"{error}") from error
      if output.shape.rank != 2:
        raise UserError(f"the I3D model at {self.path} returned shape {output.shape}; expected "
                        f"[batch, dims]")
      embedded.append(output.numpy()[:count])
    return np.concatenate(embedded).astype(np.float64)


def build_feature_network(*, frames, size, width=16, embedding_dim=128):
  """The built-in feature network: a small 3D CNN with digit and direction heads.

  Four 3x3x3 convolutions (the first keeps the frame rate, the others halve time and space), global
  average pooling, then the "embedding" layer whose activations are the features.

  Args:
    frames, size: clip shape it takes.
    width: channels of the first convolution; each later one doubles them.
    embedding_dim: feature dims.

  Returns:
    A keras.Model taking float32 [batch, frames, size, size, 3] in [-1, 1] to {"digits": logits
    [batch, 10], "directions": logits [batch, 4]} (multi-label).
  """
  videos = keras.Input([frames, size, size, 3], name="videos")
  x = videos
  for layer, strides in enumerate([(1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]):
    x = keras.layers.Conv3D(width * 2**layer, 3, strides=strides, padding="same", activation="relu",
                            name=f"conv{layer + 1}")(x)
  x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
  embedding = keras.layers.Dense(embedding_dim, activation="relu", name="embedding")(x)
  outputs = {
      "digits": keras.layers.Dense(10, name="digits")(embedding),
      "directions": keras.layers.Dense(len(digit_labels.DIRECTIONS), name="directions")(embedding),
  }
  return keras.Model(videos, outputs, name="feature_network")


def labeled_batches(*, seed, frames, size, batch_size, start=0):
  """Synthetic training clips with their labels.

  Returns:
    A dataset of (videos float32 [batch, frames, size, size, 3] in [-1, 1], {"digits": float32
    [batch, 10], "directions": float32 [batch, 4]}), multi-hot labels from digit_labels.clip_labels.
  """

  def labels(index):
    return digit_labels.clip_labels(seed, index, size=size)

  def to_example(index, clip):
    digits, directions = tf.numpy_function(labels, [index], [tf.float32, tf.float32], stateful=False)
    return pipeline.to_float_video(clip), {
        "digits": tf.ensure_shape(digits, [10]),
        "directions": tf.ensure_shape(directions, [len(digit_labels.DIRECTIONS)]),
    }

  dataset = pipeline.synthetic_clips(seed=seed, frames=frames, size=size, start=start)
  dataset = dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _set_accuracy(logits, labels):
  """Fraction of clips whose whole label set is predicted exactly (logit > 0 means present)."""
  return float(np.mean(np.all((logits > 0) == (labels > 0.5), axis=1)))


def train_feature_network(out_dir, *, frames=32, size=64, width=16, embedding_dim=128, num_steps=3000,
                          batch_size=16, learning_rate=1e-3, seed=1000, eval_clips=256,
                          log_every=100):
  """Trains the built-in feature network on synthetic clips and saves it in `out_dir`.

  The network learns which digits a clip holds and in which diagonal directions they start moving
  (multi-label, sigmoid cross-entropy); its "embedding" activations are then the features. It is
  evaluated on `eval_clips` clips of seed + 1, which it never saw.

  Args:
    out_dir: directory for model.keras and feature_network.json (created; existing files replaced).
    frames, size: clip shape; must match the clips it will later embed.
    width, embedding_dim: network size (build_feature_network).
    num_steps, batch_size, learning_rate: Adam training schedule.
    seed: data seed of the training clips.
    eval_clips: held-out clips for the reported accuracies (rounded down to whole batches).
    log_every: steps between progress lines.

  Returns:
    The saved description: a dict with the arguments above plus "digit_set_accuracy" and
    "direction_set_accuracy" (held-out exact-set accuracies).
  """
  info = dict(frames=frames, size=size, width=width, embedding_dim=embedding_dim,
              num_steps=num_steps, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
              eval_clips=eval_clips)
  logging.info("training the built-in feature network for %dx%dx%d clips: %s", frames, size, size,
               info)
  keras.utils.set_random_seed(seed)
  model = build_feature_network(frames=frames, size=size, width=width, embedding_dim=embedding_dim)
  loss = keras.losses.BinaryCrossentropy(from_logits=True)
  model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss={"digits": loss, "directions": loss})
  batches = labeled_batches(seed=seed, frames=frames, size=size, batch_size=batch_size)
  start_time = time.perf_counter()
  for step, (videos, labels) in enumerate(batches.take(num_steps), start=1):
    losses = model.train_on_batch(videos, labels, return_dict=True)
    if step % log_every == 0 or step == num_steps:
      steps_per_second = step / (time.perf_counter() - start_time)
      logging.info("feature network step %d/%d: loss %.4f, %.2f steps/s, %.0f s left", step, num_steps,
                   losses["loss"], steps_per_second, (num_steps - step) / steps_per_second)

  heads = {"digits": "digit_set_accuracy", "directions": "direction_set_accuracy"}
  predicted, expected = {head: [] for head in heads}, {head: [] for head in heads}
  held_out = labeled_batches(seed=seed + 1, frames=frames, size=size, batch_size=batch_size)
  for videos, labels in held_out.take(max(1, eval_clips // batch_size)):
    logits = model(videos, training=False)
    for head in heads:
      predicted[head].append(keras.ops.convert_to_numpy(logits[head]))
      expected[head].append(labels[head].numpy())
  for head, key in heads.items():
    info[key] = _set_accuracy(np.concatenate(predicted[head]), np.concatenate(expected[head]))
  logging.info("feature network held-out accuracy: digit sets %.3f, direction sets %.3f",
               info["digit_set_accuracy"], info["direction_set_accuracy"])

  os.makedirs(out_dir, exist_ok=True)
  info_path = os.path.join(out_dir, FEATURE_NETWORK_INFO)
  if os.path.exists(info_path):
    os.remove(info_path)  # the description marks a complete network; it would not match the new one
  temporary = os.path.join(out_dir, f"partial.{FEATURE_NETWORK_MODEL}")
  model.save(temporary)
  os.replace(temporary, os.path.join(out_dir, FEATURE_NETWORK_MODEL))
  # The description is written last: a directory with it holds a complete network.
  files.write_json(info_path, info)
  logging.info("saved the feature network in %s", out_dir)
  return info


class BuiltinFeatures:
  """Features of the built-in network trained by train_feature_network (no download needed)."""

  name = "builtin"

  def __init__(self, path, batch_size=32):
    """Loads the network saved in `path`.

    Raises:
      UserError: `path` holds no complete feature network.
    """
    self.path = path
    info_path = os.path.join(path, FEATURE_NETWORK_INFO)
    if not os.path.isfile(info_path):
      raise UserError(f"no built-in feature network in {path!r} ({FEATURE_NETWORK_INFO} is missing); "
                      f"train one with relive_tf.metrics.features.train_feature_network or let "
                      f"`relive evaluate` build it")
    with open(info_path) as f:
      self.info = json.load(f)
    model = keras.models.load_model(os.path.join(path, FEATURE_NETWORK_MODEL))
    self._model = keras.Model(model.inputs, model.get_layer("embedding").output)
    self._batch_size = batch_size
    self.description = (f"built-in 3D CNN {path} (digit sets {self.info['digit_set_accuracy']:.0%}, "
                        f"direction sets {self.info['direction_set_accuracy']:.0%} held-out)")

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
      raise UserError(f"the built-in feature network takes square frames; these are {height}x{width}")
    self.check_clip_shape(frames, height)
    embedded = [
        keras.ops.convert_to_numpy(self._model(
            _to_0_255(videos[start:start + self._batch_size]) / 127.5 - 1.0, training=False))
        for start in range(0, len(videos), self._batch_size)
    ]
    return np.concatenate(embedded).astype(np.float64)

  def check_clip_shape(self, frames, size):
    """Raises a UserError unless the network was trained on clips of `frames` x `size` x `size`."""
    if (frames, size) != (self.info["frames"], self.info["size"]):
      raise UserError(f"the feature network in {self.path} was trained on clips of "
                      f"{self.info['frames']}x{self.info['size']}x{self.info['size']}, these are "
                      f"{frames}x{size}x{size}; train one for this shape (train_feature_network, or "
                      f"`relive evaluate` with another --feature_network folder)")
