"""The training loop: distribution, clipping, resuming, summaries and refusing bad settings."""

import json
import logging
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from relive_tf import errors
from relive_tf import families
from relive_tf import files
from relive_tf import losses
from relive_tf.gallery import page
from relive_tf.serving import publish
from relive_tf.training import inputs
from relive_tf.training import loop
from relive_tf.training import trainer as trainer_lib
from relive_tf.training import workdir as workdir_lib

import helpers

# One critic update a step, as configs/vgan.py:tiny: a second one adds 2.7 s to every run, 1.5 s of
# it tracing (measured: 11.0 against 8.4 s); the tests of several updates a step ask for them.
TINY = dict(
  train__num_steps=2,
  train__batch_size=4,
  train__critic_steps=1,
  train__checkpoint_every=1,
  train__summary_every=2,
  train__num_samples=2,
)


def _tiny(make_config, variant="tiny", **overrides):
  return make_config("vgan", variant, **{**TINY, **overrides})


def _weights(trainer):
  return {
    v.path: np.asarray(v.value)
    for name in ("generator", "critic")
    for v in trainer.networks[name].weights
  }


def _assert_same_weights(first, second, atol):
  assert first.keys() == second.keys()
  for path in first:
    np.testing.assert_allclose(first[path], second[path], atol=atol, err_msg=path)


def _saved_config(workdir):
  with open(os.path.join(workdir, "config.json")) as f:
    return json.load(f)


def _build(config, strategy):
  """A trainer of the config, ready to train, and an iterator over its training batches."""
  trainer = trainer_lib.build(
    families.get(config.model_type), config, strategy, inputs.sample_batch(config)
  )
  return trainer, iter(loop.distributed_batches(config, strategy, start=0))


def _two_steps(config, strategy):
  """Metrics of two train steps and the weights after them."""
  trainer, iterator = _build(config, strategy)
  metrics = [{k: float(v) for k, v in trainer.train_step(iterator).items()} for _ in range(2)]
  return metrics, _weights(trainer)


@pytest.mark.parametrize("model", ["vgan", "cvgan"])
def test_batchnorm_is_synchronized_only_over_several_replicas(make_config, two_replicas, model):
  config = make_config(model, "tiny", model__critic_norm="batch")
  for strategy, synchronized in ((helpers.one_device(), False), (two_replicas, True)):
    trainer = trainer_lib.build(families.get(model), config, strategy, inputs.sample_batch(config))
    norms = [
      layer
      for network in trainer.networks.values()
      for layer in network._flatten_layers()
      if isinstance(layer, tf.keras.layers.BatchNormalization)
    ]
    assert norms, "no batchnorm in the networks"
    assert {layer.synchronized for layer in norms} == {synchronized}


def test_one_cpu_replica_reads_its_pipeline_with_autotuning_off_others_through_tf_distribute(
  make_config, two_replicas
):
  # An iterator with tf.data's autotuning on can keep its destructor waiting up to a minute
  # (docs/reliability.md, "Exit"); tf.distribute's input pipeline adds one with it on.
  config = _tiny(make_config, "tiny")
  one_cpu = loop.distributed_batches(config, helpers.one_device(), start=0)
  assert isinstance(one_cpu, tf.data.Dataset)
  assert one_cpu.options().autotune.enabled is False
  assert not isinstance(loop.distributed_batches(config, two_replicas, start=0), tf.data.Dataset)
  # No strategy (the benchmarks' cached steps): TensorFlow's own placement, the CPU here.
  assert isinstance(
    loop.distributed_batches(config, tf.distribute.get_strategy(), 0), tf.data.Dataset
  )
  first = next(iter(one_cpu))
  assert first["video"].shape[0] == config.train.batch_size
  np.testing.assert_array_equal(first["index"], np.arange(config.train.batch_size))


@pytest.mark.parametrize(
  "variant, overrides",
  # tiny's lazy R1 is due at the first update: its penalty goes through tf.cond on both devices.
  # Two critic updates a step: each replica reads its share of each update's batch.
  [("tiny,poster", {"train__critic_steps": 2}), ("tiny", {"train__critic_steps": 2})],
  ids=["poster", "tiny"],
)
def test_mirrored_steps_on_two_devices_equal_one_device(
  make_config, two_replicas, variant, overrides
):
  config = _tiny(make_config, variant, **overrides)
  two_metrics, two_weights = _two_steps(config, two_replicas)
  one_metrics, one_weights = _two_steps(config, helpers.one_device())
  # Losses are sums of per-replica shares: a wrong scale or unsynchronized batchnorm changes them.
  # The R1 penalty, a squared gradient of the critic taken through oneDNN convolutions that differ
  # with the per-replica batch, agrees to 0.3 % (measured); a wrong scale would be off by 2x.
  for two, one in zip(two_metrics, one_metrics):
    for name in one:
      rel = 1e-2 if name == "r1_penalty" else 1e-3
      assert two[name] == pytest.approx(one[name], rel=rel, abs=1e-9), name
  rate = config.train.learning_rate
  if config.train.optimizer == "rmsprop":
    # RMSProp divides by the gradient's size, so where a gradient is ~0 the summation order moves
    # a weight by up to about the learning rate; everything else agrees far more closely.
    _assert_same_weights(two_weights, one_weights, atol=rate)
  else:
    # Adam moves every weight by about the learning rate whatever its gradient's size, so where a
    # gradient is ~0 the summation order decides the sign. Measured: 0.7 % of noise_up's kernel
    # ends more than a rate apart; wrong gradients would put about half of it 2 rates apart.
    apart = sum(np.sum(np.abs(two_weights[path] - one) > rate) for path, one in one_weights.items())
    total = sum(weights.size for weights in one_weights.values())
    assert apart < 0.05 * total, f"{apart} of {total} weights more than {rate} apart"


@pytest.mark.parametrize("critic_steps", [1, 2])
def test_the_generator_update_reuses_the_last_critic_updates_videos_with_the_same_result(
  make_config, critic_steps
):
  # The reference: the critic updates, then a generator update that makes its videos again.
  config = _tiny(make_config, "tiny", train__r1_every=1, train__critic_steps=critic_steps)
  shared, shared_batches = _build(config, helpers.one_device())
  # Adam's first update is about lr * sign(gradient); the second weighs the gradients' sizes.
  shared_losses = [float(shared.train_step(shared_batches)["generator_loss"]) for _ in range(2)]
  apart, apart_batches = _build(config, helpers.one_device())

  @tf.function  # as train_step is: oneDNN's graph rewrites round differently from eager ops
  def critic_then_generator_updates(batches):
    for _ in range(config.train.critic_steps):
      batch = next(batches)
      apart.critic_step(batch)
    with tf.GradientTape() as tape:
      fake, _ = apart.fake_videos(batch, training=True)
      scores = apart.critic_scores(fake, batch, training=True)
      loss = losses.logistic_generator_loss(scores, config.train.batch_size)
    variables = apart.generator.trainable_variables
    trainer_lib.apply_gradients(apart.optimizers["generator_optimizer"], tape, loss, variables)
    return loss

  apart_losses = [float(critic_then_generator_updates(apart_batches)) for _ in range(2)]
  # The loss is scored by the critic after its update: one scored before would differ here.
  np.testing.assert_allclose(shared_losses, apart_losses, rtol=1e-5)
  # The two graphs round differently (oneDNN and XLA sum in their own orders), and Adam moves a
  # weight by about the learning rate whatever its gradient's size, so where a gradient is ~0 the
  # rounding decides the sign. Measured with two critic updates a step: 7 of the generator's
  # 196,639 weights (none of the critic's) end more than half a rate apart, 1.5 % more than 1e-5;
  # with the reference's generator updates left out, 57 to 63 % end more than half a rate apart.
  rate = config.train.learning_rate
  for network in ("generator", "critic"):
    pairs = zip(
      shared.networks[network].trainable_variables, apart.networks[network].trainable_variables
    )
    distances = np.concatenate([np.abs(a.numpy() - b.numpy()).ravel() for a, b in pairs])
    assert np.mean(distances > rate / 2) < 1e-3, (network, np.mean(distances > rate / 2))


def _one_step_weights(config, critic_updates_before=0):
  """The networks' weights after one train step, from the config's seed, the critic optimizer's
  update count set first (Adam's bias correction and the frames judged depend on it)."""
  trainer, iterator = _build(config, helpers.one_device())
  trainer.optimizers["critic_optimizer"].iterations.assign(critic_updates_before)
  metrics = {name: float(value) for name, value in trainer.train_step(iterator).items()}
  return metrics, _weights(trainer)


def test_lazy_r1_weights_the_penalty_r1_every_times_at_one_update_in_r1_every(make_config):
  def config(**overrides):
    return _tiny(make_config, "tiny", train__critic_steps=1, **overrides)

  # A due update (the critic's update 0) adds r1_every times the penalty...
  lazy, lazy_weights = _one_step_weights(config(train__r1_every=2))
  _, doubled_weights = _one_step_weights(config(train__r1_weight=2.0, train__r1_every=1))
  _assert_same_weights(lazy_weights, doubled_weights, atol=1e-6)
  assert lazy["r1_penalty"] > 0
  # ...and the next one none, reporting the last penalty computed (none yet in a new trainer).
  skipped, skipped_weights = _one_step_weights(config(train__r1_every=2), critic_updates_before=1)
  _, unpenalized_weights = _one_step_weights(config(train__r1_weight=0.0), critic_updates_before=1)
  _assert_same_weights(skipped_weights, unpenalized_weights, atol=1e-6)
  assert skipped["r1_penalty"] == 0


def test_lazy_r1_reports_the_last_penalty_between_regularized_updates(make_config):
  config = _tiny(make_config, "tiny", train__critic_steps=1, train__r1_every=2)
  trainer, iterator = _build(config, helpers.one_device())
  penalties = [float(trainer.train_step(iterator)["r1_penalty"]) for _ in range(3)]
  assert penalties[0] > 0 and penalties[1] == penalties[0] and penalties[2] != penalties[0]


def test_r1_every_must_be_at_least_one(make_config):
  with pytest.raises(ValueError, match="train.r1_every is 0"):
    _build(_tiny(make_config, "tiny", train__r1_every=0), helpers.one_device())


def test_weight_clipping_keeps_every_critic_weight_in_bounds(trained_workdir):
  trained = helpers.restore(trained_workdir("vgan", "tiny,poster", **TINY))
  assert trained.step == 2
  clip = trained.config.train.clip_value
  for variable in trained.trainer.critic.trainable_variables:
    assert np.max(np.abs(variable.numpy())) <= clip + 1e-7, variable.path


def test_resumed_run_ends_with_the_weights_of_a_straight_run(make_config, tmp_path):
  # Two critic updates a step: the resumed run skips two batches a step done.
  several = dict(train__critic_steps=2)
  straight = helpers.train(
    _tiny(make_config, train__num_steps=8, train__checkpoint_every=4, **several),
    tmp_path / "straight",
  )
  helpers.train(_tiny(make_config, train__num_steps=4, **several), tmp_path / "resumed")
  resumed = helpers.train(_tiny(make_config, train__num_steps=8, **several), tmp_path / "resumed")
  _assert_same_weights(_weights(straight), _weights(resumed), atol=1e-6)


def test_gradient_penalty_variant_moves_every_kernel_and_keeps_its_losses_finite(make_config):
  config = _tiny(make_config, "tiny,gp", train__batch_size=2, train__critic_steps=1)
  trainer, iterator = _build(config, helpers.one_device())
  before = _weights(trainer)
  metrics = [trainer.train_step(iterator) for _ in range(2)]
  after = _weights(trainer)
  for step in metrics:
    assert {"critic_loss", "gradient_penalty", "generator_loss"} <= set(step)
    assert all(np.isfinite(float(value)) for value in step.values()), step
    assert float(step["gradient_penalty"]) > 0
  for path in before:
    if path.endswith("kernel"):
      assert not np.array_equal(before[path], after[path]), f"{path} did not change"


@pytest.mark.parametrize("variant", ["tiny,poster", "tiny,gp"])
def test_critic_updates_on_a_fixed_batch_raise_the_wasserstein_estimate(make_config, variant):
  config = _tiny(make_config, variant, train__batch_size=4, train__num_samples=4)
  batch = inputs.sample_batch(config)
  strategy = helpers.one_device()
  trainer = trainer_lib.build(families.get("vgan"), config, strategy, batch)
  estimates = []
  for _ in range(8):
    metrics = strategy.run(trainer.critic_step, args=(batch,))
    trainer.clip_critic_weights()
    estimates.append(float(metrics["wasserstein_estimate"]))
  # The critic learns to score the real clips above the generator's: E[D(x)] - E[D(G(z))] grows.
  assert estimates[-1] > estimates[0], estimates


def test_summaries_hold_poster_named_histograms_losses_and_a_gif(trained_workdir):
  values = helpers.summary_values(trained_workdir("vgan", **TINY))
  for tag in (
    "generator/noise_up/kernel",
    "generator/foreground_stream/deconv1/kernel",
    "generator/background_stream/deconv1/kernel",
    "discriminator/disc3/kernel",
    "train/critic_loss",
    "train/generator_loss",
    "train/r1_penalty",
    "train/steps_per_second",
  ):
    assert tag in values, f"{tag} missing from {sorted(values)}"
  _, gif = values["train/samples"][-1]
  assert gif[2].startswith(b"GIF89a")


def test_the_moving_average_generator_has_histograms_of_its_own(trained_workdir):
  # It was built under the generator's name too: both wrote generator/noise_up/kernel, and
  # TensorBoard showed one of them.
  values = helpers.summary_values(trained_workdir("vgan", **TINY, train__ema_decay=0.5))
  (step, trained), *_ = values["generator/noise_up/kernel"]
  averaged = dict(values["ema_generator/noise_up/kernel"])[step]
  assert not np.array_equal(averaged, trained)


def test_the_moving_average_keeps_the_generators_checkpoint_keys(trained_workdir):
  # Named apart by its Keras name, its variables moved to other keys: checkpoints written before
  # restored it untrained, without a word (expect_partial).
  workdir = trained_workdir("vgan", **TINY, train__ema_decay=0.5)
  names = [name for name, _ in tf.train.list_variables(os.path.join(workdir, "checkpoints"))]

  def keys(network):
    prefix = f"networks/{network}/"
    return {name[len(prefix) :] for name in names if name.startswith(prefix)}

  assert keys("generator") and keys("ema_generator") == keys("generator")


def test_summaries_hold_the_loops_input_wait_and_time_outside_the_step(trained_workdir):
  values = helpers.summary_values(trained_workdir("vgan", **TINY))
  for tag in ("train/input_wait_fraction", "train/outside_step_fraction"):
    assert tag in values, f"{tag} missing from {sorted(values)}"
    assert all(0.0 <= float(value) <= 1.0 for _, value in values[tag]), values[tag]


def test_a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint(
  make_config, trained_workdir
):
  workdir = trained_workdir("vgan", **TINY)  # checkpoints of steps 1 and 2
  # Near the largest float32 learning rate (inf is refused): the first update leaves weights
  # near 1e38.
  diverging = _tiny(make_config, train__num_steps=4, train__learning_rate=3e38)
  with pytest.raises(loop.NonFiniteLossError, match="at step 3"):
    helpers.train(diverging, workdir)
  assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).endswith("ckpt-2")


@pytest.mark.parametrize(
  "key,value,message",
  [
    ("train__num_steps", 0, "train.num_steps is 0"),
    ("train__batch_size", -4, "train.batch_size is -4"),
    ("train__critic_steps", 0, "train.critic_steps is 0; it must be >= 1"),
    ("train__loss", "least-squares", "train.loss is 'least-squares'"),
    ("data__source", "youtube", "data.source is 'youtube'"),
    ("train__nan_policy", "skip", "train.nan_policy is 'skip'"),
    ("train__nan_lr_factor", 2.0, r"train.nan_lr_factor is 2.0; it must be in \(0, 1\]"),
    ("train__learning_rate", -1.0, "train.learning_rate is -1.0; it must be a positive number"),
    ("train__r1_weight", -1.0, "train.r1_weight is -1.0; it must be a number, 0 or more"),
    ("train__r1_weight", float("nan"), "train.r1_weight is nan; it must be a number, 0 or more"),
    ("train__mask_l1_weight", float("inf"), "train.mask_l1_weight is inf; it must be a number"),
    ("train__mask_l1_weight", -1.0, "train.mask_l1_weight is -1.0; it must be a number, 0 or more"),
    ("train__adam_beta1", 2.0, r"train.adam_beta1 is 2.0; it must be in \[0, 1\)"),
    ("train__ema_decay", 1.5, r"train.ema_decay is 1.5; it must be in \[0, 1\)"),
    ("model__critic_widths", (8, 0, 32, 64), r"model.critic_widths is \(8, 0, 32, 64\)"),
    ("model__noise_dim", 0, "model.noise_dim is 0; the video GAN makes its videos from noise"),
    ("data__frames", 0, "data.frames is 0; it must be a positive integer"),
    ("data__frames", 8, r"frames \(8\) and size \(\d+\) must be positive multiples of 16"),
  ],
)
def test_bad_settings_are_refused(make_config, tmp_path, key, value, message):
  with pytest.raises(ValueError, match=message):
    helpers.train(_tiny(make_config, **{key: value}), tmp_path)


def test_batch_must_divide_over_replicas(make_config, tmp_path, two_replicas):
  with pytest.raises(ValueError, match="does not divide over 2 replicas"):
    helpers.train(_tiny(make_config, train__batch_size=3), tmp_path, two_replicas)


def test_unwritable_workdir_is_refused(make_config, tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  with pytest.raises(ValueError, match="cannot write to .*a_file/run.* for relive train"):
    helpers.train(_tiny(make_config), blocker / "run")


@pytest.mark.parametrize(
  "override, named",
  [
    ({"model__critic_widths": (4, 8, 16, 32)}, "model.critic_widths: [8, 16, 32, 64] there"),
    # Outside `model`, yet they set the generator's and the critics' weight shapes: a resume
    # used to fail on restoring a kernel of another shape, in a 75-line traceback.
    ({"data__frames": 16}, "data.frames: 32 there, 16 now"),
    ({"data__size": 32}, "data.size: 64 there, 32 now"),
  ],
)
def test_resuming_with_another_model_is_refused(make_config, trained_workdir, override, named):
  workdir = trained_workdir("vgan", **TINY)
  with pytest.raises(
    ValueError, match=f"other settings that shape the model \\({re.escape(named)}"
  ):
    helpers.train(_tiny(make_config, **override), workdir)
  assert _saved_config(workdir)["data"] == _tiny(make_config).data.to_dict()


@pytest.mark.parametrize(
  "model_type, key, refused",
  [("cvgan", "frames", True), ("lstm", "size", True), ("lstm", "frames", False)],
)
def test_a_resume_may_change_the_clips_shape_only_where_no_weight_depends_on_it(
  make_config, tmp_path, model_type, key, refused
):
  config = make_config(model_type, "tiny")
  workdir_lib.save_config(str(tmp_path), config)
  changed = make_config(model_type, "tiny", **{f"data__{key}": config.data[key] // 2})
  family = families.get(model_type)
  if refused:
    with pytest.raises(ValueError, match=f"other settings that shape the model \\(data.{key}: "):
      workdir_lib.config_changes(str(tmp_path), changed, family)
  else:  # the predictor's LSTM runs over any number of frames
    changes = workdir_lib.config_changes(str(tmp_path), changed, family)
    assert changes == [(f"data.{key}", config.data[key], config.data[key] // 2)]


def test_a_workdir_stopped_before_its_first_checkpoint_trains_another_config(
  make_config, tmp_path, caplog
):
  # A run stopped while compiling left config.json alone, and the corrected command was refused as
  # "trained with other settings that shape the model".
  workdir = str(tmp_path / "run")
  workdir_lib.save_config(workdir, make_config("lstm", "tiny"))
  os.makedirs(os.path.join(workdir, "checkpoints"))
  with pytest.raises(ValueError, match="holds a model of type 'lstm', not 'vgan'"):
    helpers.train(_tiny(make_config), workdir)  # another model type: perhaps another workdir meant
  workdir_lib.save_config(workdir, make_config("vgan", "tiny"))
  poster = _tiny(make_config, "tiny,poster", train__num_steps=1)
  with caplog.at_level(logging.INFO, logger="absl"):
    helpers.train(poster, workdir)
  assert f"{workdir} holds no checkpoint yet: its config.json is replaced by this run's" in (
    caplog.messages
  )
  saved, _ = workdir_lib.load_config(workdir, families.get("vgan"))
  assert saved.model.critic_norm == "batch" and helpers.restore(workdir).step == 1
  assert not os.path.exists(os.path.join(workdir, "config_history.log"))
  with pytest.raises(ValueError, match="was trained with other settings that shape the model"):
    helpers.train(_tiny(make_config, train__num_steps=2), workdir)  # once trained, it binds


def test_a_relative_data_path_kept_by_an_older_run_is_the_same_path_from_its_folder(
  make_config, tmp_path, monkeypatch
):
  monkeypatch.chdir(tmp_path)
  shards_config = dict(data__source="shards", data__path="shards")
  workdir_lib.save_config("run", make_config("vgan", "tiny", **shards_config))  # as kept before
  resumed = make_config("vgan", "tiny", data__source="shards", data__path=str(tmp_path / "shards"))
  assert workdir_lib.config_changes("run", resumed, families.get("vgan")) == []
  assert workdir_lib.absolute_data_path("shards", "~/x") == os.path.expanduser("~/x")
  assert workdir_lib.absolute_data_path("shards", "gs://bucket/x") == "gs://bucket/x"
  assert workdir_lib.absolute_data_path("synthetic", ".") == "."  # read by no source: as given


def _cut(path, size=1000):
  with open(path, "r+b") as f:
    f.truncate(size)


def test_a_damaged_newest_checkpoint_is_passed_over_for_the_one_before(
  make_config, trained_workdir, caplog
):
  workdir = trained_workdir("vgan", **TINY)  # checkpoints of steps 1 and 2
  _cut(os.path.join(workdir, "checkpoints", "ckpt-2.data-00000-of-00001"))
  with caplog.at_level(logging.WARNING, logger="absl"):
    assert helpers.restore(workdir).step == 1  # generate, export and the gallery read this
  warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
  assert len(warned) == 1 and "ckpt-2 is damaged (IndexError" in warned[0]
  assert warned[0].endswith("using the checkpoint before it")
  helpers.train(_tiny(make_config), workdir)  # resumes from step 1 and writes step 2 anew
  assert helpers.restore(workdir).step == 2
  for step in (1, 2):
    _cut(os.path.join(workdir, "checkpoints", f"ckpt-{step}.data-00000-of-00001"))
  with pytest.raises(ValueError, match="every checkpoint in .* is damaged .the oldest: .*ckpt-1"):
    helpers.train(_tiny(make_config, train__num_steps=3), workdir)


_GONE = 'model_checkpoint_path: "ckpt-9"\nall_model_checkpoint_paths: "ckpt-9"\n'


def _break_state_file(workdir, state):
  """The checkpoints' state file of a workdir made missing, empty, garbled or naming others."""
  state_file = os.path.join(workdir, "checkpoints", "checkpoint")
  if state == "missing":
    os.remove(state_file)
  else:
    with open(state_file, "w") as f:
      f.write({"empty": "", "garbled": "model_checkpoint_path: {{", "naming others": _GONE}[state])
  return state_file


@pytest.mark.parametrize("state", ["missing", "empty", "garbled", "naming others"])
def test_checkpoints_without_their_state_file_are_found(trained_workdir, caplog, state):
  # Without the state file a run used to start from step 0 over the checkpoints, and generate
  # said the workdir held none (empty: a ValueError traceback).
  workdir = trained_workdir("vgan", **TINY)  # checkpoints of steps 1 and 2
  state_file = _break_state_file(workdir, state)
  with caplog.at_level(logging.WARNING, logger="absl"):
    assert helpers.restore(workdir).step == 2
  warned = [record.getMessage() for record in caplog.records if record.name == "absl"]
  assert warned[-1] == (
    f"{state_file} is missing, empty, unreadable or names none of the checkpoints beside it: "
    "using the 2 there (ckpt-1 to ckpt-2)"
  )


def test_a_resume_without_a_usable_state_file_rewrites_it_and_keeps_the_checkpoints(
  make_config, trained_workdir, caplog
):
  # Every state above reaches the same rewrite (checkpoints.checkpoint_prefixes): one resume.
  workdir = trained_workdir("vgan", **TINY)  # checkpoints of steps 1 and 2
  _break_state_file(workdir, "naming others")
  directory = os.path.join(workdir, "checkpoints")
  written = {
    name: os.stat(os.path.join(directory, name)).st_mtime_ns
    for name in os.listdir(directory)
    if name.startswith("ckpt-2.")
  }
  with caplog.at_level(logging.INFO, logger="absl"):
    helpers.train(_tiny(make_config, train__num_steps=4, train__max_checkpoints=3), workdir)
  said = [record.getMessage() for record in caplog.records if record.name == "absl"]
  assert f"resumed from {directory}/ckpt-2 at step 2" in said
  assert any("rewrote it listing the 2 there" in line for line in said)
  assert written == {name: os.stat(os.path.join(directory, name)).st_mtime_ns for name in written}
  listed = tf.train.get_checkpoint_state(directory).all_model_checkpoint_paths
  assert [os.path.basename(path) for path in listed] == ["ckpt-2", "ckpt-3", "ckpt-4"]
  assert not [name for name in os.listdir(directory) if name.startswith("ckpt-1.")]  # kept 3


def test_a_state_file_that_cannot_be_written_anew_ends_in_one_line(make_config, trained_workdir):
  workdir = trained_workdir("vgan", **TINY)
  state_file = os.path.join(workdir, "checkpoints", "checkpoint")
  os.remove(state_file)
  os.mkdir(state_file)  # in the way of the new one
  with pytest.raises(errors.WriteError, match=r"cannot write the checkpoints' state file \("):
    helpers.train(_tiny(make_config, train__num_steps=3), workdir)
  assert helpers.restore(workdir).step == 2  # the checkpoints stay


def test_an_index_file_without_its_data_is_passed_over(trained_workdir):
  workdir = trained_workdir("vgan", **TINY)
  os.remove(os.path.join(workdir, "checkpoints", "ckpt-2.data-00000-of-00001"))
  assert helpers.restore(workdir).step == 1  # was a NotFoundError traceback


def test_a_resume_with_nothing_left_to_train_leaves_the_workdirs_config_as_it_was(
  make_config, trained_workdir, caplog
):
  workdir = trained_workdir("vgan", **TINY)  # trained to step 2
  with caplog.at_level(logging.INFO, logger="absl"):
    helpers.train(_tiny(make_config, train__num_steps=1), workdir)
  logged = [record.getMessage() for record in caplog.records]
  assert "already trained to step 2 (train.num_steps=1): nothing to do" in logged
  assert not [line for line in logged if line.startswith("resumed with a changed")]
  assert _saved_config(workdir)["train"]["num_steps"] == 2
  assert not os.path.exists(os.path.join(workdir, "config_history.log"))


def test_resuming_with_other_train_settings_logs_and_records_each_change(
  make_config, trained_workdir, caplog
):
  workdir = trained_workdir("vgan", **TINY)
  before = _saved_config(workdir)["train"]["learning_rate"]
  # relive_tf logs through absl's logger, whose level other tests' imports may have set.
  with caplog.at_level(logging.INFO, logger="absl"):
    helpers.train(_tiny(make_config, train__num_steps=3, train__learning_rate=before / 2), workdir)
  changes = [
    f"train.learning_rate: {before} -> {before / 2}",
    "train.num_steps: 2 -> 3",
  ]
  logged = [record.getMessage() for record in caplog.records]
  assert [line for line in logged if line.startswith("resumed with a changed")] == [
    f"resumed with a changed {change}" for change in changes
  ]
  with open(os.path.join(workdir, "config_history.log")) as history:
    lines = history.read().splitlines()
  assert [line.split(" after step 2: ")[1] for line in lines] == changes
  assert _saved_config(workdir)["train"]["learning_rate"] == before / 2


def test_a_config_json_written_over_by_another_json_file_is_named_in_one_line(trained_workdir):
  workdir = trained_workdir("vgan", **TINY)
  with open(os.path.join(workdir, "config.json"), "w") as file:
    json.dump({"workdir": workdir, "model_type": "vgan", "step": 2}, file)  # a report's keys
  family = families.get("vgan")
  with pytest.raises(
    ValueError,
    match=r"config.json is not a config `relive train` wrote \(it "
    r"lacks seed, model, data, train\); restore it",
  ):
    workdir_lib.load_config(workdir, family)
  with open(os.path.join(workdir, "config.json"), "w") as file:
    json.dump({}, file)
  with pytest.raises(ValueError, match=r"\(it lacks model_type, seed, model, data, train\)"):
    workdir_lib.load_config(workdir, family)


@pytest.mark.parametrize(
  "override, named",
  [
    ({"train__ema_decay": 0.999}, "train.ema_decay (0.0 there, 0.999 now) adds"),  # the EMA
    ({"train__precision": "mixed_float16"}, "train.precision (float32 there, mixed_float16 now)"),
  ],
)
def test_a_resume_with_a_setting_that_adds_state_is_refused_in_one_line(
  make_config, trained_workdir, override, named
):
  # Both passed the config check, then failed restoring in a screenful of variable values.
  workdir = trained_workdir("vgan", **TINY)
  before = _saved_config(workdir)
  with pytest.raises(ValueError) as refused:
    helpers.train(_tiny(make_config, train__num_steps=3, **override), workdir)
  message = str(refused.value)
  assert "ckpt-2 does not hold every variable this run needs: the changed train." in message
  assert named in message and "\n" not in message
  assert message.endswith(f"settings in {workdir}/config.json or use another workdir")
  assert _saved_config(workdir) == before


def test_a_resume_that_would_drop_the_moving_average_is_refused(make_config, trained_workdir):
  # It went on without a word but a logged change, and the next resume with the average refused.
  workdir = trained_workdir("vgan", **TINY, train__ema_decay=0.5)
  before = _saved_config(workdir)
  with pytest.raises(ValueError, match=r"holds a moving average of its generator .*0.5 there, 0.0"):
    helpers.train(_tiny(make_config, train__num_steps=3), workdir)
  assert _saved_config(workdir) == before


@pytest.mark.parametrize(
  "written, what",
  [
    # The names those commands write, from their own modules.
    ((f"1/{tf.saved_model.SAVED_MODEL_FILENAME_PB}",), "an export of `relive export`"),
    ((publish.MODELS_CONFIG,), "an export of `relive export`"),
    ((page.INDEX_FILE, f"{page.MEDIA_DIR}/vgan/real.gif"), "a gallery site of `relive gallery`"),
  ],
)
def test_training_in_a_folder_export_or_gallery_wrote_is_refused(
  make_config, tmp_path, written, what
):
  # Checkpoints among an export's versions made the next `relive export` there refuse it.
  for name in written:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(b"")
  before = sorted(str(path) for path in tmp_path.rglob("*"))
  with pytest.raises(ValueError, match=f"is {re.escape(what)}, not a training workdir; give a new"):
    helpers.train(_tiny(make_config), tmp_path)
  assert sorted(str(path) for path in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
  "written, inside, what",
  [
    ((f"1/{tf.saved_model.SAVED_MODEL_FILENAME_PB}",), "1", "a SavedModel .a version `relive"),
    ((f"1/{tf.saved_model.SAVED_MODEL_FILENAME_PB}",), "1/variables", "a SavedModel .a version"),
    ((publish.MODELS_CONFIG,), "vgan/2", "an export of `relive export`"),
    ((page.INDEX_FILE, f"{page.MEDIA_DIR}/00_vgan/real.gif"), "media/run", "a gallery site of"),
  ],
)
def test_training_inside_a_folder_export_or_gallery_wrote_is_refused(
  make_config, tmp_path, written, inside, what
):
  # A run in a site's media/ went with the site's next rebuild; one in a version folder mixed its
  # checkpoints with the SavedModel.
  for name in written:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(b"")
  workdir = re.escape(str(tmp_path / inside))
  with pytest.raises(ValueError, match=rf"'{workdir}' is (inside '{tmp_path}[^']*', )?{what}"):
    helpers.train(_tiny(make_config), tmp_path / inside)
  assert not (tmp_path / inside / "config.json").exists()


def test_a_folder_beside_the_models_of_an_export_root_may_be_a_workdir(make_config, tmp_path):
  # `relive export --export_dir=runs/vgan_export` puts models.config in runs/: every new workdir in
  # runs/ was then refused as "inside an export", with runs/NAME as the advice.
  (tmp_path / publish.MODELS_CONFIG).write_text("")
  (tmp_path / "vgan_export" / "1").mkdir(parents=True)
  (tmp_path / "vgan_export" / "1" / tf.saved_model.SAVED_MODEL_FILENAME_PB).write_bytes(b"")
  helpers.train(_tiny(make_config, train__num_steps=1), tmp_path / "lstm2")
  assert helpers.restore(tmp_path / "lstm2").step == 1
  with pytest.raises(ValueError, match="is inside .*vgan_export', an export of `relive export`"):
    helpers.train(_tiny(make_config, train__num_steps=1), tmp_path / "vgan_export" / "run")
  workdir_lib.check_not_other_output(str(tmp_path / "3"))  # a number, not a model's version
  with pytest.raises(ValueError, match="an export of `relive export`"):
    workdir_lib.check_not_other_output(str(tmp_path / "vgan" / "2" / "run"))


def test_a_new_workdir_inside_another_runs_workdir_or_the_package_is_refused(trained_workdir):
  # runs/v1/checkpoints trained: its tb/ became a run nested in v1's TensorBoard logs.
  workdir = trained_workdir("vgan", **TINY)
  for inside in ("checkpoints", "tb/train", "new"):
    with pytest.raises(ValueError, match=f"is inside '{re.escape(workdir)}', the workdir of anot"):
      workdir_lib.check_not_other_output(os.path.join(workdir, inside))
  package = os.path.dirname(os.path.realpath(workdir_lib.__file__)).removesuffix("/training")
  for inside in ("", "assets/feature_network", "assets/new"):
    with pytest.raises(ValueError, match="is inside the relive_tf package .*; give a new folder"):
      workdir_lib.check_not_other_output(os.path.join(package, inside))
  with pytest.raises(ValueError, match="is a model shipped with relive_tf"):
    workdir_lib.check_not_other_output(os.path.join(package, "assets", "vgan_tiny"))
  nested = os.path.join(workdir, "nested")
  os.makedirs(os.path.join(nested, "checkpoints"))
  with open(os.path.join(nested, "config.json"), "w") as f:
    f.write("{}")
  workdir_lib.check_not_other_output(nested)  # one trained there already resumes


def test_a_folder_above_that_cannot_be_listed_is_no_other_commands_output(tmp_path, monkeypatch):
  # /home or /scratch at mode 711: a run under it was refused (a PermissionError), in a traceback
  # once `relive train` checked it before TensorFlow loads.
  listdir = workdir_lib.files.listdir
  locked = str(tmp_path / "locked")
  (tmp_path / "locked" / "mine").mkdir(parents=True)

  def refusing(path):
    if path == locked:
      raise PermissionError(13, "Permission denied", path)
    return listdir(path)

  monkeypatch.setattr(workdir_lib.files, "listdir", refusing)
  workdir_lib.check_not_other_output(str(tmp_path / "locked" / "mine" / "run"))
  (tmp_path / "locked" / "mine" / workdir_lib.SHIPPED_FILE).write_text("{}")
  with pytest.raises(ValueError, match="is inside .*mine', a model shipped with relive_tf"):
    workdir_lib.check_not_other_output(str(tmp_path / "locked" / "mine" / "run"))


def test_a_folder_beside_a_sites_media_may_be_a_workdir(make_config, tmp_path):
  # A home folder with an index.html and a media/ of its own: runs/ beside them stays usable.
  (tmp_path / page.MEDIA_DIR).mkdir()
  (tmp_path / page.INDEX_FILE).write_text("<html></html>")
  helpers.train(_tiny(make_config, train__num_steps=1), tmp_path / "runs" / "vgan")
  assert helpers.restore(tmp_path / "runs" / "vgan").step == 1


def test_resuming_on_other_data_is_a_warning(make_config, trained_workdir, caplog):
  workdir = trained_workdir("vgan", **TINY)  # trained on the built-in clips of seed 0
  with caplog.at_level(logging.INFO, logger="absl"):
    helpers.train(_tiny(make_config, train__num_steps=3, seed=1), workdir)
  warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
  assert [line for line in warned if line.startswith("resumed with a changed")] == [
    "resumed with a changed seed: 0 -> 1: training goes on with other data; to keep the run's "
    "own, resume with the --config flags it was started with"
  ]


def test_resuming_with_the_same_config_records_no_change(make_config, trained_workdir):
  workdir = trained_workdir("vgan", **TINY)
  helpers.train(_tiny(make_config), workdir)
  assert not os.path.exists(os.path.join(workdir, "config_history.log"))


def test_summaries_go_to_the_train_run_folder(trained_workdir):
  # TensorBoard names a run by its folder: tb/train, and tb/eval when there is an evaluation.
  assert os.listdir(os.path.join(trained_workdir("vgan", **TINY), "tb")) == ["train"]


def test_resuming_with_another_model_type_is_refused(make_config, trained_workdir):
  with pytest.raises(ValueError, match="holds a model of type 'vgan', not 'lstm'"):
    helpers.train(make_config("lstm", "tiny"), trained_workdir("vgan", **TINY))


def test_gradient_penalty_with_batchnorm_is_refused(make_config, tmp_path):
  with pytest.raises(ValueError, match="critic_norm"):
    helpers.train(_tiny(make_config, "tiny,poster", train__loss="wgan-gp"), tmp_path)


def test_a_workdir_another_run_is_training_is_refused(make_config, tmp_path):
  with files.exclusive_use(str(tmp_path), "relive train"):
    with pytest.raises(ValueError, match=f"{re.escape(str(tmp_path))} is in use by relive train"):
      helpers.train(_tiny(make_config), tmp_path)
  assert not os.path.exists(tmp_path / "checkpoints")


def test_the_evaluation_line_keeps_per_horizon_values_for_tensorboard():
  measured = {"mse_ratio_to_copy_last_frame": 0.95, "model/mse": 0.0123456}
  measured.update({f"model/mse/horizon_{h:02d}": 0.01 for h in range(1, 11)})
  assert loop.evaluation_line(25, measured) == (
    "step 25: mse_ratio_to_copy_last_frame=0.95  model/mse=0.01235  "
    "(+10 more in TensorBoard, eval/)"
  )
  assert loop.evaluation_line(5, {"frechet": 12.5}) == "step 5: frechet=12.5"
  nothing_to_score = {"frechet": 12.5, "identity_consistency": float("nan")}
  assert loop.evaluation_line(5, nothing_to_score) == "step 5: frechet=12.5  identity_consistency=-"


def test_the_progress_line_gives_the_compiling_windows_seconds_then_a_rate_and_time_left():
  clock = iter([100.0, 104.0, 106.0, 170.5])  # starts; step 1 after 4 s; step 11 after 2 more
  progress = loop.Progress(0, num_steps=201, clock=lambda: next(clock))
  progress.update(1)
  assert progress.line(1, {"loss": 1.0}).endswith("loss=1  4.0 s with compiling")
  progress.update(11)
  assert progress.line(11, {"loss": 1.0}).endswith("loss=1  5.00 steps/s  0m38s left")
  assert progress.done(201) == "done: steps 1 to 201 in 1m10s, compiling included"
