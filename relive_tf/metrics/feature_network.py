"""The built-in feature network: a small 3D CNN naming synthetic clips' digits and motion."""

import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf import progress
from relive_tf.data import held_out
from relive_tf.data import pipeline
from relive_tf.metrics import digit_labels
from relive_tf.metrics import network_files

INFO_FILE = "feature_network.json"
# The trained network shipped with the package, for the built-in clips of 32 frames of 64x64
# (`python -m relive_tf.metrics.shipped`).
SHIPPED = os.path.join(network_files.ASSETS, "feature_network")


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
    x = keras.layers.Conv3D(
      width * 2**layer,
      3,
      strides=strides,
      padding="same",
      activation="relu",
      name=f"conv{layer + 1}",
    )(x)
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
    digits, directions = tf.numpy_function(
      labels, [index], [tf.float32, tf.float32], stateful=False
    )
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


def train_feature_network(
  out_dir,
  *,
  frames=32,
  size=64,
  width=16,
  embedding_dim=128,
  num_steps=3000,
  batch_size=16,
  learning_rate=1e-3,
  seed=1000,
  eval_clips=256,
):
  """Trains the built-in feature network on synthetic clips and saves it in `out_dir`.

  The network learns which digits a clip holds and in which diagonal directions they start moving
  (multi-label, sigmoid cross-entropy); its "embedding" activations are then the features. It is
  evaluated on `eval_clips` held-out clips (held_out.SEED_OFFSET), which it never saw.

  Args:
    out_dir: directory for model.keras and feature_network.json (created; existing files replaced).
    frames, size: clip shape; must match the clips it will later embed.
    width, embedding_dim: network size (build_feature_network).
    num_steps, batch_size, learning_rate: Adam training schedule.
    seed: data seed of the training clips.
    eval_clips: held-out clips for the reported accuracies (rounded down to whole batches).

  Returns:
    The saved description: a dict with the arguments above plus "digit_set_accuracy" and
    "direction_set_accuracy" (held-out exact-set accuracies).
  """
  info = dict(
    frames=frames,
    size=size,
    width=width,
    embedding_dim=embedding_dim,
    num_steps=num_steps,
    batch_size=batch_size,
    learning_rate=learning_rate,
    seed=seed,
    eval_clips=eval_clips,
  )
  logging.info(
    "training the built-in feature network for %dx%dx%d clips: %s", frames, size, size, info
  )
  keras.utils.set_random_seed(seed)
  model = build_feature_network(frames=frames, size=size, width=width, embedding_dim=embedding_dim)
  loss = keras.losses.BinaryCrossentropy(from_logits=True)
  model.compile(
    optimizer=keras.optimizers.Adam(learning_rate), loss={"digits": loss, "directions": loss}
  )
  batches = labeled_batches(seed=seed, frames=frames, size=size, batch_size=batch_size)
  with progress.bar(total=num_steps, desc="feature network", unit="step") as bar:
    for videos, labels in batches.take(num_steps):
      losses = model.train_on_batch(videos, labels, return_dict=True)
      bar.set_postfix(loss=f"{float(losses['loss']):.4f}", refresh=False)
      bar.update()

  heads = {"digits": "digit_set_accuracy", "directions": "direction_set_accuracy"}
  predicted, expected = {head: [] for head in heads}, {head: [] for head in heads}
  unseen = labeled_batches(
    seed=seed + held_out.SEED_OFFSET, frames=frames, size=size, batch_size=batch_size
  )
  for videos, labels in unseen.take(max(1, eval_clips // batch_size)):
    logits = model(videos, training=False)
    for head in heads:
      predicted[head].append(keras.ops.convert_to_numpy(logits[head]))
      expected[head].append(labels[head].numpy())
  for head, key in heads.items():
    info[key] = _set_accuracy(np.concatenate(predicted[head]), np.concatenate(expected[head]))
  logging.info(
    "feature network held-out accuracy: digit sets %.3f, direction sets %.3f",
    info["digit_set_accuracy"],
    info["direction_set_accuracy"],
  )

  network_files.save(model, out_dir, INFO_FILE, info)
  logging.info("saved the feature network in %s", out_dir)
  return info
