"""Tests of the LSTM next-frame predictor: model, train step, baselines, evaluation and predict."""

import json
import os
import shutil
import types

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from relive_tf import families
from relive_tf import limits
from relive_tf.data import pipeline
from relive_tf.data import prepare
from relive_tf.data import synthetic
from relive_tf.data import video_read
from relive_tf.evaluation import evaluator
from relive_tf.evaluation import predictor as predictor_evaluation
from relive_tf.inference import predict
from relive_tf.models import lstm
from relive_tf.training import lstm as lstm_training
from relive_tf.training import trainer as trainer_lib

import helpers

_FRAMES, _SIZE = 8, 32
# configs/lstm.py:tiny shrunk to 8 frames of 32x32 and a few units, trained for two steps with
# scheduled sampling on.
TINY = dict(
  model__encoder_widths=(4, 8),
  model__decoder_widths=(8, 4),
  model__embedding_dim=16,
  model__lstm_units=16,
  data__frames=_FRAMES,
  data__size=_SIZE,
  train__num_steps=2,
  train__batch_size=2,
  train__num_samples=2,
  train__context_frames=3,
  train__sampling_start_step=0,
  train__sampling_ramp_steps=1,
)


def _tiny_config(**train):
  return helpers.load_config(
    "lstm", "tiny", **{**TINY, **{f"train__{key}": value for key, value in train.items()}}
  )


def _predictor(blend_input=False, skip_connections=False):
  return lstm.NextFramePredictor(
    (4, 8), 16, 16, (8, 4), _SIZE, blend_input=blend_input, skip_connections=skip_connections
  )


# The decoder's variants: (blend_input, skip_connections).
_VARIANTS = [(False, False), (True, False), (False, True), (True, True)]


def _videos(count=2, frames=_FRAMES, seed=0):
  """Synthetic clips as float [count, frames, 32, 32, 3] in [-1, 1]."""
  return pipeline.to_float_video(
    np.stack(
      [synthetic.moving_digits_clip(seed, i, frames=frames, size=_SIZE) for i in range(count)]
    )
  )


@pytest.fixture(name="lstm_workdir", scope="module")
def lstm_workdir_fixture(trained_workdir):
  return trained_workdir("lstm", **TINY)


@pytest.fixture(scope="module")
def fixture_video(tmp_path_factory):
  """A 12-frame MJPG .avi of moving digits, 40 high and 48 wide (predict crops it to a square)."""
  return helpers.write_avi(
    tmp_path_factory.mktemp("videos") / "digits.avi", helpers.moving_digits_video(12, 40, 48), fps=8
  )


# Config and model.


def test_default_config_embeds_frames_in_1024_dimensions_and_tiny_is_smaller():
  default, tiny = helpers.load_config("lstm", "default"), helpers.load_config("lstm", "tiny")
  assert default.model_type == tiny.model_type == "lstm"
  assert default.model.embedding_dim == 1024
  assert tiny.model.embedding_dim < default.model.embedding_dim
  assert tiny.train.optimizer == default.train.optimizer == "adam"


def test_config_rejects_an_unknown_variant():
  with pytest.raises(ValueError, match="unknown variant"):
    helpers.load_config("lstm", "huge")


@pytest.mark.parametrize("blend_input, skip_connections", _VARIANTS)
def test_predictor_predicts_a_frame_in_range_after_each_input_frame(blend_input, skip_connections):
  predictions = _predictor(blend_input, skip_connections)(_videos(frames=5))
  assert predictions.shape == (2, 5, _SIZE, _SIZE, 3)
  assert float(tf.reduce_max(tf.abs(predictions))) <= 1.0


def test_rollout_returns_the_future_frames_only():
  model = _predictor()
  assert model.rollout(_videos(frames=3), 6).shape == (2, 6, _SIZE, _SIZE, 3)


@pytest.mark.parametrize("blend_input, skip_connections", _VARIANTS)
def test_rollout_feeds_its_own_predictions_back(blend_input, skip_connections):
  """Teacher forcing on the context followed by the rollout's own frames reproduces the rollout."""
  model = _predictor(blend_input, skip_connections)
  context = _videos(frames=3)
  rolled = model.rollout(context, 4)
  replayed = model(tf.concat([context, rolled[:, :-1]], axis=1))[:, 2:]
  np.testing.assert_allclose(replayed, rolled, atol=1e-5)


def test_rollout_differs_from_teacher_forcing_on_the_true_frames():
  model = _predictor()
  video = _videos(frames=7)
  rolled = model.rollout(video[:, :3], 4)
  forced = model(video[:, :6])[:, 2:]
  np.testing.assert_allclose(rolled[:, 0], forced[:, 0], atol=1e-5)  # same inputs so far
  assert float(tf.reduce_max(tf.abs(rolled[:, 1:] - forced[:, 1:]))) > 1e-3


def test_encoder_and_decoder_widths_must_pair_up():
  with pytest.raises(ValueError, match="as many entries"):
    lstm.NextFramePredictor((4, 8), 16, 16, (8, 4, 2), _SIZE)


def test_size_must_survive_the_encoder_halvings():
  with pytest.raises(ValueError, match="multiple of 4"):
    lstm.NextFramePredictor((4, 8), 16, 16, (8, 4), 30)


# Train step.


def _trainer(**train):
  return trainer_lib.build(
    families.get("lstm"),
    _tiny_config(**train),
    tf.distribute.get_strategy(),
    {"index": tf.range(2, dtype=tf.int64), "video": _videos()},
  )


def test_sampling_probability_ramps_linearly_from_the_start_step():
  values = [
    float(
      lstm_training.sampling_probability(
        tf.constant(step, tf.int64), probability=0.6, start_step=10, ramp_steps=20
      )
    )
    for step in (0, 10, 20, 30, 100)
  ]
  assert values == pytest.approx([0.0, 0.0, 0.3, 0.6, 0.6])


def test_scheduled_sampling_at_probability_zero_is_teacher_forcing():
  trainer = _trainer(sampling_probability=0.5)
  batch = {"index": tf.range(2, dtype=tf.int64), "video": _videos()}
  teacher_forced = trainer.predictor(batch["video"][:, :-1])
  np.testing.assert_allclose(trainer.predictions(batch, 0.0), teacher_forced, atol=1e-5)


def test_scheduled_sampling_at_probability_one_is_the_rollout_after_the_context():
  trainer = _trainer(sampling_probability=0.5)
  batch = {"index": tf.range(2, dtype=tf.int64), "video": _videos()}
  predictions = trainer.predictions(batch, 1.0)
  rolled = trainer.predictor.rollout(batch["video"][:, :3], _FRAMES - 3)
  np.testing.assert_allclose(predictions[:, 2:], rolled, atol=1e-5)


def test_teacher_forcing_gives_the_frame_by_frame_gradients_at_chance_zero():
  trainer = _trainer(sampling_probability=0.5)
  batch = {"index": tf.range(2, dtype=tf.int64), "video": _videos()}
  variables = trainer.predictor.trainable_variables
  gradients = []
  for probability in (None, tf.constant(0.0)):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(trainer.predictions(batch, probability) - _videos()[:, 1:]))
    gradients.append(tape.gradient(loss, variables))
  for variable, forced, frame_by_frame in zip(variables, *gradients, strict=True):
    assert float(tf.reduce_max(tf.abs(forced))) > 0, variable.path
    np.testing.assert_allclose(forced, frame_by_frame, atol=1e-6, err_msg=variable.path)


def test_the_gradient_difference_term_is_reported_and_weighted_into_the_loss():
  batches = iter(
    tf.data.Dataset.from_tensors(
      {"index": tf.range(2, dtype=tf.int64), "video": _videos()}
    ).repeat()
  )
  plain = _trainer(sampling_probability=0.0)
  weighted = _trainer(sampling_probability=0.0, gradient_difference_weight=1.0)
  weighted.predictor.set_weights(plain.predictor.get_weights())
  assert "gradient_difference" not in plain.train_step(batches)
  assert float(weighted.train_step(batches)["gradient_difference"]) > 0
  moved = [
    float(np.max(np.abs(a - b)))
    for a, b in zip(plain.predictor.get_weights(), weighted.predictor.get_weights(), strict=True)
  ]
  assert max(moved) > 1e-6, "the term changes the update"
  for bad in (-1.0, float("nan")):
    with pytest.raises(ValueError, match=f"gradient_difference_weight is {bad}; it must be a"):
      _trainer(gradient_difference_weight=bad)


def test_the_gradient_difference_term_adds_to_the_adversarial_one():
  # A loss rebuilt for the adversarial term dropped it: with a critic, the weight changed nothing.
  updated, start = [], None
  for weight in (0.0, 100.0):
    trainer, batch = _build(_adversarial_config(weight=0.01, gradient_difference_weight=weight))
    if start is None:
      start = (trainer.predictor.get_weights(), trainer.critic.get_weights())
    trainer.predictor.set_weights(start[0])
    trainer.critic.set_weights(start[1])
    trainer.train_step(iter(tf.data.Dataset.from_tensors(batch).repeat()))
    updated.append(trainer.predictor.get_weights())
  moved = [float(np.max(np.abs(a - b))) for a, b in zip(*updated, strict=True)]
  assert max(moved) > 1e-6


def test_the_train_step_samples_frame_by_frame_once_the_chance_rises_above_zero():
  trainer = _trainer(sampling_probability=0.5, sampling_start_step=1, sampling_ramp_steps=4)
  batches = iter(
    tf.data.Dataset.from_tensors(
      {"index": tf.range(2, dtype=tf.int64), "video": _videos()}
    ).repeat()
  )
  steps, chances = [], []
  for _ in range(4):
    steps.append(trainer.train_step)
    chances.append(float(steps[-1](batches)["sampling_probability"]))
  assert chances == pytest.approx([0.0, 0.0, 0.125, 0.25])
  assert steps[0] is steps[1] and steps[2] is steps[3] and steps[1] is not steps[2]


def test_train_step_lowers_the_next_frame_loss_on_a_fixed_batch():
  trainer = _trainer(sampling_probability=0.0, learning_rate=3e-3)
  batches = iter(
    tf.data.Dataset.from_tensors(
      {"index": tf.range(2, dtype=tf.int64), "video": _videos()}
    ).repeat()
  )
  losses = [float(trainer.train_step(batches)["next_frame_mse"]) for _ in range(40)]
  assert losses[-1] < 0.7 * losses[0]


def test_loss_over_two_replicas_equals_the_loss_on_one_device(two_replicas):
  batch = {"index": tf.range(2, dtype=tf.int64), "video": _videos()}
  losses = []
  for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"), two_replicas):
    trainer = trainer_lib.build(
      families.get("lstm"), _tiny_config(sampling_probability=0.0), strategy, batch
    )
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))
    losses.append(float(trainer.train_step(iter(dataset))["next_frame_mse"]))
  assert losses[1] == pytest.approx(losses[0], rel=1e-4)


def test_sample_videos_show_context_and_prediction_beside_the_truth():
  trainer = _trainer()
  samples = trainer.sample_videos()
  assert samples.shape == (2, _FRAMES, _SIZE, 2 * _SIZE, 3)
  np.testing.assert_allclose(samples[:, :3, :, :_SIZE], samples[:, :3, :, _SIZE:])  # the context
  np.testing.assert_allclose(samples[:, :, :, _SIZE:], _videos())


def test_context_frames_must_leave_frames_to_predict():
  with pytest.raises(ValueError, match="train.context_frames is 8"):
    _trainer(context_frames=_FRAMES)


def test_restoring_a_workdir_gives_the_trained_predictor_without_an_optimizer(tmp_path):
  trainer = helpers.train(_tiny_config(), tmp_path)
  restored = helpers.restore(tmp_path)
  assert (restored.config.model_type, restored.step) == ("lstm", 2)
  assert restored.trainer.optimizers == {}
  trained = {variable.path: variable.numpy() for variable in trainer.predictor.weights}
  assert {variable.path for variable in restored.trainer.predictor.weights} == set(trained)
  for variable in restored.trainer.predictor.weights:
    np.testing.assert_array_equal(variable.numpy(), trained[variable.path], err_msg=variable.path)


# The adversarial term (model.critic_widths, train.adversarial_weight).


def _adversarial_config(weight=1.0, **train):
  config = _tiny_config(adversarial_weight=weight, **train)
  with config.unlocked():
    config.model.critic_widths = (4, 8)
  return config


def _build(config, strategy=None):
  batch = {"index": tf.range(2, dtype=tf.int64), "video": _videos()}
  return trainer_lib.build(
    families.get("lstm"), config, strategy or tf.distribute.get_strategy(), batch
  ), batch


def test_the_adversarial_term_trains_a_frame_critic_and_reaches_the_predictor():
  after = {}
  for weight in (1e-9, 1.0):
    trainer, batch = _build(_adversarial_config(weight, sampling_probability=0.0))
    critic_before = [variable.numpy() for variable in trainer.critic.weights]
    metrics = trainer.train_step(iter(tf.data.Dataset.from_tensors(batch).repeat()))
    after[weight] = [variable.numpy() for variable in trainer.predictor.trainable_weights]
  assert {"next_frame_mse", "critic_loss", "adversarial_loss", "r1_penalty"} <= set(metrics)
  assert float(metrics["critic_loss"]) > 0 and float(metrics["r1_penalty"]) >= 0
  assert set(trainer.networks) == {"predictor", "critic"}
  assert any(
    not np.allclose(old, new.numpy()) for old, new in zip(critic_before, trainer.critic.weights)
  )
  # The same seed and batch: only the adversarial term's weight tells the two updates apart.
  assert any(not np.allclose(a, b, atol=1e-7) for a, b in zip(after[1e-9], after[1.0]))


def test_the_critic_compares_the_last_given_frame_and_the_future_as_one_clip():
  trainer, batch = _build(_adversarial_config())
  predictions = trainer.predictions(batch, 0.0)
  true, predicted = trainer.judged_clips(batch["video"], predictions)
  assert true.shape == predicted.shape == (2, _FRAMES - 2, _SIZE, _SIZE, 3)  # context 3 of 8
  np.testing.assert_array_equal(true, batch["video"][:, 2:])
  np.testing.assert_array_equal(predicted[:, 0], batch["video"][:, 2])
  np.testing.assert_array_equal(predicted[:, 1:], predictions[:, 2:])
  # Stacked: the clip is judged as a whole, so the frames' order matters (a mean over single
  # frames would score the clip played backwards the same).
  assert not np.allclose(trainer.critic(true[:, ::-1]), trainer.critic(true), atol=1e-6)


def test_without_critic_widths_the_trainer_builds_no_critic():
  trainer, _ = _build(_tiny_config())
  assert trainer.critic is None and set(trainer.networks) == {"predictor"}
  assert set(trainer.optimizers) == {"optimizer"}


def test_an_adversarial_weight_and_critic_widths_come_together():
  with pytest.raises(ValueError, match="model.critic_widths is empty"):
    _build(_tiny_config(adversarial_weight=0.1))
  with pytest.raises(ValueError, match="give a weight > 0"):
    _build(_adversarial_config(0.0))


def test_adversarial_losses_over_two_replicas_equal_those_on_one_device(two_replicas):
  metrics = []
  for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"), two_replicas):
    trainer, batch = _build(_adversarial_config(sampling_probability=0.0), strategy)
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))
    metrics.append(trainer.train_step(iter(dataset)))
  for name in ("next_frame_mse", "critic_loss", "adversarial_loss", "r1_penalty"):
    assert float(metrics[1][name]) == pytest.approx(float(metrics[0][name]), rel=1e-4), name


def test_a_workdir_trained_with_a_critic_restores_the_predictor_alone(tmp_path):
  trainer = helpers.train(_adversarial_config(0.5), tmp_path)
  restored = helpers.restore(tmp_path)
  assert restored.trainer.critic is None and restored.step == 2
  trained = {variable.path: variable.numpy() for variable in trainer.predictor.weights}
  for variable in restored.trainer.predictor.weights:
    np.testing.assert_array_equal(variable.numpy(), trained[variable.path], err_msg=variable.path)
  assert "train/critic_loss" in helpers.summary_values(tmp_path)
  # The critic is a model setting: a resumed run cannot drop it (nor add one to an L2-only run).
  with pytest.raises(ValueError, match="model.critic_widths"):
    helpers.train(_tiny_config(num_steps=3), tmp_path)


# Baselines.


def _moving_square(frames=8, size=16, side=4, speed=1):
  """A white side x side square moving `speed` pixels right per frame over black, in [-1, 1]."""
  video = -np.ones((1, frames, size, size, 3), np.float32)
  for t in range(frames):
    video[0, t, 6 : 6 + side, t * speed : t * speed + side] = 1.0
  return tf.constant(video)


def test_baselines_continue_a_constant_video_exactly():
  video = tf.fill([2, 6, 16, 16, 3], 0.25)
  for baseline in (predictor_evaluation.copy_last_frame, predictor_evaluation.linear_extrapolation):
    np.testing.assert_array_equal(baseline(video[:, :3], 3), video[:, 3:])


def test_copy_last_frame_error_on_a_moving_square_grows_with_the_shift():
  video = _moving_square()
  predicted = predictor_evaluation.copy_last_frame(video[:, :3], 5)
  mse = tf.reduce_mean(tf.square((predicted - video[:, 3:]) / 2), axis=[0, 2, 3, 4])
  # Horizon h shifts the square h pixels: 2 * 4 * min(h, 4) of the 256 pixels flip from 0 to 1.
  np.testing.assert_allclose(mse, [2 * 4 * min(h, 4) / 256 for h in range(1, 6)])


def test_linear_extrapolation_cannot_move_a_saturated_square():
  """Per pixel, the leading edge brightens past white and the trailing edge darkens past black:
  both clip back, so the prediction stays the last frame."""
  video = _moving_square()
  np.testing.assert_array_equal(
    predictor_evaluation.linear_extrapolation(video[:, :3], 5),
    predictor_evaluation.copy_last_frame(video[:, :3], 5),
  )


def test_linear_extrapolation_continues_a_linear_fade_exactly():
  ramp = tf.reshape(tf.linspace(-0.8, 0.4, 7), [1, 7, 1, 1, 1]) * tf.ones([1, 7, 4, 4, 3])
  np.testing.assert_allclose(
    predictor_evaluation.linear_extrapolation(ramp[:, :3], 4), ramp[:, 3:], atol=1e-6
  )
  assert (
    float(tf.reduce_max(tf.abs(predictor_evaluation.copy_last_frame(ramp[:, :3], 4) - ramp[:, 3:])))
    > 0.5
  )


def test_linear_extrapolation_of_one_frame_repeats_it():
  video = _moving_square()
  np.testing.assert_array_equal(
    predictor_evaluation.linear_extrapolation(video[:, :1], 3), tf.repeat(video[:, :1], 3, axis=1)
  )


# Evaluation.


def test_evaluation_report_has_every_metric_of_every_method_at_every_horizon(
  lstm_workdir, small_digit_recognizer, tmp_path
):
  report_path = str(tmp_path / "report.json")
  report, table = evaluator.evaluate(
    lstm_workdir,
    families.FAMILIES.values(),
    context=3,
    future=4,
    num_samples=3,
    batch_size=2,
    digit_recognizer=small_digit_recognizer,
    report=report_path,
  )
  with open(report_path) as f:
    saved = json.load(f)
  assert saved["horizons"] == [1, 2, 3, 4]
  assert (saved["step"], saved["context"], saved["future"], saved["num_clips"]) == (2, 3, 4, 3)
  assert saved["data"] == {"source": "synthetic", "seed": 1}
  for method in ("model", "copy_last_frame", "linear_extrapolation"):
    metrics, mean = saved["metrics"][method], saved["mean"][method]
    for metric in ("mse", "psnr", "ssim"):
      assert len(metrics[metric]) == 4
    # PSNR from the MSE, at each horizon and for the mean.
    assert metrics["psnr"] == pytest.approx(list(-10 * np.log10(metrics["mse"])))
    assert mean["psnr"] == pytest.approx(-10 * np.log10(np.mean(metrics["mse"])))
    assert (mean["mse"], mean["ssim"]) == pytest.approx(
      (np.mean(metrics["mse"]), np.mean(metrics["ssim"]))
    )
  assert saved["mse_ratio_to_copy_last_frame"] == pytest.approx(
    saved["mean"]["model"]["mse"] / saved["mean"]["copy_last_frame"]["mse"]
  )
  assert report["path"] == report_path
  rows = table.splitlines()
  assert [line.split()[0] for line in rows[3:8]] == ["1", "2", "3", "4", "mean"]
  assert [line.split()[0] for line in rows[-4:]] == ["1", "2", "3", "4"]


def test_a_clip_reproduced_exactly_leaves_every_horizons_psnr_finite():
  # Each frame's PSNR was averaged over the clips: a still clip's copy-last-frame (infinite PSNR)
  # made the horizon's PSNR infinite, and the report's means null.
  rng = np.random.default_rng(0)
  moving = rng.uniform(-1, 1, (1, 6, 16, 16, 3)).astype(np.float32)
  still = np.repeat(moving[:, :1], 6, axis=1)
  videos = np.concatenate([still, moving])
  copying = types.SimpleNamespace(
    predictor=types.SimpleNamespace(rollout=predictor_evaluation.copy_last_frame)
  )
  horizons = predictor_evaluation.HorizonEvaluator(
    lambda: [tf.constant(videos)], context=2, future=4, num_clips=2
  )
  measured = dict(horizons.run(copying))
  mse = measured["copy_last_frame/mse"]
  assert np.all(mse > 0) and np.array_equal(measured["model/mse"], mse)
  np.testing.assert_allclose(measured["copy_last_frame/psnr"], -10 * np.log10(mse))


def test_the_mean_psnr_is_that_of_the_mean_mse_and_a_still_baseline_has_no_ratio(
  lstm_workdir, tmp_path
):
  # The mean row averaged the horizons' PSNRs, off its own MSE column; a copy-last MSE of 0 (every
  # clip still) gave a ratio of 5.6e10.
  report, table = evaluator.evaluate(
    lstm_workdir, families.FAMILIES.values(), num_samples=2, report=str(tmp_path / "r.json")
  )
  for mean in report["mean"].values():
    assert mean["psnr"] == pytest.approx(-10 * np.log10(mean["mse"]))
  assert np.isinf(predictor_evaluation.mse_ratio([0.1, 0.2], [0.0, 0.0]))
  assert predictor_evaluation.mse_ratio([0.1, 0.3], [0.4, 0.4]) == pytest.approx(0.5)


def test_evaluations_of_other_lengths_keep_each_others_reports(
  lstm_workdir, small_digit_recognizer, tmp_path
):
  workdir = shutil.copytree(lstm_workdir, tmp_path / "run")
  paths = [
    evaluator.evaluate(
      str(workdir),
      families.FAMILIES.values(),
      context=context,
      future=future,
      num_samples=2,
      batch_size=2,
      digit_recognizer=small_digit_recognizer,
    )[0]["path"]
    for context, future in ((3, 4), (2, 2))
  ]
  assert [os.path.basename(path) for path in paths] == [
    "evaluation_predictor_context3_future4_step2.json",
    "evaluation_predictor_context2_future2_step2.json",
  ]
  assert [json.loads((workdir / path).read_text())["future"] for path in paths] == [4, 2]


def test_evaluation_scores_the_sample_at_every_horizon_beside_the_real_future(
  lstm_workdir, small_digit_recognizer, tmp_path
):
  report, _ = evaluator.evaluate(
    lstm_workdir,
    families.FAMILIES.values(),
    context=3,
    future=4,
    num_samples=3,
    batch_size=2,
    digit_recognizer=small_digit_recognizer,
    report=str(tmp_path / "report.json"),
  )
  scores = report["sample_scores"]
  assert set(scores) == {"model", "real_future", "copy_last_frame", "linear_extrapolation"}
  for method in scores.values():
    assert set(method) == {"digit_score", "identity_consistency", "motion"}
    assert all(len(values) == 4 for values in method.values())
  # Copy-last-frame freezes the video: no motion, and the context's digits (if any are seen) stay.
  assert scores["copy_last_frame"]["motion"] == [0.0] * 4
  assert set(scores["copy_last_frame"]["identity_consistency"]) <= {1.0, None}
  assert all(motion > 0 for motion in scores["real_future"]["motion"])


def test_training_logs_the_per_horizon_measures_every_eval_every_steps(
  small_digit_recognizer, tmp_path
):
  config = _tiny_config(eval_every=1, eval_samples=2, digit_recognizer=small_digit_recognizer)
  helpers.train(config, tmp_path)
  values = {
    tag: [step for step, _ in steps]
    for tag, steps in helpers.summary_values(tmp_path).items()
    if tag.startswith("eval/")
  }
  future = _FRAMES - TINY["train__context_frames"]
  measures = ("mse", "psnr", "ssim", "digit_score", "identity_consistency", "motion")
  expected = {"eval/mse_ratio_to_copy_last_frame"}
  expected |= {
    f"eval/{method}/{name}"
    for method in ("model", "copy_last_frame", "linear_extrapolation")
    for name in measures
  }
  expected |= {f"eval/real_future/{name}" for name in measures[3:]}
  expected |= {
    f"eval/{method}/{name}/horizon_{h:02d}"
    for method, names in (("model", measures), ("real_future", measures[3:]))
    for name in names
    for h in range(1, future + 1)
  }
  assert set(values) == expected
  assert all(steps == [1, 2] for steps in values.values())


def test_evaluation_reads_held_out_shards_of_other_clip_lengths_that_hold_the_rollout(
  lstm_workdir, tmp_path
):
  videos = tmp_path / "videos"
  videos.mkdir()
  for name in ("a", "b"):
    helpers.write_avi(videos / f"{name}.avi", helpers.moving_digits_video(24, _SIZE, _SIZE))

  def evaluate_on(frames, future):
    out = tmp_path / f"shards_{frames}"
    prepare.prepare(
      layout="folder",
      source=str(videos),
      out=str(out),
      frames=frames,
      size=_SIZE,
      clips_per_video=2,
      test_fraction=0.5,
      workers=1,
    )
    return evaluator.evaluate(
      lstm_workdir,
      families.FAMILIES.values(),
      data=str(out),
      context=3,
      future=future,
      num_samples=2,
      batch_size=2,
      report=str(tmp_path / f"report_{frames}.json"),
    )[0]

  # The predictor trained on clips of _FRAMES; these were refused as not _FRAMES long.
  report = evaluate_on(2 * _FRAMES, future=_FRAMES - 3)
  assert report["num_clips"] == 2 and len(report["metrics"]["model"]["mse"]) == _FRAMES - 3
  assert len(evaluate_on(_FRAMES - 2, future=_FRAMES - 5)["metrics"]["model"]["mse"]) == _FRAMES - 5
  with pytest.raises(
    ValueError, match=f"holds clips of {_FRAMES - 2} frames, but the rollout needs {_FRAMES - 1}"
  ):
    evaluate_on(_FRAMES - 2, future=_FRAMES - 4)  # 3 + 4 frames needed, 6 stored


def test_evaluation_rejects_a_rollout_longer_than_the_training_clips(lstm_workdir):
  with pytest.raises(ValueError, match="clips of 8 frames.*give --context and --future adding up"):
    evaluator.evaluate(lstm_workdir, families.FAMILIES.values(), context=4, future=5)


def test_a_context_as_long_as_the_clips_is_named_without_a_future_given(lstm_workdir):
  with pytest.raises(ValueError, match="context=8 leaves no frame to predict in the 8-frame clips"):
    evaluator.evaluate(lstm_workdir, families.FAMILIES.values(), context=_FRAMES)


def test_evaluation_predicts_the_frames_left_in_short_training_clips_unless_told(
  lstm_workdir, tmp_path
):
  # The default of 10 frames was refused on clips shorter than the context and 10 frames.
  report, _ = evaluator.evaluate(
    lstm_workdir, families.FAMILIES.values(), num_samples=2, report=str(tmp_path / "r.json")
  )
  assert (report["context"], report["future"]) == (3, _FRAMES - 3)


# relive predict.


def _gif_frames(path):
  with Image.open(path) as gif:
    return gif.n_frames, gif.size


def _gif_frame(path, index):
  with Image.open(path) as gif:
    gif.seek(index)
    return np.asarray(gif.convert("RGB"), np.float32)


def test_predict_writes_context_then_prediction_beside_the_real_frames(
  lstm_workdir, fixture_video, tmp_path
):
  out = str(tmp_path / "out" / "prediction.gif")
  result = predict.predict(lstm_workdir, fixture_video, context=3, future=4, out=out, start=2)
  assert result == {"path": out, "step": 2, "real_future_frames": 4}
  assert _gif_frames(out) == (7, (2 * _SIZE, _SIZE))  # (frames, (width, height))
  # Frames are cropped and resized like `relive prepare`'s; the GIF palette costs a few levels.
  real = video_read.read_video(fixture_video, size=_SIZE).frames.astype(np.float32)
  first_context = _gif_frame(out, 0)
  assert np.abs(first_context[:, :_SIZE] - real[2]).mean() < 6
  assert np.abs(first_context[:, _SIZE:] - real[2]).mean() < 6
  assert np.abs(_gif_frame(out, 3)[:, _SIZE:] - real[5]).mean() < 6


def test_predict_pads_the_real_side_once_the_video_ends(lstm_workdir, fixture_video, tmp_path):
  out = str(tmp_path / "prediction.gif")
  result = predict.predict(lstm_workdir, fixture_video, context=3, future=4, out=out, start=7)
  assert result["real_future_frames"] == 2
  assert _gif_frames(out) == (7, (2 * _SIZE, _SIZE))


def test_predict_shows_the_prediction_alone_after_the_last_frame(
  lstm_workdir, fixture_video, tmp_path
):
  out = str(tmp_path / "prediction.mp4")
  result = predict.predict(lstm_workdir, fixture_video, context=3, future=2, out=out, start=9)
  assert result["real_future_frames"] == 0
  capture = cv2.VideoCapture(out)
  assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
  assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == _SIZE
  capture.release()


@pytest.mark.parametrize(
  "kwargs, message",
  [
    ({"context": 0}, "context is 0"),
    ({"future": 0}, "future is 0"),
    (
      {"future": limits.PREDICTED_FRAMES + 1},
      f"rolls out at most {limits.PREDICTED_FRAMES} frames",
    ),
    ({"start": 10}, "has 12 frames, but start=10 and context=3 need 13"),
    ({"start": -1}, "start is -1"),
    ({"out": "prediction.avi"}, "extension must be one of"),
  ],
)
def test_predict_rejects_bad_lengths_and_outputs(
  lstm_workdir, fixture_video, tmp_path, kwargs, message
):
  arguments = {"context": 3, "future": 4, "out": "prediction.gif", "start": 0, **kwargs}
  arguments["out"] = str(tmp_path / arguments["out"])
  with pytest.raises(ValueError, match=message):
    predict.predict(lstm_workdir, fixture_video, **arguments)


def test_predict_rolls_out_past_the_training_clip_length_with_a_warning(
  lstm_workdir, fixture_video, tmp_path, caplog
):
  # The model trained on 8-frame clips; the video has 12 frames.
  out = str(tmp_path / "long.gif")
  with caplog.at_level("WARNING"):
    result = predict.predict(lstm_workdir, fixture_video, context=4, future=12, out=out)
  assert result["real_future_frames"] == 8
  assert _gif_frames(out) == (16, (2 * _SIZE, _SIZE))
  warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
  assert warnings == [
    "the last 8 of the 12 predicted frames go past the 8-frame clips the model was trained on "
    "(context 4 + future 12 = 16 frames): it rolls on, but nothing measured it there"
  ]


def test_predict_refuses_a_too_short_video_without_warning_of_a_long_rollout_first(
  lstm_workdir, fixture_video, tmp_path, caplog
):
  with caplog.at_level("WARNING"), pytest.raises(ValueError, match="has 12 frames"):
    predict.predict(lstm_workdir, fixture_video, context=13, future=12, out=str(tmp_path / "p.gif"))
  assert not [record for record in caplog.records if record.levelname == "WARNING"]


@pytest.mark.parametrize(  # a photo by its bytes, whatever its name (a Latin-1 one too)
  "name", ["clear.png", "clear.jfif", "clear", os.fsdecode(b"caf\xe9.jpe")]
)
def test_predict_reads_a_photo_as_relive_relive_does(lstm_workdir, tmp_path, name):
  # Every pixel transparent over black: `relive relive` shows the white matte, OpenCV the black.
  photo = tmp_path / name
  Image.fromarray(np.zeros((20, 30, 4), np.uint8), "RGBA").save(photo, "PNG")
  out = str(tmp_path / "from_photo.gif")
  result = predict.predict(lstm_workdir, str(photo), context=1, future=2, out=out)
  assert result["real_future_frames"] == 0
  assert _gif_frames(out) == (3, (_SIZE, _SIZE))
  assert _gif_frame(out, 0).min() >= 250  # the given frame: the photo, white
  with pytest.raises(
    ValueError, match="has 1 frame, but start=0 and context=2 need 2; give start=0 and context=1$"
  ):
    predict.predict(lstm_workdir, str(photo), context=2, future=2, out=out)


def test_predict_rejects_an_unreadable_video(lstm_workdir, tmp_path):
  not_a_video = tmp_path / "notes.avi"
  not_a_video.write_text("not a video")
  with pytest.raises(ValueError, match="cannot be read"):
    predict.predict(lstm_workdir, str(not_a_video), 3, 4, str(tmp_path / "p.gif"))
  with pytest.raises(ValueError, match="file not found"):
    predict.predict(lstm_workdir, str(tmp_path / "missing.mp4"), 3, 4, str(tmp_path / "p.gif"))


def test_cli_predict_reports_a_bad_context_without_a_traceback(
  lstm_workdir, fixture_video, tmp_path
):
  result = helpers.run_cli(
    "predict",
    f"--workdir={lstm_workdir}",
    f"--video={fixture_video}",
    "--context=0",
    f"--out={tmp_path / 'p.gif'}",
  )
  assert result.returncode == 2
  assert "relive predict: error: --context=0: 0 is not a positive integer" in result.stderr
  assert "Traceback" not in result.stderr


def test_predict_reads_a_trimmed_video_with_a_latin1_name_whole(lstm_workdir, tmp_path):
  # Cases 03 and 10: an edit-list trim whose header counts 100 frames, under a name that is not
  # UTF-8; predict once refused the first and crashed on the second.
  path = helpers.trim_copy(tmp_path / "trim.mp4", helpers.smooth_video(100, 48, 64))
  latin1 = os.path.join(os.fsencode(tmp_path), b"caf\xe9.mp4")
  os.rename(os.fsencode(path), latin1)
  out = str(tmp_path / "p.gif")
  result = predict.predict(
    lstm_workdir, os.fsdecode(latin1), context=3, future=4, out=out, start=56
  )
  assert result["real_future_frames"] == 1  # frame 59 is the last of the 60 the trim shows


def test_a_one_hot_motion_kernel_shifts_the_frame_without_blurring_it():
  frames = np.random.default_rng(0).uniform(-1, 1, [1, 9, 9, 3]).astype(np.float32)
  kernels = np.zeros([1, 2, 3, 3], np.float32)
  kernels[0, 0, 1, 1] = 1.0  # the centre tap: the frame as it is
  kernels[0, 1, 1, 2] = 1.0  # one tap to the right: each pixel takes its right neighbour's value
  moved = keras.ops.convert_to_numpy(lstm.apply_motion_kernels(frames, kernels))
  np.testing.assert_allclose(moved[0, :, :, 0], frames[0], atol=1e-6)
  np.testing.assert_allclose(moved[0, :, :-1, 1], frames[0, :, 1:], atol=1e-6)
  np.testing.assert_allclose(moved[0, :, -1, 1], 0.0, atol=1e-6)


def test_motion_kernel_predictor_blends_moved_frames_into_frames_in_range():
  predictor = lstm.NextFramePredictor(
    (4, 8), 16, 16, (8, 4), 16, skip_connections=True, motion_kernels=3, kernel_size=5
  )
  frames = np.random.default_rng(0).uniform(-1, 1, [2, 4, 16, 16, 3]).astype(np.float32)
  predictions = keras.ops.convert_to_numpy(predictor(frames))
  assert predictions.shape == frames.shape
  assert np.all(np.abs(predictions) <= 1.0 + 1e-6)


def test_motion_kernels_need_an_odd_size():
  with pytest.raises(ValueError, match="kernel_size is 4"):
    lstm.NextFramePredictor((4, 8), 16, 16, (8, 4), 16, motion_kernels=2, kernel_size=4)
