"""Tests of `relive evaluate` for the GANs: relive_tf.evaluate_gan and the CLI's dispatch."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from configs import vgan as vgan_config
from relive_tf import evaluate_gan
from relive_tf.errors import UserError
from relive_tf.metrics import features
from relive_tf.training import loop

_FRAMES, _SIZE = 16, 32


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
  """A tiny video WGAN trained for one step, and a tiny built-in feature network beside it."""
  workdir = str(tmp_path_factory.mktemp("vgan"))
  config = vgan_config.get_config("tiny").unlock()
  config.data.frames, config.data.size = _FRAMES, _SIZE
  config.train.num_steps, config.train.batch_size, config.train.critic_steps = 1, 2, 1
  config.train.num_samples = 2
  loop.train_and_evaluate(config.lock(), workdir)
  features.train_feature_network(os.path.join(workdir, "features"), frames=_FRAMES, size=_SIZE,
                                 width=4, embedding_dim=16, num_steps=20, batch_size=4, eval_clips=4)
  return workdir


def test_evaluate_gan_reports_generated_clips_above_the_real_floor(trained_workdir):
  report = evaluate_gan.evaluate_gan(trained_workdir, num_samples=12, batch_size=4,
                                     feature_network=os.path.join(trained_workdir, "features"))
  with open(report["path"]) as f:
    saved = json.load(f)
  assert report["path"] == os.path.join(trained_workdir, "evaluation_builtin_step1.json")
  assert {key: saved[key] for key in ("model_type", "step", "num_samples", "frames", "size")} == {
      "model_type": "vgan", "step": 1, "num_samples": 12, "frames": _FRAMES, "size": _SIZE}
  assert saved["data"] == {"source": "synthetic", "seed": 1}
  distances = saved["distances"]
  assert distances["generated"]["frechet"] > distances["real_vs_real"]["frechet"]
  assert distances["untrained_generator"]["frechet"] > distances["real_vs_real"]["frechet"]
  table = evaluate_gan.format_table(report)
  for label in ("real vs real (floor)", "generated", "untrained generator"):
    assert label in table


def test_evaluate_gan_rejects_a_feature_network_of_another_clip_shape(trained_workdir, tmp_path):
  features.train_feature_network(str(tmp_path), frames=8, size=_SIZE, width=4, embedding_dim=8,
                                 num_steps=1, batch_size=2, eval_clips=2)
  with pytest.raises(UserError, match="was trained on clips"):
    evaluate_gan.evaluate_gan(trained_workdir, num_samples=4, batch_size=2,
                              feature_network=str(tmp_path), report_path=str(tmp_path / "r.json"))


def test_evaluate_gan_rejects_a_missing_shards_folder(trained_workdir, tmp_path):
  with pytest.raises(UserError, match="neither 'synthetic' nor a folder of prepared shards"):
    evaluate_gan.evaluate_gan(trained_workdir, data=str(tmp_path / "missing"))


def _relive_evaluate(*flags):
  return subprocess.run(
      [sys.executable, "-c", "import sys; from relive_tf import cli; cli.run(sys.argv)", "evaluate",
       *flags], capture_output=True, text=True, check=False)


def test_cli_evaluate_names_an_unknown_model_type_without_a_traceback(tmp_path):
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "diffusion"}))
  result = _relive_evaluate(f"--workdir={tmp_path}")
  assert result.returncode == 1
  assert "relive evaluate: error:" in result.stderr
  assert "'diffusion' model" in result.stderr and "['cvgan', 'lstm', 'vgan']" in result.stderr
  assert "Traceback" not in result.stderr


def test_cli_evaluate_rejects_gan_flags_for_a_predictor_workdir(tmp_path):
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "lstm"}))
  result = _relive_evaluate(f"--workdir={tmp_path}", "--i3d=/models/i3d")
  assert result.returncode == 1
  assert "--i3d does not apply to the predictor workdir" in result.stderr


def test_training_logs_the_distance_every_eval_every_steps(trained_workdir, tmp_path):
  config = vgan_config.get_config("tiny").unlock()
  config.data.frames, config.data.size = _FRAMES, _SIZE
  config.train.num_steps, config.train.batch_size, config.train.critic_steps = 2, 2, 1
  config.train.num_samples, config.train.eval_every, config.train.eval_samples = 2, 1, 4
  config.train.feature_network = os.path.join(trained_workdir, "features")
  loop.train_and_evaluate(config.lock(), str(tmp_path))
  steps = {}
  for path in tf.io.gfile.glob(os.path.join(tmp_path, "tb", "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag.startswith("eval/"):
          steps.setdefault(value.tag, []).append(event.step)
  assert steps == {tag: [1, 2] for tag in ("eval/frechet", "eval/kernel", "eval/frechet_floor")}


def test_eval_every_without_a_feature_network_is_refused(tmp_path):
  config = vgan_config.get_config("tiny").unlock()
  config.train.eval_every = 10
  with pytest.raises(UserError, match="train.feature_network"):
    loop.train_and_evaluate(config.lock(), str(tmp_path))
