"""Sample scores of every checkpoint of a video GAN workdir: how a run's digits come and go.

  python bench/score_checkpoints.py --workdir=runs/vgan_tiny [--steps=1000,2000]

Prints, for each checkpoint, the digit score, identity consistency and motion (relive_tf.metrics
.sample_scores, with the shipped digit recogniser) of 64 videos from fixed noise, for the trained
generator and, where the run keeps one, the moving average of its weights. docs/results.md's
recipe tables come from it.
"""

import relive_tf  # noqa: F401, I001 (turns oneDNN on before TensorFlow loads, as relive does)

import glob
import os

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from relive_tf.data import pipeline
from relive_tf.metrics import digit_recognizer
from relive_tf.metrics import sample_scores
from relive_tf.training import checkpoints
from relive_tf.training import trainer as trainer_lib
from relive_tf.training import vgan as vgan_training
from relive_tf.training import workdir as workdir_lib

flags.DEFINE_string("workdir", None, "a video GAN workdir written by `relive train`")
flags.DEFINE_list("steps", [], "checkpoint steps to score (default: all)")
flags.DEFINE_integer("num_videos", 64, "videos per score")
flags.DEFINE_string("recognizer", digit_recognizer.SHIPPED, "digit recogniser folder")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def _checkpoint_paths(workdir):
  """{step: checkpoint prefix} of every checkpoint in the workdir."""
  indexes = glob.glob(os.path.join(workdir, workdir_lib.CHECKPOINT_DIR, "ckpt-*.index"))
  prefixes = [path.removesuffix(".index") for path in indexes]
  return dict(sorted((int(prefix.rsplit("-", 1)[1]), prefix) for prefix in prefixes))


def _videos(generator, count):
  """uint8 videos [count, t, h, w, 3] of the generator from noise seed [123, 0]."""
  noise = tf.random.stateless_normal([count, generator.noise_dim], seed=[123, 0])
  return np.concatenate(
    [
      pipeline.to_uint8_video(generator(noise[start : start + 16], training=False)).numpy()
      for start in range(0, count, 16)
    ]
  )


def main(argv):
  del argv
  config, family = workdir_lib.load_config(FLAGS.workdir, vgan_training.FAMILY, "scoring")
  trainer = trainer_lib.build(family, config, tf.distribute.get_strategy())
  step = tf.Variable(0, dtype=tf.int64)
  checkpoint = checkpoints.make_checkpoint(trainer, step=step)
  recognizer = digit_recognizer.DigitRecognizer(FLAGS.recognizer)
  generators = {"trained": trainer.generator}
  if trainer.ema_generator is not None:
    generators["average"] = trainer.ema_generator
  wanted = {int(value) for value in FLAGS.steps}
  for number, prefix in _checkpoint_paths(FLAGS.workdir).items():
    if wanted and number not in wanted:
      continue
    # The trainer has no optimizers: their slots in the checkpoint are expected to stay unread.
    checkpoint.restore(prefix).assert_existing_objects_matched().expect_partial()
    parts = []
    for name, generator in generators.items():
      videos = _videos(generator, FLAGS.num_videos)
      probabilities = recognizer.probabilities(videos)
      parts.append(
        f"{name}: digit {sample_scores.digit_score(probabilities):.3f} "
        f"consistency {sample_scores.identity_consistency(probabilities):.3f} "
        f"motion {sample_scores.motion(videos):.2f}"
      )
    print(f"step {number}: " + "   ".join(parts), flush=True)


if __name__ == "__main__":
  app.run(main)
