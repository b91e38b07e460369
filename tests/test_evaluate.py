"""`relive evaluate` for the GANs: the distances, the report, the CLI's dispatch, and training."""

import json
import os

import pytest

from relive_tf import families
from relive_tf.evaluation import evaluator
from relive_tf.evaluation import gan
from relive_tf.gallery import events
from relive_tf.metrics import feature_network
from relive_tf.metrics import features
from relive_tf.training import inputs

import helpers

_FRAMES, _SIZE = 16, 32
TINY = dict(
  data__frames=_FRAMES,
  data__size=_SIZE,
  train__num_steps=1,
  train__batch_size=2,
  train__critic_steps=1,
  train__num_samples=2,
)


@pytest.fixture(name="features_dir", scope="module")
def features_dir_fixture(tmp_path_factory):
  """A tiny built-in feature network for 16-frame 32x32 clips."""
  path = str(tmp_path_factory.mktemp("features"))
  feature_network.train_feature_network(
    path,
    frames=_FRAMES,
    size=_SIZE,
    width=4,
    embedding_dim=16,
    num_steps=20,
    batch_size=4,
    eval_clips=4,
  )
  return path


@pytest.fixture(name="vgan_workdir", scope="module")
def vgan_workdir_fixture(trained_workdir):
  """A tiny video WGAN trained for one step on 16-frame 32x32 clips."""
  return trained_workdir("vgan", **TINY)


def _evaluate(workdir, **options):
  return evaluator.evaluate(workdir, families.FAMILIES.values(), **options)


def test_evaluate_reports_generated_clips_above_the_real_floor(vgan_workdir, features_dir):
  report, table = _evaluate(
    vgan_workdir, num_samples=12, batch_size=4, feature_network=features_dir
  )
  with open(report["path"]) as f:
    saved = json.load(f)
  assert report["path"] == os.path.join(vgan_workdir, "evaluation_builtin_step1.json")
  assert {key: saved[key] for key in ("model_type", "step", "num_samples", "frames", "size")} == {
    "model_type": "vgan",
    "step": 1,
    "num_samples": 12,
    "frames": _FRAMES,
    "size": _SIZE,
  }
  assert saved["data"] == {"source": "synthetic", "seed": 1}
  distances = saved["distances"]
  assert distances["generated"]["frechet"] > distances["real_vs_real"]["frechet"]
  assert distances["untrained_generator"]["frechet"] > distances["real_vs_real"]["frechet"]
  for label in ("real vs real (floor)", "generated", "untrained generator"):
    assert label in table


def test_the_distance_evaluator_measures_the_same_floor_each_run(vgan_workdir, features_dir):
  trained = helpers.restore(vgan_workdir)
  batches = inputs.held_out_batches(trained.config, batch_size=4)
  distances = gan.DistanceEvaluator(batches, features.BuiltinFeatures(features_dir), 8)
  first, second = dict(distances.run(trained.trainer)), dict(distances.run(trained.trainer))
  assert set(first) == {"frechet", "kernel", "frechet_floor", "kernel_floor"}
  assert first == pytest.approx(second)


def test_evaluate_rejects_a_feature_network_of_another_clip_shape(vgan_workdir, tmp_path):
  feature_network.train_feature_network(
    str(tmp_path),
    frames=8,
    size=_SIZE,
    width=4,
    embedding_dim=8,
    num_steps=1,
    batch_size=2,
    eval_clips=2,
  )
  with pytest.raises(ValueError, match="was trained on clips"):
    _evaluate(
      vgan_workdir,
      num_samples=4,
      batch_size=2,
      feature_network=str(tmp_path),
      report=str(tmp_path / "r.json"),
    )


def test_evaluate_rejects_a_missing_shards_folder(vgan_workdir, tmp_path):
  with pytest.raises(ValueError, match="neither 'synthetic' nor a folder of prepared shards"):
    _evaluate(vgan_workdir, data=str(tmp_path / "missing"))


def test_cli_evaluate_names_an_unknown_model_type_without_a_traceback(tmp_path):
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "diffusion"}))
  result = helpers.run_cli("evaluate", f"--workdir={tmp_path}")
  assert result.returncode == 1
  assert "relive evaluate: error:" in result.stderr
  assert "'diffusion' model" in result.stderr and "['cvgan', 'lstm', 'vgan']" in result.stderr
  assert "Traceback" not in result.stderr


def test_cli_evaluate_rejects_gan_flags_for_a_predictor_workdir(tmp_path):
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "lstm"}))
  result = helpers.run_cli("evaluate", f"--workdir={tmp_path}", "--i3d=/models/i3d")
  assert result.returncode == 1
  assert "i3d does not apply to the next-frame predictor workdir" in result.stderr


def test_training_logs_the_distance_every_eval_every_steps(make_config, features_dir, tmp_path):
  config = make_config(
    "vgan",
    "tiny",
    **{
      **TINY,
      "train__num_steps": 2,
      "train__eval_every": 1,
      "train__eval_samples": 4,
      "train__feature_network": features_dir,
    },
  )
  helpers.train(config, tmp_path)
  steps = {
    tag: [step for step, _ in values]
    for tag, values in helpers.summary_values(tmp_path).items()
    if tag.startswith("eval/")
  }
  assert steps == {
    f"eval/{name}": [1, 2] for name in ("frechet", "kernel", "frechet_floor", "kernel_floor")
  }
  # A TensorBoard run of their own, so that the runs of several workdirs compare side by side.
  assert sorted(os.listdir(tmp_path / "tb")) == ["eval", "train"]
  assert set(events.read_scalars(str(tmp_path / "tb" / "eval"))) == set(steps)


def test_eval_every_without_a_feature_network_is_refused(make_config, tmp_path):
  with pytest.raises(ValueError, match="train.feature_network"):
    helpers.train(make_config("vgan", "tiny", train__eval_every=10), tmp_path)


def test_eval_every_for_a_family_without_training_evaluators_is_refused(make_config, tmp_path):
  with pytest.raises(ValueError, match="next-frame predictor has no evaluation during training"):
    helpers.train(make_config("lstm", "tiny", train__eval_every=10), tmp_path)
