"""`relive prepare`: every layout, skipped files and why, pixels, splits, resuming, training.

Fixture videos are written here with cv2.VideoWriter (MJPEG .avi); most tests use 8-frame clips of
16x16 pixels, the training test the full 32 frames of 64x64.
"""

import json
import logging
import os
import re

import cv2
import numpy as np
import pytest
import tensorflow as tf

from relive_tf import files
from relive_tf.data import layouts
from relive_tf.data import prepare
from relive_tf.data import shards

import helpers
from helpers import expected_frames
from helpers import ffmpeg_video
from helpers import mean_abs_error
from helpers import reasons
from helpers import smooth_video
from helpers import truncate
from helpers import ucf101_tree
from helpers import write_avi
from helpers import write_strip

FRAMES, SIZE = 8, 16
# Mean absolute error of MJPEG fixture + JPEG shard against the source pixels, in 0..255 levels.
MAX_MEAN_ERROR = 4


def run(source, out, layout="folder", **settings):
  settings = dict(dict(frames=FRAMES, size=SIZE, test_fraction=0.0, workers=2), **settings)
  return prepare.prepare(layout=layout, source=str(source), out=str(out), **settings)


def records(out, split="train", frames=FRAMES, size=SIZE):
  return helpers.prepared_records(out, split, frames, size)


def test_clip_starts_spread_clips_evenly_or_by_stride():
  assert prepare.clip_starts(20, frames=8) == [6]  # the middle clip
  assert prepare.clip_starts(20, frames=8, clips_per_video=2) == [3, 9]
  assert prepare.clip_starts(10, frames=8, clips_per_video=5) == [0, 1, 2]  # only 3 exist
  assert prepare.clip_starts(20, frames=8, clip_stride=4) == [0, 4, 8, 12]
  assert not prepare.clip_starts(5, frames=8)


def test_manifest_counts_the_videos_and_gives_each_skipped_file_its_reason(tmp_path):
  source = tmp_path / "videos"
  os.makedirs(source / "sub")
  write_avi(source / "good.avi", smooth_video(12, 24, 32))
  write_avi(source / "sub" / "good.mp4", smooth_video(20, 24, 32))
  write_avi(source / "short.avi", smooth_video(5, 24, 32))
  truncate(write_avi(source / "cut.avi", smooth_video(20, 24, 32)), 0.6)
  truncate(ffmpeg_video(source / "cut_long.mkv", smooth_video(40, 24, 32)), 0.7)
  (source / "empty.mov").write_bytes(b"")
  (source / "text.mkv").write_text("not a video\n" * 20)
  (source / "notes.txt").write_text("hello")
  manifest = run(source, tmp_path / "out", clips_per_video=2)
  assert (manifest["videos"], manifest["clips"]) == (3, 6)
  assert manifest["files"] == {"seen": 8, "used": 3, "skipped": 5, "warned": 1}
  assert manifest["splits"] == {
    "train": {"videos": 3, "clips": 6, "shards": 1},
    "test": {"videos": 0, "clips": 0, "shards": 0},
  }
  assert [shard["file"] for shard in manifest["shards"]] == ["train-00000.tfrecord"]
  found = reasons(manifest, source)
  assert sorted(found) == ["cut.avi", "empty.mov", "notes.txt", "short.avi", "text.mkv"]
  assert found["short.avi"] == "too short: 5 frames, a clip needs 8"
  assert found["empty.mov"] == "empty file (0 bytes)"
  assert re.fullmatch(
    r"too short: \d frames, a clip needs 8; cut or damaged \(FFmpeg: .+\): used "
    r"the \d frames that decoded of the 20 its header lists",
    found["cut.avi"],
  )
  assert found["text.mkv"].startswith("no frame could be decoded")
  assert found["notes.txt"].startswith("extension '.txt' is not a video format")
  (warning,) = manifest["warnings"]
  assert os.path.basename(warning["path"]) == "cut_long.mkv"
  assert warning["warning"].startswith("cut or damaged (FFmpeg: File ended prematurely): used the")
  assert [record["video_id"] for record in records(tmp_path / "out")] == [b"cut_long.mkv"] * 2 + [
    b"good.avi"
  ] * 2 + [b"sub/good.mp4"] * 2


def test_clip_pixels_match_the_source_frames(tmp_path):
  os.makedirs(tmp_path / "videos")
  source = smooth_video(20, 24, 32)
  write_avi(tmp_path / "videos" / "a.avi", source)
  run(tmp_path / "videos", tmp_path / "out", clip_stride=4)
  stored = records(tmp_path / "out")
  assert [record["start_frame"] for record in stored] == [0, 4, 8, 12]
  for record in stored:
    start = record["start_frame"]
    expected = expected_frames(source[start : start + FRAMES], SIZE)
    assert mean_abs_error(record["clip"], expected) < MAX_MEAN_ERROR


def test_frame_step_samples_the_source_frames(tmp_path):
  os.makedirs(tmp_path / "videos")
  source = smooth_video(20, 24, 32)
  write_avi(tmp_path / "videos" / "a.avi", source)
  run(tmp_path / "videos", tmp_path / "out", frame_step=2, clips_per_video=2)
  stored = records(tmp_path / "out")
  assert [record["start_frame"] for record in stored] == [0, 4]  # kept frames 0 and 2
  for record in stored:
    start = record["start_frame"]
    expected = expected_frames(source[start : start + 2 * FRAMES : 2], SIZE)
    assert mean_abs_error(record["clip"], expected) < MAX_MEAN_ERROR


def test_ucf101_split_lists_give_the_splits_and_the_class_labels(tmp_path):
  source = tmp_path / "UCF-101"
  ucf101_tree(source, ["ApplyEyeMakeup", "Basketball"], groups=[1, 2])
  lists = tmp_path / "ucfTrainTestlist"
  os.makedirs(lists)
  (lists / "trainlist01.txt").write_text(
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 1\nBasketball/v_Basketball_g02_c01.avi 2\n"
    "Basketball/v_Basketball_g03_c01.avi 2\n"
  )
  (lists / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n")
  manifest = run(source, tmp_path / "out", "ucf101", split_files=[str(lists / "trainlist01.txt")])
  assert manifest["splits"]["train"]["clips"] == 2 and manifest["splits"]["test"]["clips"] == 1
  assert manifest["labels"] == ["ApplyEyeMakeup", "Basketball"]
  # The manifest names both lists read: the one given and the sibling it brought.
  assert manifest["split_files"] == [str(lists / "testlist01.txt"), str(lists / "trainlist01.txt")]
  assert reasons(manifest, source) == {
    "Basketball/v_Basketball_g01_c01.avi": "not listed in the --split_file lists",
    "Basketball/v_Basketball_g03_c01.avi": "listed in a --split_file list but missing",
  }
  (test_clip,) = records(tmp_path / "out", "test")
  assert test_clip["video_id"] == b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"
  assert test_clip["label"] == b"ApplyEyeMakeup"


def test_ucf101_group_split_never_puts_a_group_on_both_sides(tmp_path):
  source = tmp_path / "UCF-101"
  for label in ("Archery", "Bowling", "Diving"):
    os.makedirs(source / label)
    for group in range(1, 26):
      for clip in range(1, 4):
        (source / label / f"v_{label}_g{group:02d}_c{clip:02d}.avi").write_bytes(b"")
  items, _ = layouts.discover("ucf101", str(source), test_fraction=0.3)
  groups = {
    split: {item.group for item in items if item.split == split} for split in layouts.SPLITS
  }
  assert not groups["train"] & groups["test"]
  assert groups["test"] == layouts.split_groups(groups["train"] | groups["test"], 0.3)
  assert 0 < len(groups["test"]) < 25 and len(groups["train"] | groups["test"]) == 25
  assert {item.label for item in items} == {"Archery", "Bowling", "Diving"}


def test_ucf101_group_split_holds_in_the_written_shards(tmp_path):
  source = tmp_path / "UCF-101"
  ucf101_tree(source, ["Archery", "Bowling"], groups=[1, 2, 3])
  manifest = run(source, tmp_path / "out", "ucf101", test_fraction=0.34)
  groups = {
    split: {record["video_id"].split(b"_")[-2] for record in records(tmp_path / "out", split)}
    for split in layouts.SPLITS
  }
  assert groups["train"] and groups["test"] and not groups["train"] & groups["test"]
  assert manifest["splits"]["test"]["clips"] == 2 * len(groups["test"])


def test_aslan_stores_the_file_name_as_the_id(tmp_path):
  os.makedirs(tmp_path / "aslan" / "part1")
  write_avi(tmp_path / "aslan" / "part1" / "00017.avi", smooth_video(10, 24, 32))
  run(tmp_path / "aslan", tmp_path / "out", "aslan")
  (record,) = records(tmp_path / "out")
  assert record["video_id"] == b"00017.avi"


def test_vgan_strips_listed_by_an_index_file(tmp_path):
  source = tmp_path / "vgan"
  os.makedirs(source / "beach")
  strip = smooth_video(FRAMES, 32, 32)
  write_strip(source / "beach" / "a.jpg", strip)
  write_strip(source / "beach" / "unlisted.jpg", strip)
  cv2.imwrite(str(source / "wide.jpg"), np.zeros((40, 32, 3), np.uint8))
  (source / "index.txt").write_text("beach/a.jpg\nwide.jpg\nbeach/gone.jpg\n")
  manifest = run(source, tmp_path / "out", "vgan", index_file=str(source / "index.txt"))
  assert manifest["clips"] == 1
  found = reasons(manifest, source)
  assert found["wide.jpg"].startswith("not a strip of square frames")
  assert found["beach/gone.jpg"] == "listed in --index_file but missing"
  (record,) = records(tmp_path / "out")
  assert record["video_id"] == b"beach/a.jpg"
  assert mean_abs_error(record["clip"], expected_frames(strip, SIZE)) < MAX_MEAN_ERROR


def test_vgan_strips_are_found_recursively_without_an_index_file(tmp_path):
  source = tmp_path / "vgan"
  os.makedirs(source / "golf" / "1")
  write_strip(source / "golf" / "1" / "a.jpg", smooth_video(FRAMES, 32, 32))
  write_strip(source / "b.jpeg", smooth_video(FRAMES, 32, 32, seed=1))
  manifest = run(source, tmp_path / "out", "vgan")
  assert manifest["clips"] == 2 and not manifest["skipped"]


def _source_of_four_videos(tmp_path):
  source = tmp_path / "videos"
  os.makedirs(source)
  for number in range(4):
    write_avi(source / f"{number}.avi", smooth_video(12, 24, 32, seed=number))
  return source


def _shard_bytes(out):
  return {
    name: (out / name).read_bytes()
    for name in sorted(os.listdir(out))
    if name.endswith(".tfrecord")
  }


def test_an_interrupted_run_leaves_no_partial_shard_and_resumes(tmp_path, monkeypatch):
  source = _source_of_four_videos(tmp_path)
  settings = dict(clips_per_video=2, shard_mb=1e-9)  # every file completes a shard
  straight = run(source, tmp_path / "straight", **settings)

  original_write = shards.ShardWriter.write
  calls = []

  def write_then_fail(self, record):
    calls.append(record)
    if len(calls) == 6:  # the second clip of the third file
      raise RuntimeError("disk full")
    original_write(self, record)

  monkeypatch.setattr(shards.ShardWriter, "write", write_then_fail)
  out = tmp_path / "out"
  with pytest.raises(RuntimeError, match="disk full"):
    run(source, out, **settings)
  assert sorted(os.listdir(out)) == [
    files.LOCK_FILE,
    shards.PROGRESS,
    "train-00000.tfrecord",
    "train-00001.tfrecord",
  ]
  assert _shard_bytes(out) == {
    name: data
    for name, data in _shard_bytes(tmp_path / "straight").items()
    if name in ("train-00000.tfrecord", "train-00001.tfrecord")
  }
  with pytest.raises(ValueError, match="unfinished"):
    shards.read_manifest(str(out))

  monkeypatch.setattr(shards.ShardWriter, "write", original_write)
  first_shard = os.stat(out / "train-00000.tfrecord")
  resumed = run(source, out, **settings)
  assert os.stat(out / "train-00000.tfrecord").st_mtime_ns == first_shard.st_mtime_ns
  assert resumed["shards"] == straight["shards"] and resumed["clips"] == 8
  assert _shard_bytes(out) == _shard_bytes(tmp_path / "straight")
  assert shards.PROGRESS not in os.listdir(out)


def test_a_finished_run_is_kept_and_other_settings_need_overwrite(tmp_path):
  source = _source_of_four_videos(tmp_path)
  out = tmp_path / "out"
  first = run(source, out)
  written = os.stat(out / "train-00000.tfrecord").st_mtime_ns
  assert run(source, out) == first
  assert os.stat(out / "train-00000.tfrecord").st_mtime_ns == written
  with pytest.raises(ValueError, match="other settings.*--overwrite"):
    run(source, out, size=8)
  assert run(source, out, size=8, overwrite=True)["size"] == 8


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_of_other_files_is_refused_as_out_and_kept_as_it_was(tmp_path, overwrite):
  source = _source_of_four_videos(tmp_path)
  out = tmp_path / "samples"
  os.makedirs(out / "checkpoints")
  (out / "video_0.gif").write_bytes(b"GIF89a")
  with pytest.raises(
    ValueError, match=r"holds other files \(checkpoints, ...\) and no shards; give a new"
  ):
    run(source, out, overwrite=overwrite)
  assert sorted(os.listdir(out)) == ["checkpoints", "video_0.gif"]
  hidden = tmp_path / "hidden"
  os.makedirs(hidden)
  (hidden / ".DS_Store").write_bytes(b"")  # a desktop's own file does not make it someone's folder
  assert run(source, hidden)["clips"] > 0


def test_a_finished_run_with_a_cut_or_missing_shard_is_not_kept_as_done(tmp_path):
  source = _source_of_four_videos(tmp_path)
  out = tmp_path / "out"
  first = run(source, out)
  shard = out / first["shards"][0]["file"]
  truncate(shard, 0.5)
  with pytest.raises(ValueError, match=rf"shard {shard} is damaged: .* --overwrite to prepare"):
    run(source, out)
  shard.unlink()
  with pytest.raises(ValueError, match=rf"shard {shard} is missing: run the same command"):
    run(source, out)
  assert run(source, out, overwrite=True)["shards"] == first["shards"]


def test_a_file_that_hangs_is_skipped_after_the_timeout(tmp_path):
  source = tmp_path / "videos"
  os.makedirs(source)
  write_avi(source / "good.avi", smooth_video(10, 24, 32))
  os.mkfifo(source / "stuck.avi")  # opening it blocks forever: no process ever writes to it
  # good.avi decodes in about 10 ms; the limit leaves it room on a machine busy with other work
  # (a 1 s limit was missed there), and the fifo is waited for that long whatever the limit.
  manifest = run(source, tmp_path / "out", timeout_s=15)
  assert reasons(manifest, source) == {"stuck.avi": "timed out after 15 s"}
  assert manifest["clips"] == 1


def test_a_missing_or_empty_source_is_a_user_error(tmp_path):
  with pytest.raises(ValueError, match="is not a folder"):
    run(tmp_path / "missing", tmp_path / "out")
  os.makedirs(tmp_path / "empty")
  (tmp_path / "empty" / "readme.txt").write_text("no videos here")
  with pytest.raises(
    ValueError,
    match=r"holds no usable folder files: found 1 files: 1 \.txt, "
    r"expected videos \(\.mp4, ",
  ):
    run(tmp_path / "empty", tmp_path / "out")


def test_a_source_of_broken_files_only_is_a_user_error(tmp_path):
  os.makedirs(tmp_path / "videos")
  (tmp_path / "videos" / "a.avi").write_bytes(b"")
  with pytest.raises(ValueError, match="no clip could be cut.*empty file"):
    run(tmp_path / "videos", tmp_path / "out")


def test_cli_prints_a_bad_source_as_an_error_without_traceback(tmp_path):
  result = helpers.run_cli(
    "prepare", "--format=folder", f"--source={tmp_path / 'missing'}", f"--out={tmp_path / 'out'}"
  )
  assert result.returncode == 2
  assert "relive prepare: error: --source=" in result.stderr
  assert "Traceback" not in result.stderr


def test_training_two_steps_on_prepared_shards(tmp_path, make_config, monkeypatch, caplog):
  source = tmp_path / "videos"
  os.makedirs(source)
  for number in range(2):
    write_avi(source / f"{number}.avi", smooth_video(34, 64, 80, seed=number))
  out = tmp_path / "shards"
  run(source, out, frames=32, size=64)
  config = make_config(
    "vgan",
    "tiny",
    data__source="shards",
    data__path="shards",  # relative: config.json names it absolute, for later commands elsewhere
    train__num_steps=2,
    train__batch_size=2,
    train__critic_steps=1,
    train__num_samples=1,
    train__checkpoint_every=1,
    train__summary_every=2,
  )
  workdir = tmp_path / "workdir"
  monkeypatch.chdir(tmp_path)
  helpers.train(config, workdir)
  assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("-2")
  assert json.loads((workdir / "config.json").read_text())["data"]["path"] == str(out)
  clip = next(iter(shards.indexed_clips(str(out), split="train", seed=0, frames=32, size=64)))[1]
  assert clip.shape == (32, 64, 64, 3) and np.ptp(clip.numpy()) > 100
  # Prepared again with another video: a resume's data position points into other clips.
  write_avi(source / "2.avi", smooth_video(34, 64, 80, seed=2))
  run(source, out, frames=32, size=64, overwrite=True)
  config.train.num_steps = 4
  with caplog.at_level(logging.WARNING, logger="absl"):
    helpers.train(config, workdir)
    warned = [line for line in caplog.messages if "were prepared again" in line]
    assert warned == [
      f"the shards in {out} were prepared again since this run read them (their manifest's "
      "fingerprint changed): training goes on from step 2 with other clips; to keep the run's "
      "own, prepare new data into another folder"
    ]
    caplog.clear()
    config.train.num_steps = 6
    helpers.train(config, workdir)  # the same shards as the last run: nothing to say
  assert not [line for line in caplog.messages if "were prepared again" in line]


def test_an_out_folder_another_prepare_is_writing_is_refused(tmp_path):
  source = tmp_path / "videos"
  os.makedirs(source)
  write_avi(source / "good.avi", smooth_video(10, 24, 32))
  with files.exclusive_use(str(tmp_path / "out"), "relive prepare"):
    with pytest.raises(ValueError, match="out is in use by relive prepare"):
      run(source, tmp_path / "out")
  assert run(source, tmp_path / "out")["clips"] == 1


def test_a_ucf101_source_one_level_off_says_where_the_listed_videos_are(tmp_path):
  ucf101_tree(tmp_path / "data" / "UCF-101", ["Archery"], groups=[1, 2])
  lists = tmp_path / "lists"
  os.makedirs(lists)
  (lists / "trainlist01.txt").write_text("Archery/v_Archery_g01_c01.avi 1\n")
  (lists / "testlist01.txt").write_text("Archery/v_Archery_g02_c01.avi\n")
  for source in (tmp_path / "data", tmp_path / "data" / "UCF-101" / "Archery"):
    with pytest.raises(
      ValueError,
      match=rf"--source={source}: none of the 2 files named in the "
      rf"--split_file lists \(e.g. 'Archery/v_Archery_g02_c01.avi'\) is there, "
      rf"but they are under {tmp_path / 'data' / 'UCF-101'}: use --source=",
    ):
      layouts.discover("ucf101", str(source), split_files=[str(lists / "trainlist01.txt")])


def test_a_vgan_index_whose_files_are_nowhere_near_says_what_the_source_holds(tmp_path):
  os.makedirs(tmp_path / "strips")
  write_strip(tmp_path / "strips" / "a.jpg", smooth_video(FRAMES, 32, 32))
  (tmp_path / "index.txt").write_text("golf/0000/a.jpg 8\n")
  with pytest.raises(
    ValueError,
    match=r"none of the 1 files named in --index_file \(e.g. "
    r"'golf/0000/a.jpg'\) is there; it holds 1 files: 1 \.jpg",
  ):
    layouts.discover("vgan", str(tmp_path / "strips"), index_file=str(tmp_path / "index.txt"))


def test_a_source_without_videos_says_what_it_found_and_what_was_expected(tmp_path):
  os.makedirs(tmp_path / "lists")
  for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt", "readme.md"):
    (tmp_path / "lists" / name).write_text("x\n")
  with pytest.raises(
    ValueError,
    match=r"holds no usable ucf101 files: found 4 files: 3 \.txt, 1 "
    r"\.md, expected UCF-101 videos named v_<Class>_gGG_cCC\.avi",
  ):
    layouts.discover("ucf101", str(tmp_path / "lists"))


def test_lists_read_any_line_ending_a_bom_and_latin1_names(tmp_path):
  path = tmp_path / "list.txt"
  path.write_bytes(b"\xef\xbb\xbfa.avi 1\r\nb.avi 2\rc.avi\n\n# comment\r\ncaf\xe9.avi\r\n")
  assert layouts.read_list(str(path), "--index_file") == [
    "a.avi",
    "b.avi",
    "c.avi",
    os.fsdecode(b"caf\xe9.avi"),
  ]


def test_adding_groups_never_moves_an_old_one_to_the_other_split():
  groups = [f"v{i}.mp4" for i in range(200)]
  test = layouts.split_groups(groups, 0.1)
  assert 10 <= len(test) <= 30  # about a tenth: each name's hash decides
  for added in range(1, 40):  # ranked by hash, v5 of v0..v9 went to train when v12 came
    more = groups + [f"new{i}.mp4" for i in range(added)]
    assert layouts.split_groups(more, 0.1) & set(groups) == test
  assert len(layouts.split_groups(["a.mp4", "b.mp4"], 0.01)) == 1  # both splits get a group
  assert not layouts.split_groups(["clip4.avi"], 0.1)  # it hashes below 0.1: one group trains
  assert len(layouts.split_groups(["a.mp4", "b.mp4"], 0.99)) == 1


@pytest.mark.parametrize("empty", ["test", "train"])
def test_cli_warns_when_a_split_got_only_files_it_skipped(tmp_path, empty):
  os.makedirs(tmp_path / "videos")
  names = ["a.avi", "b.avi"]
  (tested,) = layouts.split_groups(names, 0.5)  # the one the test split gets
  for name in names:
    if (name == tested) == (empty == "test"):
      (tmp_path / "videos" / name).write_bytes(b"")
    else:
      write_avi(tmp_path / "videos" / name, smooth_video(10, 24, 32))
  result = helpers.run_cli(
    "prepare",
    "--format=folder",
    f"--source={tmp_path / 'videos'}",
    f"--out={tmp_path / 'out'}",
    f"--frames={FRAMES}",
    f"--size={SIZE}",
    "--test_fraction=0.5",
  )
  assert result.returncode == 0, result.stderr
  counts = {"test": "train: 1 clip, test: 0 clips", "train": "train: 0 clips, test: 1 clip"}
  assert f"({counts[empty]})" in result.stdout
  assert f"the {empty} split holds no clips: its files were skipped or too short" in result.stderr


def test_a_clip_taller_than_a_jpeg_strip_holds_is_refused_before_decoding(tmp_path):
  # Every file was decoded, then skipped as "OpenCV could not encode".
  (tmp_path / "videos").mkdir()
  write_avi(tmp_path / "videos" / "a.avi", smooth_video(40, 16, 16))
  with pytest.raises(ValueError, match="65536 rows of a JPEG strip, .*give --encoding=png"):
    prepare.prepare(
      layout="folder",
      source=str(tmp_path / "videos"),
      out=str(tmp_path / "out"),
      frames=32,
      size=2048,
    )
  assert not (tmp_path / "out").exists()


def test_a_clip_of_more_pixels_than_opencv_holds_is_refused_for_any_encoding(tmp_path):
  # PNG and raw decoded every file, then failed allocating 30 GB a clip.
  with pytest.raises(ValueError, match=r"pixels a clip, more than a clip may hold"):
    prepare.prepare(
      layout="folder",
      source=str(tmp_path),
      out=str(tmp_path.parent / "out"),
      frames=32,
      size=8192,
      encoding="png",
    )
