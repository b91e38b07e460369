"""Every file through tf.io.gfile: train, prepare, export and gallery on TensorFlow's ram://
filesystem (what gs:// and plugin filesystems go through), and the lock's advisory marker."""

import errno
import fcntl
import json
import os

import pytest
import tensorflow as tf

from relive_tf import errors
from relive_tf import families
from relive_tf import files
from relive_tf.data import prepare
from relive_tf.gallery import build
from relive_tf.serving import publish

import helpers

TINY = dict(
  train__num_steps=2,
  train__batch_size=2,
  train__critic_steps=1,
  train__checkpoint_every=1,
  train__summary_every=2,
  train__num_samples=2,
)


@pytest.fixture(name="ram_workdir", scope="module")
def ram_workdir_fixture():
  """A tiny video WGAN trained for two steps in ram://remote/run."""
  workdir = "ram://remote/run"
  helpers.train(helpers.load_config("vgan", "tiny", **TINY), workdir)
  return workdir


def test_training_writes_and_resumes_a_remote_workdir(ram_workdir, make_config):
  assert sorted(tf.io.gfile.listdir(ram_workdir)) == ["checkpoints", "config.json", "tb"]
  assert json.loads(files.read_bytes(f"{ram_workdir}/config.json"))["model_type"] == "vgan"
  assert tf.train.latest_checkpoint(f"{ram_workdir}/checkpoints").endswith("ckpt-2")
  assert "train/critic_loss" in helpers.summary_values(ram_workdir)
  helpers.train(make_config("vgan", "tiny", **dict(TINY, train__num_steps=3)), ram_workdir)
  assert tf.train.latest_checkpoint(f"{ram_workdir}/checkpoints").endswith("ckpt-3")
  history = files.read_bytes(f"{ram_workdir}/config_history.log").decode()
  assert history.endswith("after step 2: train.num_steps: 2 -> 3\n")
  assert not tf.io.gfile.exists(f"{ram_workdir}/{files.LOCK_FILE}")  # the marker went with the run


def test_export_publishes_and_checks_a_version_on_a_remote_filesystem(ram_workdir):
  version = publish.export(
    ram_workdir, "ram://remote/export/vgan", families.FAMILIES.values(), check=True
  )
  assert version == "ram://remote/export/vgan/1"
  assert tf.io.gfile.exists(f"{version}/saved_model.pb")
  assert publish.model_versions("ram://remote/export/vgan") == [1]
  config = files.read_bytes("ram://remote/export/models.config").decode()
  assert 'name: "vgan"' in config
  # The export root was held by an advisory marker (ram:// has no flock), gone with the export.
  assert not tf.io.gfile.exists(f"ram://remote/export/{files.LOCK_FILE}")


def test_a_remote_model_folder_inside_the_workdir_is_refused_with_a_trailing_slash(ram_workdir):
  # The slash made the workdir check look one folder too deep: models.config went into it.
  with pytest.raises(ValueError, match="is inside the training workdir"):
    publish.export(ram_workdir, f"{ram_workdir}/vgan/", families.FAMILIES.values())
  assert not tf.io.gfile.exists(f"{ram_workdir}/{publish.MODELS_CONFIG}")


def test_a_failed_remote_copy_names_it_and_deletes_what_it_copied(ram_workdir, monkeypatch):
  export_dir = "ram://remote/failing/vgan"
  publish.export(ram_workdir, export_dir, families.FAMILIES.values())
  real_copy = tf.io.gfile.copy

  def full_at_saved_model(source, target, overwrite=False):
    if target.endswith("saved_model.pb"):
      raise tf.errors.ResourceExhaustedError(None, None, f"{target}; quota exceeded")
    real_copy(source, target, overwrite)

  monkeypatch.setattr(tf.io.gfile, "copy", full_at_saved_model)
  with pytest.raises(
    errors.WriteError,
    match=r"^cannot write the export vgan \(ram://remote/"
    r"failing/vgan/2\): .*quota exceeded; versions \[1\] are kept",
  ):
    publish.export(ram_workdir, export_dir, families.FAMILIES.values())
  assert sorted(files.listdir(export_dir)) == ["1"]  # the files copied before it were deleted
  assert not tf.io.gfile.exists(f"ram://remote/failing/{files.LOCK_FILE}")
  monkeypatch.setattr(tf.io.gfile, "copy", real_copy)
  assert publish.export(ram_workdir, export_dir, families.FAMILIES.values()).endswith("/2")


def test_a_remote_copy_killed_before_saved_model_is_deleted_by_the_next_export(ram_workdir):
  export_dir = "ram://remote/killed/vgan"
  publish.export(ram_workdir, export_dir, families.FAMILIES.values())
  assert not tf.io.gfile.exists(f"{export_dir}/1/{publish.COPYING_MARKER}")
  # What copies killed mid-way leave: version 2 cut before saved_model.pb; version 3 after it,
  # before the marker went. Version 4 is somebody else's upload (no marker), still under way.
  for version, names in {
    2: [publish.COPYING_MARKER, "variables/variables.index"],
    3: [publish.COPYING_MARKER, "variables/variables.index", "saved_model.pb"],
    4: ["variables/variables.index"],
  }.items():
    tf.io.gfile.makedirs(f"{export_dir}/{version}/variables")
    for name in names:
      files.write_text(f"{export_dir}/{version}/{name}", "cut")
  assert publish.model_versions(export_dir) == [1, 3]

  version = publish.export(ram_workdir, export_dir, families.FAMILIES.values())
  assert version == f"{export_dir}/5"
  assert not tf.io.gfile.exists(f"{export_dir}/2")
  assert not tf.io.gfile.exists(f"{export_dir}/3/{publish.COPYING_MARKER}")
  assert tf.io.gfile.exists(f"{export_dir}/4/variables/variables.index")
  assert publish.model_versions(export_dir) == [1, 3, 5]


def test_gallery_writes_a_remote_site(ram_workdir):
  index = build.build_gallery(
    [ram_workdir], "ram://remote/site", families.FAMILIES.values(), num_videos=2
  )
  assert index == "ram://remote/site/index.html"
  page = files.read_bytes(index).decode()
  media = tf.io.gfile.glob("ram://remote/site/media/*/*")
  assert any(name.endswith(".mp4") for name in media) and any(
    name.endswith(".gif") for name in media
  )
  for name in media:
    assert os.path.relpath(name, "ram://remote/site") in page or name.endswith(".svg")


def test_prepare_reads_a_remote_source_and_writes_remote_shards(tmp_path):
  source = tmp_path / "videos"
  os.makedirs(source / "sub")
  helpers.write_avi(source / "a.avi", helpers.smooth_video(12, 24, 32))
  helpers.write_avi(source / "sub" / "b.avi", helpers.smooth_video(12, 24, 32, seed=1))
  (source / "empty.avi").write_bytes(b"")
  for name in ("a.avi", "sub/b.avi", "empty.avi"):
    tf.io.gfile.makedirs(os.path.dirname(f"ram://data/videos/{name}"))
    tf.io.gfile.copy(str(source / name), f"ram://data/videos/{name}")
  settings = dict(layout="folder", frames=8, size=16, test_fraction=0.0, workers=2)
  remote = prepare.prepare(source="ram://data/videos", out="ram://data/shards", **settings)
  local = prepare.prepare(source=str(source), out=str(tmp_path / "shards"), **settings)
  assert remote["files"] == local["files"] == {"seen": 3, "used": 2, "skipped": 1, "warned": 0}
  assert remote["skipped"] == [
    {"path": "ram://data/videos/empty.avi", "reason": "empty file (0 bytes)"}
  ]
  remote_clips = helpers.prepared_records("ram://data/shards", "train", 8, 16)
  local_clips = helpers.prepared_records(tmp_path / "shards", "train", 8, 16)
  assert [(r["video_id"], r["clip"].tobytes()) for r in remote_clips] == [
    (r["video_id"], r["clip"].tobytes()) for r in local_clips
  ]


def test_a_remote_folder_is_held_by_an_advisory_marker_naming_its_holder():
  folder = "ram://held/run"
  with files.exclusive_use(folder, "relive train"):
    marker = files.read_bytes(f"{folder}/{files.LOCK_FILE}").decode()
    assert marker.startswith(f"relive train (process {os.getpid()} on ")
    with pytest.raises(ValueError, match=r"in use by relive train \(process .*advisory marker"):
      with files.exclusive_use(folder, "relive prepare"):
        pass
  assert not tf.io.gfile.exists(f"{folder}/{files.LOCK_FILE}")


def test_a_marker_left_by_a_crashed_run_says_to_delete_it():
  folder = "ram://crashed/run"
  files.write_text(f"{folder}/{files.LOCK_FILE}", "relive train (process 1 on h, since then)\n")
  with pytest.raises(ValueError, match=rf"delete {folder}/\.lock if that run is gone"):
    with files.exclusive_use(folder, "relive train"):
      pass


def test_a_local_folder_without_flock_falls_back_to_the_marker(tmp_path, monkeypatch):
  def no_locks(*_):
    raise OSError(errno.ENOLCK, "No locks available")

  monkeypatch.setattr(fcntl, "flock", no_locks)
  with files.exclusive_use(str(tmp_path), "relive train"):
    with pytest.raises(ValueError, match="advisory marker"):
      with files.exclusive_use(str(tmp_path), "relive train"):
        pass
  assert not os.path.exists(tmp_path / files.LOCK_FILE)
  with files.exclusive_use(str(tmp_path / "new"), "relive train"):
    assert os.path.exists(tmp_path / "new" / files.LOCK_FILE)
  assert not os.path.exists(tmp_path / "new")  # made here, nothing written: removed
