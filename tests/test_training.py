"""The training loop: distribution, clipping, resuming, summaries and refusing bad settings."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from relive_tf import files
from relive_tf.errors import UserError
from relive_tf.training import loop
from relive_tf.training import recipes
from relive_tf.training import workdir as workdir_lib


def _tiny(make_config, **overrides):
  settings = dict(train__num_steps=2, train__batch_size=4, train__critic_steps=2,
                  train__checkpoint_every=1, train__summary_every=2, train__num_samples=2)
  settings.update(overrides)
  return make_config("vgan", "tiny", **settings)


def _one_device():
  return tf.distribute.OneDeviceStrategy("/cpu:0")


def _weights(recipe):
  return {v.path: np.asarray(v.value) for name in ("generator", "critic")
          for v in recipe.networks[name].weights}


def _assert_same_weights(first, second, atol):
  assert first.keys() == second.keys()
  for path in first:
    np.testing.assert_allclose(first[path], second[path], atol=atol, err_msg=path)


@pytest.fixture(name="trained_workdir", scope="module")
def trained_workdir_fixture(tmp_path_factory):
  from conftest import load_config  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path_factory.mktemp("vgan"))
  loop.train_and_evaluate(_tiny(load_config), workdir, _one_device())
  return workdir


def _two_steps(config, strategy):
  """Metrics of two train steps and the weights after them."""
  recipe = recipes.build(config, strategy, recipes.sample_batch(config))
  iterator = iter(loop.distributed_batches(config, strategy, start=0))
  metrics = [{k: float(v) for k, v in recipe.train_step(iterator).items()} for _ in range(2)]
  return metrics, _weights(recipe)


def test_mirrored_steps_on_two_devices_equal_one_device(make_config, two_replicas):
  config = _tiny(make_config)
  two_metrics, two_weights = _two_steps(config, two_replicas)
  one_metrics, one_weights = _two_steps(config, _one_device())
  # Losses are sums of per-replica shares: a wrong scale or unsynchronized batchnorm changes them.
  for two, one in zip(two_metrics, one_metrics):
    for name in one:
      assert two[name] == pytest.approx(one[name], rel=1e-3, abs=1e-9), name
  # RMSProp divides by the gradient's size, so where a gradient is ~0 the summation order moves a
  # weight by up to about the learning rate; everything else agrees far more closely.
  _assert_same_weights(two_weights, one_weights, atol=config.train.learning_rate)


def test_weight_clipping_keeps_every_critic_weight_in_bounds(trained_workdir):
  _, recipe, step = workdir_lib.restore_trained(trained_workdir)
  assert step == 2
  clip = recipe.clip_value
  for variable in recipe.critic.trainable_variables:
    assert np.max(np.abs(variable.numpy())) <= clip + 1e-7, variable.path


def test_resumed_run_ends_with_the_weights_of_a_straight_run(make_config, tmp_path):
  straight = loop.train_and_evaluate(_tiny(make_config, train__num_steps=8,
                                           train__checkpoint_every=4),
                                     str(tmp_path / "straight"), _one_device())
  loop.train_and_evaluate(_tiny(make_config, train__num_steps=4), str(tmp_path / "resumed"),
                          _one_device())
  resumed = loop.train_and_evaluate(_tiny(make_config, train__num_steps=8),
                                    str(tmp_path / "resumed"), _one_device())
  _assert_same_weights(_weights(straight), _weights(resumed), atol=1e-6)


def test_gradient_penalty_variant_trains(make_config, tmp_path):
  config = make_config("vgan", "tiny,gp", train__num_steps=1, train__batch_size=2,
                       train__critic_steps=1, train__num_samples=1)
  recipe = loop.train_and_evaluate(config, str(tmp_path), _one_device())
  assert recipe.loss == "wgan-gp"


def _summary_values(workdir):
  values = {}
  for path in tf.io.gfile.glob(os.path.join(workdir, "tb", "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        values.setdefault(value.tag, []).append(tf.make_ndarray(value.tensor))
  return values


def test_summaries_hold_poster_named_histograms_losses_and_a_gif(trained_workdir):
  values = _summary_values(trained_workdir)
  for tag in ("generator/noise_up/kernel", "generator/foreground_stream/deconv1/kernel",
              "generator/background_stream/deconv1/kernel", "discriminator/disc3/kernel",
              "train/critic_loss", "train/generator_loss", "train/wasserstein_estimate",
              "train/steps_per_second"):
    assert tag in values, f"{tag} missing from {sorted(values)}"
  gif = values["train/samples"][-1][2]
  assert gif.startswith(b"GIF89a")


def test_a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint(make_config, tmp_path):
  workdir = str(tmp_path)
  loop.train_and_evaluate(_tiny(make_config), workdir, _one_device())
  diverging = _tiny(make_config, train__num_steps=4, train__learning_rate=float("inf"))
  with pytest.raises(loop.NonFiniteLossError, match="at step 3"):
    loop.train_and_evaluate(diverging, workdir, _one_device())
  assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).endswith("ckpt-2")


@pytest.mark.parametrize("key,value,message", [
    ("train__num_steps", 0, "train.num_steps is 0"),
    ("train__batch_size", -4, "train.batch_size is -4"),
    ("train__loss", "hinge", "train.loss is 'hinge'"),
    ("data__source", "youtube", "data.source is 'youtube'"),
])
def test_bad_settings_are_refused(make_config, tmp_path, key, value, message):
  with pytest.raises(UserError, match=message):
    loop.train_and_evaluate(_tiny(make_config, **{key: value}), str(tmp_path), _one_device())


def test_batch_must_divide_over_replicas(make_config, tmp_path, two_replicas):
  with pytest.raises(UserError, match="does not divide over 2 replicas"):
    loop.train_and_evaluate(_tiny(make_config, train__batch_size=3), str(tmp_path), two_replicas)


def test_unwritable_workdir_is_refused(make_config, tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  with pytest.raises(UserError, match="cannot write to .*a_file/run.* for relive train"):
    loop.train_and_evaluate(_tiny(make_config), str(blocker / "run"), _one_device())


def test_resuming_with_another_model_is_refused(make_config, trained_workdir):
  with pytest.raises(UserError, match="other model settings.*critic_widths"):
    loop.train_and_evaluate(_tiny(make_config, model__critic_widths=(4, 8, 16, 32)),
                            trained_workdir, _one_device())


def test_gradient_penalty_with_batchnorm_is_refused(make_config, tmp_path):
  with pytest.raises(UserError, match="critic_norm"):
    loop.train_and_evaluate(_tiny(make_config, train__loss="wgan-gp"), str(tmp_path),
                            _one_device())


def test_a_workdir_another_run_is_training_is_refused(make_config, tmp_path):
  with files.exclusive_use(str(tmp_path), "relive train"):
    with pytest.raises(UserError, match=f"{re.escape(str(tmp_path))} is in use by relive train"):
      loop.train_and_evaluate(_tiny(make_config), str(tmp_path), _one_device())
  assert not os.path.exists(tmp_path / "checkpoints")
