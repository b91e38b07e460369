"""The tiny video GAN's recipe learns digits: a behaviour of training, not a timing."""

import numpy as np
import tensorflow as tf

from relive_tf import families
from relive_tf.data import pipeline
from relive_tf.metrics import digit_recognizer
from relive_tf.training import trainer as trainer_lib

import helpers

STEPS = 150


def _probabilities(generator, recognizer):
  """Per-frame digit probabilities [32, frames, 10] of 32 videos from fixed noise."""
  noise = tf.random.stateless_normal([32, generator.noise_dim], seed=[123, 0])
  videos = np.concatenate(
    [
      pipeline.to_uint8_video(generator(noise[start : start + 16], training=False)).numpy()
      for start in range(0, 32, 16)
    ]
  )
  return recognizer.probabilities(videos)


def test_a_short_run_of_the_tiny_recipe_draws_digits_the_untrained_generator_does_not(
  make_config, tmp_path
):
  config = make_config(
    "vgan",
    "tiny",
    train__num_steps=STEPS,
    train__checkpoint_every=STEPS,
    train__summary_every=STEPS,
    train__num_samples=1,
  )
  recognizer = digit_recognizer.DigitRecognizer(digit_recognizer.SHIPPED)
  untrained = trainer_lib.build(families.get("vgan"), config, helpers.one_device())
  before = _probabilities(untrained.generator, recognizer)
  after = _probabilities(helpers.train(config, tmp_path).generator, recognizer)
  # The recogniser's confidence that a frame shows some digit. Measured: 0.041 against 0.00095.
  # The share of frames where it passes 0.5 (the digit score) is 0 or just above at this step
  # between runs (0.013 in one, 0.0 in another) and reaches 0.45 by step 1,000
  # (docs/results.md), so only the confidence is held here.
  assert after.max(axis=-1).mean() > 10 * before.max(axis=-1).mean() + 1e-3
