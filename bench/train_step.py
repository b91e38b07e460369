"""Seconds per video-WGAN train step and its FLOP/s, against this machine's fp32 matmul rate.

  .venv/bin/python bench/train_step.py [--variants=tiny,default] [--batch_size=8] [--steps=3]

One step is train.critic_steps critic updates and one generator update. Step FLOPs are counted from
the networks' forward graphs (convolutions, transposed convolutions, matmuls) with the usual
backward = 2 x forward rule: a critic update costs G + 6D (generator forward, critic forward and
backward on real and fake), a generator update 3G + 2D (critic backward to its input only), less G
where it reuses the last critic update's generator forward (every loss but "wgan"), where G and D
are the forward FLOPs at the global batch size.
"""

import relive_tf  # noqa: F401, I001 (turns oneDNN on before TensorFlow loads, as relive does)

import os
import pathlib
import sys
import time

import tensorflow as tf
from absl import app
from absl import flags


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for bench/ and configs/
from bench import flops  # noqa: E402
from configs import vgan as vgan_config  # noqa: E402
from relive_tf import families  # noqa: E402
from relive_tf.data import pipeline  # noqa: E402
from relive_tf.training import inputs  # noqa: E402
from relive_tf.training import trainer as trainer_lib  # noqa: E402

flags.DEFINE_list("variants", ["tiny", "default"], "configs/vgan.py variants to time")
flags.DEFINE_integer("batch_size", 8, "global batch size")
flags.DEFINE_integer("steps", 3, "timed steps after one warm-up step")
FLAGS = flags.FLAGS


def matmul_flops_per_second(size=2048, repeats=20):
  """This machine's fp32 matmul rate, the ceiling the train step is compared with."""
  a = tf.random.normal([size, size])
  b = tf.random.normal([size, size])
  multiply = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
  multiply().numpy()
  start = time.perf_counter()
  for _ in range(repeats):
    multiply().numpy()
  return 2 * size**3 * repeats / (time.perf_counter() - start)


def time_variant(variant, batch_size, steps):
  config = vgan_config.get_config(variant)
  with config.unlocked():
    config.train.batch_size = batch_size
    config.train.num_samples = 1
  strategy = tf.distribute.get_strategy()
  trainer = trainer_lib.build(families.get("vgan"), config, strategy, inputs.sample_batch(config))
  batch = next(
    iter(
      pipeline.training_batches(
        source="synthetic",
        path="",
        seed=0,
        frames=32,
        size=64,
        batch_size=batch_size,
        noise_dim=config.model.noise_dim,
      )
    )
  )
  generator = flops.function_flops(lambda z: trainer.generator(z, training=True), batch["noise"])
  critic = flops.function_flops(lambda v: trainer.critic(v, training=True), batch["video"])
  critic_steps = config.train.critic_steps
  reused = 0 if config.train.loss == "wgan" else generator
  step_flops = critic_steps * (generator + 6 * critic) + 3 * generator + 2 * critic - reused

  dataset = pipeline.training_batches(
    source="synthetic",
    path="",
    seed=0,
    frames=32,
    size=64,
    batch_size=batch_size,
    noise_dim=config.model.noise_dim,
  )
  # One step's batches, cached: the timing leaves out making the synthetic clips.
  one_step = dataset.take(trainer.batches_per_step).cache().repeat()
  iterator = iter(strategy.experimental_distribute_dataset(one_step))
  trainer.train_step(iterator)  # compile
  start = time.perf_counter()
  for _ in range(steps):
    float(trainer.train_step(iterator)["critic_loss"])
  seconds = (time.perf_counter() - start) / steps
  return seconds, step_flops, critic_steps


def main(argv):
  del argv
  peak = matmul_flops_per_second()
  print(
    f"machine: {os.cpu_count()} cores, fp32 matmul {peak / 1e9:.1f} GFLOP/s; "
    f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}"
  )
  print(
    f"{'variant':<10}{'batch':>6}{'critic_steps':>13}{'s/step':>9}{'GFLOP/step':>12}"
    f"{'GFLOP/s':>9}{'of matmul':>11}"
  )
  for variant in FLAGS.variants:
    seconds, step_flops, critic_steps = time_variant(variant, FLAGS.batch_size, FLAGS.steps)
    rate = step_flops / seconds
    print(
      f"{variant:<10}{FLAGS.batch_size:>6}{critic_steps:>13}{seconds:>9.2f}"
      f"{step_flops / 1e9:>12.1f}{rate / 1e9:>9.1f}{rate / peak:>10.0%}"
    )


if __name__ == "__main__":
  app.run(main)
