"""train.precision and train.jit_compile: mixed precision trains, XLA takes each replica step."""

import numpy as np
import pytest
import tensorflow as tf

from relive_tf import families
from relive_tf.training import inputs
from relive_tf.training import loop
from relive_tf.training import trainer as trainer_lib

import helpers

# The tiny configs at 16 (lstm: 6) frames of 32x32 and batch 2: the same layers, quick to train.
SMALL = {
  "vgan": dict(data__frames=16, data__size=32, train__critic_steps=1),
  "cvgan": dict(data__frames=16, data__size=32, train__critic_steps=1),
  "lstm": dict(
    data__frames=6,
    data__size=32,
    train__context_frames=3,
    model__encoder_widths=(8, 16),
    model__decoder_widths=(16, 8),
  ),
}


def _small(make_config, model, **overrides):
  return make_config(
    model, "tiny", train__batch_size=2, train__num_samples=2, **SMALL[model], **overrides
  )


def _build(config):
  trainer = trainer_lib.build(
    families.get(config.model_type), config, helpers.one_device(), inputs.sample_batch(config)
  )
  return trainer, iter(loop.distributed_batches(config, helpers.one_device(), start=0))


@pytest.mark.parametrize(
  "model, precision",
  [
    ("vgan", "mixed_bfloat16"),
    ("vgan", "mixed_float16"),
    ("cvgan", "mixed_bfloat16"),
    ("lstm", "mixed_bfloat16"),
    ("lstm", "mixed_float16"),
  ],
)
def test_mixed_precision_trains_a_step_with_float32_weights_and_losses(
  make_config, model, precision
):
  trainer, iterator = _build(_small(make_config, model, train__precision=precision))
  metrics = trainer.train_step(iterator)
  for name, value in metrics.items():
    assert value.dtype == tf.float32, name
    assert np.isfinite(float(value)), name
  for network in trainer.networks.values():
    assert network.dtype_policy.name == precision
    assert {variable.dtype for variable in network.weights} == {"float32"}
  assert trainer.sample_videos().dtype == tf.float32
  scaling = precision == "mixed_float16"
  for optimizer in trainer.optimizers.values():
    assert isinstance(optimizer, tf.keras.optimizers.LossScaleOptimizer) == scaling


@pytest.mark.parametrize("critic_norm", ["batch", "spectral"])
def test_mixed_bfloat16_trains_the_quality_recipe(make_config, critic_norm):
  # Logistic loss with R1, Adam, resize upsampling, a frame critic and an EMA generator.
  config = _small(
    make_config,
    "vgan",
    train__precision="mixed_bfloat16",
    train__loss="logistic",
    train__r1_weight=1.0,
    train__optimizer="adam",
    train__ema_decay=0.99,
    model__upsample="resize",
    model__frame_critic_widths=(8, 16),
    model__critic_norm=critic_norm,
  )
  trainer, iterator = _build(config)
  metrics = trainer.train_step(iterator)
  assert {"critic_loss", "generator_loss", "r1_penalty"} <= set(metrics)
  for name, value in metrics.items():
    assert value.dtype == tf.float32 and np.isfinite(float(value)), name
  assert "ema_generator" in trainer.networks
  for network in trainer.networks.values():
    assert network.dtype_policy.name == "mixed_bfloat16"
    assert {variable.dtype for variable in network.weights} == {"float32"}


def test_mixed_bfloat16_updates_every_kernel(make_config):
  trainer, iterator = _build(_small(make_config, "vgan", train__precision="mixed_bfloat16"))
  before = {v.path: v.numpy() for v in trainer.generator.trainable_variables}
  trainer.train_step(iterator)
  for variable in trainer.generator.trainable_variables:
    if variable.path.endswith("kernel"):
      assert not np.array_equal(before[variable.path], variable.numpy()), variable.path


def test_networks_built_for_inference_stay_float32(make_config):
  config = _small(make_config, "vgan", train__precision="mixed_bfloat16")
  trainer = trainer_lib.build(families.get("vgan"), config, helpers.one_device())
  assert {network.dtype_policy.name for network in trainer.networks.values()} == {"float32"}


def test_an_unknown_precision_is_refused(make_config):
  config = _small(make_config, "vgan", train__precision="float8")
  with pytest.raises(ValueError, match=r"train.precision is 'float8'; use one of"):
    _build(config)


def test_jit_compile_hands_each_replica_step_whole_to_xla(make_config):
  # XLA compiles the 3D convolutions' gradients for the CPU slowly, so
  # this checks what XLA is given: every replica step is marked for XLA and lowers to HLO.
  config = _small(make_config, "vgan", train__jit_compile=True)
  batch = inputs.sample_batch(config)
  trainer = trainer_lib.build(families.get("vgan"), config, helpers.one_device(), batch)
  assert trainer.replica_steps == ("critic_step", "critic_and_generator_step", "generator_step")
  # XLA cannot differentiate lazy R1's condition (both branches), so it runs at every update.
  assert config.train.r1_every > 1 and trainer.r1_every == 1
  for name in trainer.replica_steps:
    step = getattr(trainer, name)
    assert step.get_concrete_function(batch).function_def.attr["_XlaMustCompile"].b, name
    assert step.experimental_get_compiler_ir(batch)(stage="hlo").startswith("HloModule"), name


def test_without_jit_compile_the_replica_steps_stay_methods(make_config):
  trainer, _ = _build(_small(make_config, "vgan"))
  assert not hasattr(trainer.critic_step, "experimental_get_compiler_ir")


def test_jit_compile_trains_a_predictor_step_with_finite_losses(make_config):
  # The predictor's 2D convolutions and LSTM compile for the CPU quickly enough (the video
  # WGANs' 3D ones take longer, so their XLA test above stops at HLO).
  trainer, iterator = _build(_small(make_config, "lstm", train__jit_compile=True))
  assert trainer.train_replica_step.experimental_get_compiler_ir  # compiled by XLA
  metrics = trainer.train_step(iterator)
  assert metrics and all(np.isfinite(float(value)) for value in metrics.values()), metrics
