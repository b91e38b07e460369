"""The family registry: a fourth, toy model family joins every command through one registration."""

import json
import os
import pathlib

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from relive_tf import families
from relive_tf import files
from relive_tf.data import pipeline
from relive_tf.evaluation import evaluator
from relive_tf.gallery import build
from relive_tf.gallery import page as page_lib
from relive_tf.serving import publish
from relive_tf.training import family
from relive_tf.training import trainer as trainer_lib
from relive_tf.training import workdir as workdir_lib

import helpers

_FRAMES, _SIZE = 4, 16


def toy_config(num_steps=2):
  """A config of the shared keys only, for a model that copies its input through one 1x1x1 conv."""
  config = ml_collections.ConfigDict()
  config.model_type = "toy"
  config.seed = 0
  config.model = ml_collections.ConfigDict({"noise_dim": 0})
  config.data = ml_collections.ConfigDict(
    {"source": "synthetic", "path": "", "frames": _FRAMES, "size": _SIZE}
  )
  config.train = ml_collections.ConfigDict(
    {
      "num_steps": num_steps,
      "batch_size": 2,
      "learning_rate": 0.1,
      "log_every": 1,
      "summary_every": 2,
      "checkpoint_every": 1,
      "max_checkpoints": 2,
      "num_samples": 2,
      "eval_every": 0,
    }
  )
  return config.lock()


class ToyTrainer:
  """A Trainer: a 1x1x1 convolution that learns to reproduce its clip (L2)."""

  batches_per_step = 1

  def __init__(self, config, strategy, sample_batch):
    self.strategy = strategy
    self.global_batch_size = config.train.batch_size
    self.optimizers = {}
    with strategy.scope():
      self.copier = keras.Sequential([keras.layers.Conv3D(3, 1, name="copy")], name="copier")
      batch = (
        sample_batch
        if sample_batch is not None
        else trainer_lib.zero_batch(frames=_FRAMES, size=_SIZE, noise_dim=0)
      )
      self.copier(batch["video"])
      if sample_batch is not None:
        self.optimizers["optimizer"] = keras.optimizers.SGD(config.train.learning_rate)
        self.optimizers["optimizer"].build(self.copier.trainable_variables)
    self.samples = None if sample_batch is None else sample_batch["video"]

  @property
  def networks(self):
    return {"copier": self.copier}

  def replica_step(self, batch):
    with tf.GradientTape() as tape:
      errors = tf.reduce_mean(tf.square(self.copier(batch["video"]) - batch["video"]), [1, 2, 3, 4])
      loss = tf.nn.compute_average_loss(errors, global_batch_size=self.global_batch_size)
    variables = self.copier.trainable_variables
    self.optimizers["optimizer"].apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  @tf.function
  def train_step(self, iterator):
    loss = self.strategy.run(self.replica_step, args=(next(iterator),))
    return {"copy_mse": self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)}

  def sample_videos(self):
    return tf.concat([self.samples, self.copier(self.samples)], axis=3)


class ToyServable:
  """serving_default: video uint8 [batch, frames, size, size, 3] -> its copy, uint8."""

  def __init__(self, copier):
    self.copier = copier

  def copy(self, video):
    return {"copy": pipeline.to_uint8_video(self.copier(pipeline.to_float_video(video)))}

  def archive(self):
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
      "serving_default",
      self.copy,
      [tf.TensorSpec([None, _FRAMES, _SIZE, _SIZE, 3], tf.uint8, name="video")],
    )
    return archive

  def warmup_inputs(self):
    return {"serving_default": {"video": np.zeros([1, _FRAMES, _SIZE, _SIZE, 3], np.uint8)}}

  def reference_outputs(self, signature, inputs):
    del signature
    return {"copy": self.copy(tf.constant(inputs["video"]))["copy"].numpy()}


def toy_evaluate(trained, *, num_samples=4):
  """How far the copies are from held-out clips."""
  clips = np.stack(
    [
      clip
      for _, clip in pipeline.clips(
        source="synthetic", path="", split="test", seed=1, frames=_FRAMES, size=_SIZE
      )
      .take(num_samples)
      .as_numpy_iterator()
    ]
  )
  copies = trained.trainer.copier(pipeline.to_float_video(clips))
  report = {
    "step": trained.step,
    "copy_mse": float(tf.reduce_mean(tf.square(copies - pipeline.to_float_video(clips)))),
  }
  path = os.path.join(trained.workdir, f"evaluation_toy_step{trained.step}.json")
  files.write_json(path, report)
  return {**report, "path": path}


def toy_section(page, trained, num_videos, seed):
  del seed
  clips = (
    trained.trainer.samples
    if trained.trainer.samples is not None
    else tf.zeros([num_videos, _FRAMES, _SIZE, _SIZE, 3])
  )
  copies = pipeline.to_uint8_video(trained.trainer.copier(clips)).numpy()
  page.add(page_lib.grid([page.video("copy", copies[0], "the copier's copy")]))


TOY = family.Family(
  name="toy",
  title="toy copier",
  config="tests/test_families.py",
  build_trainer=ToyTrainer,
  servable=lambda trained: ToyServable(trained.trainer.copier),
  evaluation=evaluator.Evaluation(
    run=toy_evaluate, table=lambda report: f"copy MSE {report['copy_mse']:.4g}"
  ),
  gallery_section=toy_section,
)


@pytest.fixture(name="registered")
def registered_fixture(monkeypatch):
  monkeypatch.setitem(families.FAMILIES, "toy", TOY)  # the one registration


def test_a_registered_toy_family_trains_restores_evaluates_exports_and_shows(registered, tmp_path):
  del registered
  trainer = helpers.train(toy_config(), tmp_path / "run")
  assert tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints")).endswith("ckpt-2")
  assert "train/copy_mse" in helpers.summary_values(tmp_path / "run")

  trained = helpers.restore(tmp_path / "run")
  assert (trained.family.name, trained.step, trained.trainer.optimizers) == ("toy", 2, {})
  np.testing.assert_array_equal(
    trained.trainer.copier.get_layer("copy").kernel.numpy(),
    trainer.copier.get_layer("copy").kernel.numpy(),
  )

  report, table = evaluator.evaluate(str(tmp_path / "run"), families.FAMILIES.values())
  assert table.startswith("copy MSE") and os.path.isfile(report["path"])

  version = publish.export(
    str(tmp_path / "run"), str(tmp_path / "export" / "toy"), families.FAMILIES.values(), check=True
  )
  assert publish.model_versions(os.path.dirname(version)) == [1]

  index = build.build_gallery(
    [str(tmp_path / "run")], str(tmp_path / "site"), families.FAMILIES.values(), num_videos=1
  )
  section = pathlib.Path(index).read_text()
  assert '<span class="badge">toy</span>' in section and "the copier&#39;s copy" in section


def test_a_family_that_is_not_registered_is_named_with_the_known_ones(tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "config.json").write_text(json.dumps(toy_config().to_dict()))
  with pytest.raises(
    ValueError,
    match=r"holds a model of type 'toy'; export takes \['cvgan', 'lstm', "
    r"'vgan'\]",
  ):
    publish.export(str(workdir), str(tmp_path / "export" / "toy"), families.FAMILIES.values())
  with pytest.raises(ValueError, match=r"unknown model_type 'toy'; known: \['cvgan', 'lstm'"):
    families.get("toy")


# Keys the shared code (loop, inputs, workdir) reads in every config.
SHARED_KEYS = {
  "model_type",
  "seed",
  "model.noise_dim",
  "data.source",
  "data.path",
  "data.frames",
  "data.size",
  "train.num_steps",
  "train.batch_size",
  "train.log_every",
  "train.summary_every",
  "train.checkpoint_every",
  "train.max_checkpoints",
  "train.num_samples",
  "train.eval_every",
}


def _keys(config, prefix=""):
  return {
    key
    for name, value in config.items()
    for key in (_keys(value, f"{prefix}{name}.") if hasattr(value, "items") else {prefix + name})
  }


@pytest.mark.parametrize("name", sorted(families.FAMILIES))
@pytest.mark.parametrize("variant", ["default", "tiny"])
def test_every_config_declares_the_shared_keys_and_names_its_family(name, variant):
  config = helpers.load_config(name, variant)
  assert _keys(config) >= SHARED_KEYS
  assert config.model_type == name and families.FAMILIES[name].config == f"configs/{name}.py"
  assert _keys(toy_config()) >= SHARED_KEYS


@pytest.mark.parametrize("name", sorted(families.FAMILIES))
def test_a_config_json_from_before_the_added_keys_loads_with_their_old_values(name, tmp_path):
  config = json.loads(helpers.load_config(name).to_json_best_effort())
  added = families.FAMILIES[name].added_keys
  for key in added:
    section, leaf = key.split(".")
    del config[section][leaf]
  (tmp_path / "config.json").write_text(json.dumps(config))
  loaded, loaded_family = workdir_lib.load_config(str(tmp_path), families.FAMILIES[name])
  assert loaded_family.name == name
  for key, value in added.items():
    section, leaf = key.split(".")
    assert loaded[section][leaf] == value
