"""training/shipped.py and the video WGAN it wrote into relive_tf/assets/vgan_tiny."""

import os
import pathlib
import shutil
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import tensorflow as tf

from relive_tf import errors
from relive_tf import families
from relive_tf import files
from relive_tf.evaluation import scores
from relive_tf.gallery import build
from relive_tf.inference import generate
from relive_tf.metrics import digit_recognizer
from relive_tf.metrics import sample_scores
from relive_tf.training import checkpoints
from relive_tf.training import shipped
from relive_tf.training import vgan as vgan_training
from relive_tf.training import workdir as workdir_lib

import helpers

# Tiny 32x32 runs of 4 steps, a checkpoint every 2.
TINY = dict(
  data__frames=16,
  data__size=32,
  train__num_steps=4,
  train__batch_size=2,
  train__checkpoint_every=2,
  train__num_samples=2,
)


@pytest.fixture(name="vgan_workdir", scope="module")
def vgan_workdir_fixture(trained_workdir):
  return trained_workdir("vgan", **TINY)


def _samples(folder, num=4):
  trained = checkpoints.restore_trained(folder, vgan_training.FAMILY)
  return trained.step, generate.sample_videos(trained.trainer.sampling_generator, num, seed=5)


def test_a_shipped_model_samples_what_its_checkpoint_does_without_the_critic(
  vgan_workdir, tmp_path
):
  out = str(tmp_path / "shipped")
  description = shipped.ship(vgan_workdir, out, step=2)

  assert description == {"workdir": vgan_workdir, "step": 2, "network": "generator"}
  assert files.read_json(os.path.join(out, workdir_lib.SHIPPED_FILE)) == description
  # The generator's weights in place of checkpoints: no critic, no optimizer state.
  assert sorted(os.listdir(out)) == sorted(
    [workdir_lib.CONFIG_FILE, workdir_lib.SHIPPED_FILE, workdir_lib.SHIPPED_WEIGHTS]
  )
  original = checkpoints.restore(
    vgan_workdir,
    *workdir_lib.load_config(vgan_workdir, vgan_training.FAMILY),
    paths=[os.path.join(vgan_workdir, workdir_lib.CHECKPOINT_DIR, "ckpt-2")],
  )
  shipped_step, videos = _samples(out)
  assert shipped_step == 2
  expected = generate.sample_videos(original.trainer.sampling_generator, 4, seed=5)
  np.testing.assert_array_equal(videos, expected)
  # The newest checkpoint by default, and a second ship replaces the first.
  assert shipped.ship(vgan_workdir, out)["step"] == 4
  assert _samples(out)[0] == 4


def test_training_refuses_a_shipped_model_and_folders_inside_it(
  vgan_workdir, make_config, tmp_path
):
  out = tmp_path / "shipped"
  shipped.ship(vgan_workdir, str(out))
  before = sorted(path for path in out.rglob("*"))
  config = make_config("vgan", **dict(TINY, train__num_steps=6))

  with pytest.raises(ValueError, match="is a model shipped with relive_tf.*give a new folder"):
    helpers.train(config, str(out))
  (tmp_path / "link").symlink_to(out)
  for inside in (out / "run", out / "run" / "deeper", tmp_path / "link" / "run"):
    with pytest.raises(ValueError, match="is inside .*, a model shipped with relive_tf, not a"):
      helpers.train(config, str(inside))
  assert sorted(path for path in out.rglob("*")) == before


def test_evaluate_keeps_a_shipped_models_report_unless_told_where(vgan_workdir, tmp_path):
  out = str(tmp_path / "shipped")
  shipped.ship(vgan_workdir, out)

  with pytest.raises(ValueError, match="is a model shipped with relive_tf.*give --report=PATH"):
    scores.make_report_folder(None, out)
  scores.make_report_folder(os.path.join(out, "evaluation_mine.json"), out)  # no error


def test_a_shipped_models_damaged_weights_say_to_restore_the_folder(vgan_workdir, tmp_path):
  out = tmp_path / "shipped"
  shipped.ship(vgan_workdir, str(out))
  weights = out / workdir_lib.SHIPPED_WEIGHTS
  weights.write_bytes(weights.read_bytes()[:100])

  message = "shipped with relive_tf whose weights or description are missing or damaged"
  with pytest.raises(ValueError, match=message):
    checkpoints.restore_trained(str(out), vgan_training.FAMILY)
  shipped.ship(vgan_workdir, str(out))
  files.write_json(str(out / workdir_lib.SHIPPED_FILE), {})  # no step, no network
  with pytest.raises(ValueError, match=message):
    checkpoints.restore_trained(str(out), vgan_training.FAMILY)
  weights.unlink()
  with pytest.raises(ValueError, match="restore the folder \\(reinstall relive_tf"):
    checkpoints.restore_trained(str(out), vgan_training.FAMILY)


def test_ship_refuses_a_missing_step_and_a_folder_of_other_files(vgan_workdir, tmp_path):
  with pytest.raises(ValueError, match="no checkpoint of step 3; choose one of: 2, 4"):
    shipped.ship(vgan_workdir, str(tmp_path / "a"), step=3)
  other = tmp_path / "other"
  other.mkdir()
  (other / "notes.txt").write_text("mine")
  with pytest.raises(ValueError, match="holds files of no shipped model; give a new or empty"):
    shipped.ship(vgan_workdir, str(other))
  assert (other / "notes.txt").read_text() == "mine"


def test_shipping_again_deletes_only_what_ship_and_evaluate_wrote(vgan_workdir, tmp_path):
  out = tmp_path / "shipped"
  shipped.ship(vgan_workdir, str(out), step=2)
  (out / "evaluation_builtin_step2.json").write_text("{}")
  for mine in (out / "my_samples", out / "evaluation_notes.json"):
    mine.write_text("mine")
    with pytest.raises(ValueError, match=f"also holds .*{mine.name}; move those out first"):
      shipped.ship(vgan_workdir, str(out))
    assert mine.read_text() == "mine"
    assert files.read_json(str(out / workdir_lib.SHIPPED_FILE))["step"] == 2
    mine.unlink()

  shipped.ship(vgan_workdir, str(out))
  assert sorted(path.name for path in out.iterdir()) == sorted(
    [workdir_lib.CONFIG_FILE, workdir_lib.SHIPPED_FILE, workdir_lib.SHIPPED_WEIGHTS]
  )


def test_ship_refuses_an_out_folder_that_is_holds_or_lies_in_the_workdir(vgan_workdir, tmp_path):
  copy = tmp_path / "copy"
  shipped.ship(vgan_workdir, str(copy))
  before = sorted(path for path in copy.rglob("*"))
  for workdir, out in ((copy, copy), (copy, copy / "inner"), (copy, tmp_path)):
    with pytest.raises(ValueError, match="is the workdir .*, lies inside it or holds it; give"):
      shipped.ship(str(workdir), str(out))
  assert sorted(path for path in copy.rglob("*")) == before


def test_the_ship_command_ends_a_mistake_in_one_line(tmp_path):
  command = [sys.executable, "-m", "relive_tf.training.shipped"]
  process = subprocess.run(
    [*command, f"--workdir={tmp_path}/none", f"--out={tmp_path}/out"],
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )

  assert process.returncode == 1
  assert "Traceback" not in process.stderr
  last = process.stderr.strip().splitlines()[-1]
  assert last.startswith(f"python -m relive_tf.training.shipped: error: '{tmp_path}/none' holds no")


def test_a_damaged_checkpoint_chosen_by_step_names_the_others(vgan_workdir, tmp_path):
  workdir = shutil.copytree(vgan_workdir, tmp_path / "run")
  (data,) = (workdir / "checkpoints").glob("ckpt-2.data-*")
  data.write_bytes(data.read_bytes()[:100])

  with pytest.raises(ValueError, match="of step 2 in .* is damaged; choose another --step of 2, 4"):
    shipped.ship(str(workdir), str(tmp_path / "out"), step=2)
  assert not (tmp_path / "out").exists()


@pytest.fixture(name="read_only_parent")
def read_only_parent_fixture(tmp_path):
  """A folder that even root cannot create entries in once made immutable (chattr +i)."""
  parent = tmp_path / "parent"
  parent.mkdir()
  yield parent
  subprocess.run(["chattr", "-i", str(parent)], check=True)


def test_a_ship_that_cannot_write_leaves_the_model_shipped_before(vgan_workdir, read_only_parent):
  out = read_only_parent / "shipped"
  shipped.ship(vgan_workdir, str(out), step=2)
  before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
  subprocess.run(["chattr", "+i", str(read_only_parent)], check=True)

  with pytest.raises(ValueError, match="cannot create the folder .*/shipped.partial-.*give a"):
    shipped.ship(vgan_workdir, str(out))
  assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
  assert sorted(path.name for path in read_only_parent.iterdir()) == ["shipped"]


def test_a_swap_that_fails_midway_puts_the_model_shipped_before_back(
  vgan_workdir, tmp_path, monkeypatch
):
  out = tmp_path / "shipped"
  shipped.ship(vgan_workdir, str(out), step=2)
  before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
  rename, calls = tf.io.gfile.rename, []

  def rename_failing_second(source, target, *args):
    calls.append(source)
    if len(calls) == 2:  # the new model into place, once the old one is aside
      raise OSError(28, "No space left on device")
    return rename(source, target, *args)

  monkeypatch.setattr(tf.io.gfile, "rename", rename_failing_second)
  with pytest.raises(errors.WriteError, match="No space left on device; the folder is as it was"):
    shipped.ship(vgan_workdir, str(out))
  assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
  assert sorted(path.name for path in tmp_path.iterdir()) == ["shipped"]


def test_the_gallery_shows_a_shipped_model_with_a_note_in_place_of_its_curves(
  vgan_workdir, tmp_path
):
  out = str(tmp_path / "shipped")
  shipped.ship(vgan_workdir, out)
  index = build.build_gallery([out], str(tmp_path / "site"), families.FAMILIES.values(), 2)

  page = pathlib.Path(index).read_text()
  assert "Shipped with relive_tf: the sampling generator of a `relive train` run at step 4" in page
  assert "docs/results.md shows that run" not in page  # not the package's own model
  assert f"`relive evaluate --workdir={out} --report=PATH` writes one" in page
  assert "No scalar summaries" not in page
  assert len(list((tmp_path / "site").rglob("*.mp4"))) >= 2


def test_the_shipped_video_wgan_draws_digits():
  """The model in relive_tf/assets: restored at the step its description names, its videos show
  digits (a restore that left the weights untrained scores 0: docs/results.md)."""
  description = files.read_json(os.path.join(shipped.VGAN_TINY, workdir_lib.SHIPPED_FILE))
  step, videos = _samples(shipped.VGAN_TINY, num=16)

  assert step == description["step"]
  probabilities = digit_recognizer.DigitRecognizer().probabilities(videos)
  assert sample_scores.digit_score(probabilities) > 0.3


def test_the_package_ships_every_asset_file():
  """pyproject.toml's package data names every file under relive_tf/assets."""
  pyproject = tomllib.loads((helpers.REPO / "pyproject.toml").read_text())
  patterns = pyproject["tool"]["setuptools"]["package-data"]["relive_tf"]
  package = helpers.REPO / "relive_tf"
  assets = {path for path in (package / "assets").rglob("*") if path.is_file()}
  packaged = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}

  assert package / "assets" / "vgan_tiny" / workdir_lib.SHIPPED_WEIGHTS in assets
  assert sorted(assets - packaged) == []
