"""Latency of exported SavedModels against calling their Keras models directly, at batch 1 and 8.

  .venv/bin/python bench/serving.py [--models=vgan,cvgan,lstm] [--variant=default] [--repeats=5]

For each model type: trains the config's networks for one step in a temporary workdir (the weights
do not change the time), exports it with `relive_tf.serving.publish.export`, loads the SavedModel
with
tf.saved_model.load in this process and times, side by side in one run, the median of --repeats
calls (taking turns) after one warm-up call of each:
  Keras eager: the Keras model called directly, as `relive generate`, `relive relive` and
    `relive predict` do;
  Keras tf.function: the same call compiled into a graph;
  SavedModel: the loaded serving_default signature, the graph TF Serving runs (without its RPC).
Every call returns uint8 frames, copied to numpy. Prints a Markdown table for docs/benchmarks.md.
"""

import relive_tf  # noqa: F401, I001 (turns oneDNN on before TensorFlow loads, as relive does)

import os
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from absl import logging

from relive_tf import families
from relive_tf.data import pipeline
from relive_tf.data import synthetic
from relive_tf.serving import publish
from relive_tf.training import checkpoints
from relive_tf.training import loop

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for configs/
from configs import cvgan as cvgan_config  # noqa: E402
from configs import lstm as lstm_config  # noqa: E402
from configs import vgan as vgan_config  # noqa: E402

CONFIGS = {"vgan": vgan_config, "cvgan": cvgan_config, "lstm": lstm_config}

flags.DEFINE_list("models", list(CONFIGS), "model types to time")
flags.DEFINE_string("variant", "default", "config variant: default (the poster's sizes) or tiny")
flags.DEFINE_list("batch_sizes", ["1", "8"], "batch sizes to time")
flags.DEFINE_integer("repeats", 5, "timed calls after the warm-up call")
FLAGS = flags.FLAGS


def _trained_workdir(model_type, variant, directory):
  """A workdir of the config trained for one small step."""
  config = CONFIGS[model_type].get_config(variant)
  with config.unlocked():
    config.train.num_steps = 1
    config.train.batch_size = 2
    config.train.num_samples = 1
    if "critic_steps" in config.train:
      config.train.critic_steps = 1
  workdir = os.path.join(directory, f"{model_type}_workdir")
  loop.train_and_evaluate(
    config, workdir, families.get(model_type), tf.distribute.OneDeviceStrategy("/cpu:0")
  )
  return workdir


def _keras_call_and_inputs(model_type, config, trainer, batch_size):
  """The Keras call (one tensor in, uint8 frames out), its input and the signature's inputs."""
  size = config.data.size
  clip = synthetic.moving_digits_clip(0, 0, frames=config.data.frames, size=size)
  if model_type == "vgan":
    generator = trainer.generator
    noise = tf.random.stateless_normal([batch_size, generator.noise_dim], seed=[0, 0])
    return (
      lambda noise: pipeline.to_uint8_video(generator(noise, training=False)),
      noise,
      {"noise": noise},
    )
  if model_type == "cvgan":
    generator = trainer.generator
    noise = (
      tf.random.stateless_normal([batch_size, generator.noise_dim], seed=[0, 0])
      if generator.noise_dim
      else None
    )
    photo = tf.constant(np.repeat(clip[None, trainer.condition_index], batch_size, axis=0))
    return (
      lambda photo: pipeline.to_uint8_video(
        generator(pipeline.to_float_video(photo), noise, training=False)
      ),
      photo,
      {"photo": photo},
    )
  context_frames = config.train.context_frames
  future = config.data.frames - context_frames
  context = tf.constant(np.repeat(clip[None, :context_frames], batch_size, axis=0))
  return (
    lambda context: pipeline.to_uint8_video(
      trainer.predictor.rollout(pipeline.to_float_video(context), future)
    ),
    context,
    {"context": context, "future": tf.constant(future)},
  )


def _median_seconds(functions, repeats):
  """Median seconds per call of each function, after one warm-up call of each.

  The functions take turns, so that a change in the machine's load touches all of them alike.
  """
  for function in functions:
    function()
  times = [[] for _ in functions]
  for _ in range(repeats):
    for function, samples in zip(functions, times):
      start = time.perf_counter()
      function()
      samples.append(time.perf_counter() - start)
  return [statistics.median(samples) for samples in times]


def _three_ways(call, keras_input, signature, inputs):
  """The same computation eagerly, as a tf.function and through the SavedModel's signature."""
  compiled = tf.function(call, autograph=False)  # straight-line calls: nothing to convert
  return [
    lambda: call(keras_input).numpy(),
    lambda: compiled(keras_input).numpy(),
    lambda: [value.numpy() for value in signature(**inputs).values()],
  ]


def time_model(model_type, variant, batch_sizes, repeats, directory):
  """Rows of (batch, eager s, tf.function s, SavedModel s) for one model type."""
  workdir = _trained_workdir(model_type, variant, directory)
  path = publish.export(
    workdir, os.path.join(directory, "export", model_type), families.FAMILIES.values()
  )
  signature = tf.saved_model.load(path).signatures["serving_default"]
  trained = checkpoints.restore_trained(workdir, families.get(model_type))
  config, trainer = trained.config, trained.trainer
  rows = []
  for batch_size in batch_sizes:
    call, keras_input, inputs = _keras_call_and_inputs(model_type, config, trainer, batch_size)
    rows.append(
      (batch_size, *_median_seconds(_three_ways(call, keras_input, signature, inputs), repeats))
    )
  return rows


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)
  batch_sizes = [int(b) for b in FLAGS.batch_sizes]
  print(
    f"machine: {os.cpu_count()} cores, TF {tf.__version__}, "
    f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}; variant "
    f"{FLAGS.variant}, median of {FLAGS.repeats} calls\n"
  )
  print(
    "| model | batch | Keras eager (ms) | Keras tf.function (ms) | SavedModel (ms) | "
    "SavedModel / eager | SavedModel / tf.function |"
  )
  print("|---|---:|---:|---:|---:|---:|---:|")
  with tempfile.TemporaryDirectory(prefix="bench_serving_") as directory:
    for model_type in FLAGS.models:
      for batch, eager, graph, saved in time_model(
        model_type, FLAGS.variant, batch_sizes, FLAGS.repeats, directory
      ):
        print(
          f"| {model_type} | {batch} | {eager * 1e3:.0f} | {graph * 1e3:.0f} | "
          f"{saved * 1e3:.0f} | {saved / eager:.2f} | {saved / graph:.2f} |",
          flush=True,
        )


if __name__ == "__main__":
  app.run(main)
