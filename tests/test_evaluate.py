"""`relive evaluate` for the GANs: the distances, the sample scores, the report, the CLI's dispatch,
and training."""

import dataclasses
import json
import logging
import os
import shutil
import subprocess

import numpy as np
import pytest

from relive_tf import families
from relive_tf.data import prepare
from relive_tf.evaluation import evaluator
from relive_tf.evaluation import gan
from relive_tf.evaluation import scores
from relive_tf.gallery import events
from relive_tf.gallery import sections
from relive_tf.metrics import digit_recognizer
from relive_tf.metrics import feature_network
from relive_tf.metrics import features
from relive_tf.metrics import sample_scores
from relive_tf.training import checkpoints
from relive_tf.training import inputs
from relive_tf.training import loop

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


def test_evaluate_reports_generated_clips_above_the_real_floor(
  vgan_workdir, features_dir, small_digit_recognizer, caplog
):
  with caplog.at_level(logging.WARNING, logger="absl"):
    report, table = _evaluate(
      vgan_workdir,
      num_samples=12,
      batch_size=4,
      feature_network=features_dir,
      digit_recognizer=small_digit_recognizer,
    )
  # A user followed "lower num_samples" to 2 and read distances below the real floor unwarned.
  assert "12 clips a set: distances over so few clips mostly measure" in caplog.text
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
  for label in ("real (floor/ceiling)", "generated", "untrained generator", "digit score"):
    assert label in table
  assert "by_distance_from_photo" not in saved


def test_evaluate_measures_a_fresh_workdir_with_the_shipped_networks(trained_workdir):
  # The GAN configs' own clip shape (32 frames of 64x64), trained one step: nothing is trained at
  # evaluate time, and the shipped networks' figures set the ceiling and the floor.
  workdir = trained_workdir(
    "vgan", train__num_steps=1, train__batch_size=2, train__critic_steps=1, train__num_samples=2
  )
  report, table = _evaluate(workdir, num_samples=4, batch_size=4)
  # The shipped network by its place in the package, the same on every machine.
  assert "built-in 3D CNN relive_tf/assets/feature_network " in report["features"]["description"]
  recognizer = report["digit_recognizer"]
  assert recognizer.startswith("digit recogniser relive_tf/assets/digit_recognizer ")
  assert "feature_network" not in os.listdir(workdir)
  rows = report["sample_scores"]
  assert rows["real"]["digit_score"] >= 0.9 and rows["real"]["identity_consistency"] >= 0.7
  assert rows["untrained_generator"]["digit_score"] <= 0.2
  distances = report["distances"]
  assert distances["untrained_generator"]["frechet"] > distances["real_vs_real"]["frechet"]
  assert "digit score" in table


def test_evaluate_reports_the_sample_scores_of_real_generated_and_untrained_clips(
  vgan_workdir, features_dir, small_digit_recognizer
):
  report, _ = _evaluate(
    vgan_workdir,
    num_samples=8,
    batch_size=4,
    feature_network=features_dir,
    digit_recognizer=small_digit_recognizer,
    report=os.path.join(vgan_workdir, "scores.json"),
  )
  rows = report["sample_scores"]
  assert set(rows) == {"real", "generated", "untrained_generator"}
  for row in rows.values():
    assert set(row) == {"digit_score", "identity_consistency", "motion"}
    assert 0 <= row["digit_score"] <= 1
  # Real digits move a few grey levels a frame; a generator one step from its start barely does.
  assert rows["real"]["motion"] > 2 * rows["untrained_generator"]["motion"]
  assert small_digit_recognizer in report["digit_recognizer"]


def test_evaluate_of_a_conditional_wgan_scores_frames_at_each_distance_from_the_photo(
  trained_workdir, features_dir, small_digit_recognizer, tmp_path
):
  report, table = _evaluate(
    trained_workdir("cvgan", **TINY),
    num_samples=4,
    batch_size=2,
    feature_network=features_dir,
    digit_recognizer=small_digit_recognizer,
    report=str(tmp_path / "report.json"),
  )
  by_distance = report["by_distance_from_photo"]
  assert by_distance["condition_index"] == _FRAMES // 2
  assert by_distance["distance"] == list(range(_FRAMES // 2 + 1))
  for row in ("real", "generated"):
    assert len(by_distance[row]["digit_score"]) == _FRAMES // 2 + 1
    assert by_distance[row]["identity_consistency"][0] is None
    assert by_distance[row]["motion"][0] is None
    assert all(motion >= 0 for motion in by_distance[row]["motion"][1:])
  assert "frames at each distance from the photo (frame 8)" in table
  far = report["far_from_photo"]
  assert far["distance"] == gan.FAR and set(far) == {"distance", "real", "generated"}
  assert far["real"]["motion"] > 0


def test_scores_by_distance_take_frames_on_both_sides_of_the_photo():
  # Five frames, the photo at 2: a 3 in frames 1 to 3, nothing at 0; a 5 at 4.
  probabilities = np.zeros([1, 5, 10], np.float32)
  probabilities[0, 1:4, 3] = 1.0
  probabilities[0, 4, 5] = 1.0
  videos = np.zeros([1, 5, 2, 2, 3], np.uint8)
  videos[0, :, 0, 0, 0] = [0, 12, 12, 36, 72]  # mean changes of 1, 0, 2 and 3 grey levels
  frame_scores = sample_scores.FrameScores.of(probabilities, videos)
  by_distance = gan.scores_by_distance(frame_scores, condition_index=2)
  assert by_distance["digit_score"] == [1.0, 1.0, 0.5]
  # Distance 1: frames 1 and 3 show the photo's 3; distance 2: frame 0 shows none, frame 4 a 5.
  assert by_distance["identity_consistency"] == [None, 1.0, 0.0]
  # Distance 1 takes the steps 2 -> 1 and 2 -> 3, distance 2 the steps 1 -> 0 and 3 -> 4.
  assert by_distance["motion"] == [None, 1.0, 2.0]


def test_scores_far_from_photo_take_the_frames_at_least_that_far_on_both_sides():
  # Seven frames, the photo at 3: a 3 in frames 0 to 5, none at 6; distance 2 takes 0, 1, 5, 6.
  probabilities = np.zeros([1, 7, 10], np.float32)
  probabilities[0, :6, 3] = 1.0
  videos = np.zeros([1, 7, 2, 2, 3], np.uint8)
  videos[0, :, 0, 0, 0] = [0, 12, 24, 24, 24, 60, 108]  # mean changes 1, 1, 0, 0, 3 and 4
  frame_scores = sample_scores.FrameScores.of(probabilities, videos)
  far = gan.scores_far_from_photo(frame_scores, condition_index=3, distance=2)
  assert far["digit_score"] == 0.75
  assert far["identity_consistency"] == 0.75  # frame 6 lost the photo's 3
  # The steps 1 -> 0, 2 -> 1, 4 -> 5 and 5 -> 6.
  assert far["motion"] == pytest.approx((1 + 1 + 3 + 4) / 4)
  with pytest.raises(ValueError, match="no frame of 7 is 4 or more from the photo at frame 3"):
    gan.scores_far_from_photo(frame_scores, condition_index=3, distance=4)


def test_the_gan_evaluator_measures_the_same_floor_each_run_and_the_ceiling_once(
  vgan_workdir, features_dir, small_digit_recognizer
):
  trained = helpers.restore(vgan_workdir)
  batches = inputs.held_out_batches(trained.config, batch_size=4)
  measure = gan.GANEvaluator(
    batches,
    features.BuiltinFeatures(features_dir),
    8,
    digit_recognizer.DigitRecognizer(small_digit_recognizer),
  )
  first, second = dict(measure.run(trained.trainer)), dict(measure.run(trained.trainer))
  distances = {"frechet", "kernel", "frechet_floor", "kernel_floor"}
  sample = {"digit_score", "identity_consistency", "motion"}
  assert set(first) == distances | sample | {f"real_{name}" for name in sample}
  assert set(second) == distances | sample
  assert {name: first[name] for name in second} == pytest.approx(second, nan_ok=True)


def test_the_gan_evaluator_of_a_conditional_wgan_scores_the_frames_far_from_the_photo(
  trained_workdir, features_dir, small_digit_recognizer
):
  trained = helpers.restore(trained_workdir("cvgan", **TINY))
  measure = gan.GANEvaluator(
    inputs.held_out_batches(trained.config, batch_size=2),
    features.BuiltinFeatures(features_dir),
    4,
    digit_recognizer.DigitRecognizer(small_digit_recognizer),
  )
  first, second = dict(measure.run(trained.trainer)), dict(measure.run(trained.trainer))
  far = {f"far_from_photo/{name}" for name in ("digit_score", "identity_consistency", "motion")}
  assert far <= set(second) and {f"real_{name}" for name in far} <= set(first)
  assert not {f"real_{name}" for name in far} & set(second)
  assert first["real_far_from_photo/motion"] > 0


def test_sample_scores_of_clips_other_than_the_built_in_digits_are_not_measured(
  make_config, tmp_path
):
  config = make_config("vgan", "tiny")
  assert scores.digit_recognizer(config, data=str(tmp_path)) == (None, scores.BUILT_IN_ONLY)
  recognizer, why = scores.digit_recognizer(make_config("vgan", "tiny", data__size=32))
  assert recognizer is None and "reads 64x64 frames, these are 32x32" in why


def _unscored_report(frechet, kernel):
  """A report of `evaluate` with these distances on every row and no sample scores."""
  distances = {"frechet": frechet, "kernel": kernel}
  return {
    "workdir": "w",
    "model_type": "vgan",
    "step": 3,
    "num_samples": 4,
    "frames": 32,
    "size": 64,
    "features": {"description": "features"},
    "distances": {row: distances for row, _, _ in gan.ROWS},
    "sample_scores": {"not_measured": scores.BUILT_IN_ONLY},
  }


def test_the_table_says_why_sample_scores_are_not_measured():
  table = gan.format_table(_unscored_report(1.0, 0.1))
  assert f"sample scores {scores.BUILT_IN_ONLY}" in table


def test_the_table_keeps_a_wide_distance_apart_from_the_next():
  table = gan.format_table(_unscored_report(-7.276e-12, -1.234e-12))
  rows = table.splitlines()[2 : 2 + len(gan.ROWS)]
  assert all(row.split()[-2:] == ["-7.276e-12", "-1.234e-12"] for row in rows), rows


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


@pytest.fixture(name="held_out_shards", scope="module")
def held_out_shards_fixture(tmp_path_factory):
  """A prepared folder of 16-frame 32x32 clips whose test split holds 4 clips of one video."""
  root = tmp_path_factory.mktemp("held_out")
  os.makedirs(root / "videos")
  for number in range(2):
    helpers.write_avi(
      root / "videos" / f"{number}.avi", helpers.smooth_video(64, 32, 40, seed=number)
    )
  out = root / "shards"
  prepare.prepare(
    layout="folder",
    source=str(root / "videos"),
    out=str(out),
    frames=_FRAMES,
    size=_SIZE,
    clips_per_video=4,
    test_fraction=0.5,
    workers=1,
  )
  return str(out)


def test_held_out_shards_are_read_once_in_stored_order(vgan_workdir, held_out_shards):
  trained = checkpoints.restore_trained(vgan_workdir, families.FAMILIES.values(), "reading")
  stored = helpers.prepared_records(held_out_shards, "test", _FRAMES, _SIZE)
  batches = inputs.held_out_batches(trained.config, batch_size=3, data=held_out_shards)
  videos = np.concatenate([batch["video"].numpy() for batch in batches])
  assert len(stored) == 4 and len(videos) == 4  # an endless pass repeated them
  expected = np.stack([record["clip"] for record in stored]).astype(np.float32) / 127.5 - 1
  np.testing.assert_allclose(videos, expected, atol=1e-6)


def test_the_gallery_shows_each_clip_of_a_test_split_once_in_stored_order(
  vgan_workdir, held_out_shards
):
  # It read the split endlessly and shuffled, so 6 clips repeated some of its 4.
  config = checkpoints.restore_trained(vgan_workdir, families.FAMILIES.values(), "reading").config
  with config.unlocked():
    config.data.source, config.data.path = "shards", held_out_shards
  stored = helpers.prepared_records(held_out_shards, "test", _FRAMES, _SIZE)
  clips = sections.held_out_clips(config, 6)
  np.testing.assert_array_equal(clips, np.stack([record["clip"] for record in stored]))


def test_evaluate_refuses_more_clips_than_the_test_split_holds(
  vgan_workdir, held_out_shards, features_dir
):
  with pytest.raises(ValueError, match=r"4 clip\(s\), fewer than the 2 x 3 .*lower num_samples to"):
    _evaluate(vgan_workdir, data=held_out_shards, num_samples=3, feature_network=features_dir)


def test_a_test_split_too_small_for_any_two_sets_says_how_many_clips_it_needs(
  vgan_workdir, held_out_shards, features_dir, monkeypatch
):
  monkeypatch.setattr(gan.shards, "split_clips", lambda path, split: 3)  # the fixture's holds 4
  with pytest.raises(ValueError, match=r"holds 3 clip\(s\), .*; prepare at least 4 clips for"):
    _evaluate(vgan_workdir, data=held_out_shards, num_samples=2, feature_network=features_dir)


def test_a_split_of_exactly_two_sets_is_enough_whatever_the_batch(
  vgan_workdir, held_out_shards, features_dir, tmp_path
):
  # 4 clips, sets of 2, batches of 3: the clip past the first set starts the second.
  report = _evaluate(
    vgan_workdir,
    data=held_out_shards,
    num_samples=2,
    batch_size=3,
    feature_network=features_dir,
    report=str(tmp_path / "r.json"),
  )[0]
  assert report["num_samples"] == 2 and report["distances"]["real_vs_real"]["frechet"] > 0


def test_a_report_path_in_a_new_folder_is_written_there(vgan_workdir, features_dir, tmp_path):
  path = tmp_path / "new" / "folder" / "report.json"
  report = _evaluate(
    vgan_workdir, num_samples=2, batch_size=2, feature_network=features_dir, report=str(path)
  )[0]
  assert report["path"] == str(path) and json.loads(path.read_text())["num_samples"] == 2


def test_a_report_path_that_is_a_folder_is_refused_before_anything_is_measured(
  vgan_workdir, features_dir, tmp_path, monkeypatch
):
  measured = []
  monkeypatch.setattr(gan, "_feature_extractor", lambda *args: measured.append(args))
  for folder in (str(tmp_path), f"{tmp_path}/new/"):  # one there, and one to be made
    with pytest.raises(ValueError, match=rf"report {folder} names a folder; give the path of the"):
      _evaluate(
        vgan_workdir, num_samples=2, batch_size=2, feature_network=features_dir, report=folder
      )
  assert not measured


def test_a_report_path_over_another_file_is_refused_and_the_file_kept(
  vgan_workdir, features_dir, tmp_path, monkeypatch
):
  # `--report=WORKDIR/config.json` replaced the workdir's config, and every command then failed.
  measured = []
  monkeypatch.setattr(gan, "_feature_extractor", lambda *args: measured.append(args))
  photo = tmp_path / "photo.jpg"
  photo.write_bytes(b"\xff\xd8\xff\xe0 not json")
  config = os.path.join(vgan_workdir, "config.json")
  for path in (config, str(photo)):
    with open(path, "rb") as file:
      before = file.read()
    with pytest.raises(ValueError, match=r"is a file that is not an evaluation report, .*new path"):
      _evaluate(
        vgan_workdir, num_samples=2, batch_size=2, feature_network=features_dir, report=path
      )
    with open(path, "rb") as file:
      assert file.read() == before
  assert not measured


def test_an_earlier_report_or_a_new_path_may_be_written(tmp_path):
  earlier = tmp_path / "report.json"
  earlier.write_text(json.dumps({"workdir": "runs/x", "model_type": "vgan", "step": 3}))
  workdir = str(tmp_path)
  scores.make_report_folder(str(earlier), workdir)  # a `relive evaluate` report: it is replaced
  scores.make_report_folder(str(tmp_path / "new.json"), workdir)
  (tmp_path / "empty.json").write_bytes(b"")  # mktemp's
  scores.make_report_folder(str(tmp_path / "empty.json"), workdir)
  earlier.write_text(json.dumps({"model_type": "vgan", "seed": 0}))  # JSON, but not a report
  with pytest.raises(ValueError, match="not an evaluation report"):
    scores.make_report_folder(str(earlier), workdir)


@pytest.fixture(name="read_only_workdir")
def read_only_workdir_fixture(vgan_workdir, tmp_path):
  """A copy of vgan_workdir that even root cannot write in (the immutable attribute, as on a
  read-only mount)."""
  workdir = shutil.copytree(vgan_workdir, tmp_path / "read_only")
  subprocess.run(["chattr", "+i", str(workdir)], check=True)
  yield str(workdir)
  subprocess.run(["chattr", "-i", str(workdir)], check=True)


def test_a_read_only_workdir_is_refused_before_anything_is_measured_unless_report_is_given(
  read_only_workdir, features_dir, tmp_path, monkeypatch
):
  # The report was written after minutes of measuring, and the error did not name --report.
  extractor, measured = gan._feature_extractor, []
  monkeypatch.setattr(gan, "_feature_extractor", lambda *a: measured.append(a) or extractor(*a))
  options = dict(num_samples=2, batch_size=2, feature_network=features_dir)
  with pytest.raises(
    ValueError,
    match=rf"^cannot write the report in the workdir '{read_only_workdir}' \(Operation not "
    r"permitted\); give --report=PATH in a folder you can write$",
  ):
    _evaluate(read_only_workdir, **options)
  assert not measured
  report, _ = _evaluate(read_only_workdir, report=str(tmp_path / "report.json"), **options)
  assert measured and json.loads((tmp_path / "report.json").read_text())["num_samples"] == 2


def test_batches_are_cut_where_a_set_ends():
  batches = [{"video": np.arange(3), "index": np.arange(3) + 10} for _ in range(3)]
  cut = list(gan._cut_at_sets(batches, 2))
  assert [list(batch["video"]) for batch in cut] == [[0, 1], [2], [0], [1, 2], [0, 1], [2]]
  assert [list(batch["index"]) for batch in cut][:2] == [[10, 11], [12]]


def test_a_report_on_other_data_keeps_the_report_on_the_runs_own(
  vgan_workdir, held_out_shards, features_dir
):
  own = _evaluate(vgan_workdir, num_samples=2, batch_size=2, feature_network=features_dir)[0]
  other = _evaluate(
    vgan_workdir, data=held_out_shards, num_samples=2, batch_size=2, feature_network=features_dir
  )[0]
  assert os.path.basename(other["path"]) == "evaluation_builtin_shards_step1.json"
  assert other["path"] != own["path"] and os.path.exists(own["path"])
  assert other["data"]["path"] == held_out_shards


def test_cli_evaluate_names_an_unknown_model_type_without_a_traceback(tmp_path):
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "diffusion"}))
  result = helpers.run_cli("evaluate", f"--workdir={tmp_path}")
  assert result.returncode == 1
  assert "relive evaluate: error:" in result.stderr
  assert (
    "model of type 'diffusion'" in result.stderr and "['cvgan', 'lstm', 'vgan']" in result.stderr
  )
  assert "Traceback" not in result.stderr


def test_cli_evaluate_rejects_gan_flags_for_a_predictor_workdir(tmp_path):
  (tmp_path / "config.json").write_text(helpers.load_config("lstm").to_json_best_effort())
  result = helpers.run_cli("evaluate", f"--workdir={tmp_path}", "--i3d=/models/i3d")
  assert result.returncode == 1
  assert "i3d does not apply to the next-frame predictor workdir" in result.stderr


def test_training_logs_the_distance_and_sample_scores_every_eval_every_steps(
  make_config, features_dir, small_digit_recognizer, tmp_path
):
  config = make_config(
    "vgan",
    "tiny",
    **{
      **TINY,
      "train__num_steps": 2,
      "train__eval_every": 1,
      "train__eval_samples": 4,
      "train__feature_network": features_dir,
      "train__digit_recognizer": small_digit_recognizer,
    },
  )
  helpers.train(config, tmp_path)
  steps = {
    tag: [step for step, _ in values]
    for tag, values in helpers.summary_values(tmp_path).items()
    if tag.startswith("eval/")
  }
  every_time = (
    "frechet",
    "kernel",
    "frechet_floor",
    "kernel_floor",
    "digit_score",
    "identity_consistency",
    "motion",
  )
  assert steps == {
    **{f"eval/{name}": [1, 2] for name in every_time},
    **{f"eval/real_{name}": [1] for name in ("digit_score", "identity_consistency", "motion")},
  }
  # A TensorBoard run of their own, so that the runs of several workdirs compare side by side.
  assert sorted(os.listdir(tmp_path / "tb")) == ["eval", "train"]
  assert set(events.read_scalars(str(tmp_path / "tb" / "eval"))) == set(steps)


def test_eval_every_measures_with_the_shipped_networks_by_default(make_config):
  (evaluator_,) = gan.training_evaluators(make_config("vgan", "tiny", train__eval_every=10))
  assert isinstance(evaluator_, gan.GANEvaluator)


def test_eval_every_on_clips_the_shipped_feature_network_does_not_take_is_refused(
  make_config, tmp_path
):
  with pytest.raises(ValueError, match="trained on clips of 32x64x64, these are 16x32x32"):
    helpers.train(make_config("vgan", "tiny", train__eval_every=10, **TINY), tmp_path)


def test_eval_every_on_a_test_split_too_small_is_refused_before_training(
  make_config, tmp_path, held_out_shards, features_dir
):
  config = make_config(
    "vgan",
    "tiny",
    train__eval_every=10,
    train__eval_samples=3,
    train__feature_network=features_dir,
    data__source="shards",
    data__path=held_out_shards,
    **TINY,
  )
  with pytest.raises(ValueError, match=r"4 clip\(s\), fewer .*; lower train.eval_samples to"):
    helpers.train(config, tmp_path)
  assert not os.path.exists(tmp_path / "checkpoints")


def test_eval_every_for_a_family_without_training_evaluators_is_refused(make_config, tmp_path):
  family = dataclasses.replace(families.get("lstm"), training_evaluators=None)
  with pytest.raises(ValueError, match="next-frame predictor has no evaluation during training"):
    loop.train_and_evaluate(
      make_config("lstm", "tiny", train__eval_every=10), str(tmp_path), family, helpers.one_device()
    )
