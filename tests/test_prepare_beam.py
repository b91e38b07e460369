"""`relive prepare --runner=beam` on Beam's DirectRunner: the clips and manifest of the processes
runner, balanced shards, the worker of each skipped file, remote folders, the CLI."""

import os
import re
import socket
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from relive_tf.data import prepare
from relive_tf.data import prepare_beam
from relive_tf.data import shards

import helpers
from helpers import ffmpeg_video
from helpers import smooth_video
from helpers import truncate
from helpers import write_avi
from helpers import write_strip

FRAMES, SIZE = 8, 16


def run(source, out, runner, layout="folder", **settings):
  settings = dict(dict(frames=FRAMES, size=SIZE, test_fraction=0.0), **settings)
  if runner == "processes":
    settings.setdefault("workers", 2)
  return prepare.prepare(layout=layout, source=str(source), out=str(out), runner=runner, **settings)


def both_splits(out):
  return {split: helpers.prepared_records(out, split, FRAMES, SIZE) for split in ("train", "test")}


def without_shards_and_workers(manifest):
  """A manifest less what differs between the runners by design: the shard files and counts, and
  the worker named in the Beam manifest's entries."""
  manifest = dict(manifest, shards=None)
  manifest["splits"] = {
    split: dict(counts, shards=None) for split, counts in manifest["splits"].items()
  }
  for key in ("skipped", "warnings"):
    manifest[key] = [
      {name: value for name, value in entry.items() if name != "worker"} for entry in manifest[key]
    ]
  return manifest


def assert_same_preparation(first, first_out, second, second_out):
  assert without_shards_and_workers(first) == without_shards_and_workers(second)
  first_records, second_records = both_splits(first_out), both_splits(second_out)
  for split, records in first_records.items():
    assert len(records) == len(second_records[split]), split
    for one, other in zip(records, second_records[split]):
      assert one.keys() == other.keys()
      for key in one:
        np.testing.assert_array_equal(one[key], other[key], err_msg=f"{split} {key}")


def folder_dataset(root):
  """Videos that give clips, one with a warning, and files skipped for every kind of reason."""
  source = root / "videos"
  os.makedirs(source / "sub")
  write_avi(source / "good.avi", smooth_video(12, 24, 32))
  write_avi(source / "sub" / "good.mp4", smooth_video(20, 24, 32, seed=1))
  write_avi(source / "sub" / "third.avi", smooth_video(16, 24, 32, seed=2))
  write_avi(source / "short.avi", smooth_video(5, 24, 32))
  truncate(ffmpeg_video(source / "cut_long.mkv", smooth_video(40, 24, 32)), 0.7)
  (source / "empty.mov").write_bytes(b"")
  (source / "text.mkv").write_text("not a video\n" * 20)
  (source / "notes.txt").write_text("hello")
  return source


@pytest.fixture(name="folder_runs", scope="module")
def folder_runs_fixture(tmp_path_factory):
  """The folder dataset prepared by both runners (two clips a file, a third of the files in the
  test split); Beam asked for shards half the processes runner's train shard (two clips each:
  a shard is balanced within one clip's bytes)."""
  root = tmp_path_factory.mktemp("beam_folder")
  source = folder_dataset(root)
  settings = dict(clips_per_video=2, test_fraction=0.3)
  processes = run(source, root / "processes", "processes", **settings)
  (train_shard,) = [shard for shard in processes["shards"] if shard["split"] == "train"]
  beam = run(source, root / "beam", "beam", shard_mb=train_shard["bytes"] / 2e6, **settings)
  return root, source, processes, beam


def test_beam_gives_the_clips_and_manifest_of_the_processes_runner(folder_runs):
  root, _, processes, beam = folder_runs
  assert beam["files"] == {"seen": 8, "used": 4, "skipped": 4, "warned": 1}
  assert beam["splits"]["train"]["clips"] and beam["splits"]["test"]["clips"]
  assert_same_preparation(processes, root / "processes", beam, root / "beam")


def test_beam_shards_are_balanced_within_twice_each_others_size(folder_runs):
  _, _, _, beam = folder_runs
  train = [shard for shard in beam["shards"] if shard["split"] == "train"]
  assert [shard["file"] for shard in train] == [f"train-0000{n}.tfrecord" for n in range(2)]
  sizes = [shard["bytes"] for shard in train]
  assert max(sizes) <= 2 * min(sizes), sizes


def test_beam_manifest_names_the_worker_that_skipped_or_warned_about_each_file(folder_runs):
  _, source, _, beam = folder_runs
  decoded_by = {
    os.path.relpath(entry["path"], source): entry.get("worker")
    for entry in beam["skipped"] + beam["warnings"]
  }
  # The listing passed over notes.txt before any worker saw it.
  assert decoded_by.pop("notes.txt") is None
  assert sorted(decoded_by) == ["cut_long.mkv", "empty.mov", "short.avi", "text.mkv"]
  for worker in decoded_by.values():
    host, process = worker.rsplit(":", 1)
    assert host == socket.gethostname() and process.isdigit(), worker


def test_a_finished_beam_run_is_kept(folder_runs):
  root, source, _, beam = folder_runs
  written = os.stat(root / "beam" / "train-00000.tfrecord").st_mtime_ns
  # The shard size is not a setting of the clips: this is the same run.
  again = run(source, root / "beam", "beam", clips_per_video=2, test_fraction=0.3)
  assert again == beam
  assert os.stat(root / "beam" / "train-00000.tfrecord").st_mtime_ns == written


def test_beam_and_processes_agree_on_a_ucf101_tree_with_split_lists(tmp_path):
  source = tmp_path / "UCF-101"
  helpers.ucf101_tree(source, ["ApplyEyeMakeup", "Basketball"], groups=[1, 2])
  lists = tmp_path / "ucfTrainTestlist"
  os.makedirs(lists)
  (lists / "trainlist01.txt").write_text(
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 1\nBasketball/v_Basketball_g02_c01.avi 2\n"
    "Basketball/v_Basketball_g03_c01.avi 2\n"
  )
  (lists / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n")
  settings = dict(layout="ucf101", split_files=[str(lists / "trainlist01.txt")])
  processes = run(source, tmp_path / "processes", "processes", **settings)
  beam = run(source, tmp_path / "beam", "beam", **settings)
  assert beam["labels"] == ["ApplyEyeMakeup", "Basketball"]
  assert_same_preparation(processes, tmp_path / "processes", beam, tmp_path / "beam")


def test_beam_and_processes_agree_on_vgan_strips_listed_by_an_index_file(tmp_path):
  source = tmp_path / "vgan"
  os.makedirs(source / "beach")
  write_strip(source / "beach" / "a.jpg", smooth_video(FRAMES, 32, 32))
  write_strip(source / "beach" / "b.jpg", smooth_video(2 * FRAMES, 32, 32, seed=1))
  cv2.imwrite(str(source / "wide.jpg"), np.zeros((40, 32, 3), np.uint8))
  (source / "index.txt").write_text("beach/a.jpg\nbeach/b.jpg\nwide.jpg\nbeach/gone.jpg\n")
  # Each strip is its own group; of the three listed, the split hash puts beach/b.jpg in the test
  # split and a.jpg and wide.jpg (which gives no clip) in train.
  settings = dict(
    layout="vgan", index_file=str(source / "index.txt"), clip_stride=4, test_fraction=0.3
  )
  processes = run(source, tmp_path / "processes", "processes", **settings)
  beam = run(source, tmp_path / "beam", "beam", **settings)
  assert {split: counts["clips"] for split, counts in beam["splits"].items()} == {
    "train": 1,
    "test": 3,
  }
  assert_same_preparation(processes, tmp_path / "processes", beam, tmp_path / "beam")


def test_shard_plan_counts_clips_and_bytes_in_file_order_and_sizes_shards_by_bytes():
  sizes = [
    ("train", 2, [100, 100, 100]),
    ("test", 1, [50, 50]),
    ("train", 0, [100]),
    ("train", 5, []),
  ]
  plan = prepare_beam.shard_plan(sizes, shard_bytes=150)
  assert plan["train"] == {
    "before": {0: (0, 0), 2: (1, 100), 5: (4, 400)},
    "bytes": 400,
    "shards": 3,
  }
  assert plan["test"] == {"before": {1: (0, 0)}, "bytes": 100, "shards": 1}
  # Never more shards than clips, and one at least.
  assert prepare_beam.shard_plan([("train", 0, [10**9, 1])], shard_bytes=1)["train"]["shards"] == 2
  assert prepare_beam.shard_plan([("train", 0, [1, 1])], shard_bytes=10**9)["train"]["shards"] == 1


def test_beam_with_no_usable_file_is_a_user_error(tmp_path):
  os.makedirs(tmp_path / "videos")
  (tmp_path / "videos" / "a.avi").write_bytes(b"")
  with pytest.raises(ValueError, match="no clip could be cut.*empty file"):
    run(tmp_path / "videos", tmp_path / "out", "beam")
  assert not os.path.exists(tmp_path / "out" / shards.MANIFEST)


def test_beam_reads_and_writes_a_remote_filesystem(tmp_path):
  source = folder_dataset(tmp_path)
  remote = "ram://beam_test/videos"
  for folder, _, names in os.walk(source):
    for name in names:
      local = os.path.join(folder, name)
      target = f"{remote}/{os.path.relpath(local, source)}"
      tf.io.gfile.makedirs(os.path.dirname(target))
      tf.io.gfile.copy(local, target)
  local_run = run(source, tmp_path / "local", "beam")
  remote_run = run(remote, "ram://beam_test/out", "beam")
  assert remote_run["source"] == remote and remote_run["files"] == local_run["files"]
  remote_records = helpers.prepared_records("ram://beam_test/out", "train", FRAMES, SIZE)
  local_records = helpers.prepared_records(tmp_path / "local", "train", FRAMES, SIZE)
  assert [record["clip"].tobytes() for record in remote_records] == [
    record["clip"].tobytes() for record in local_records
  ]


def test_cli_prepares_with_beam_and_refuses_options_without_it(tmp_path):
  source = tmp_path / "videos"
  os.makedirs(source)
  write_avi(source / "a.avi", smooth_video(12, 24, 32))
  common = ("prepare", "--format=folder", f"--source={source}", "--frames=8", "--size=16")
  result = helpers.run_cli(
    *common,
    f"--out={tmp_path / 'out'}",
    "--runner=beam",
    "--beam_pipeline_options=--direct_num_workers=2 --direct_running_mode=multi_threading",
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert re.search(r"prepared 1 clip from 1 of the 1 file seen", result.stdout)
  refused = helpers.run_cli(
    *common, f"--out={tmp_path / 'other'}", "--beam_pipeline_options=--runner=DirectRunner"
  )
  assert refused.returncode == 2  # a usage error, as every misused flag
  assert "--beam_pipeline_options is for --runner=beam" in refused.stderr


def test_beam_runner_without_apache_beam_says_how_to_install_it(tmp_path, monkeypatch):
  # As where the [beam] extra is not installed: importing apache_beam fails.
  monkeypatch.setitem(sys.modules, "apache_beam", None)
  monkeypatch.delitem(sys.modules, "relive_tf.data.prepare_beam")
  monkeypatch.delattr("relive_tf.data.prepare_beam")
  os.makedirs(tmp_path / "videos")
  write_avi(tmp_path / "videos" / "a.avi", smooth_video(12, 24, 32))
  with pytest.raises(ValueError, match=r"needs Apache Beam.*pip install 'relive_tf\[beam\]'"):
    run(tmp_path / "videos", tmp_path / "out", "beam")
