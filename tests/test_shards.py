"""Shards: atomic writing, the folder's rules, reading order, start and errors, damaged shards."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from relive_tf import errors
from relive_tf.data import shards
from relive_tf.data import video_read

import helpers

FRAMES, SIZE = 2, 4


def numbered_clip(number):
  """A clip whose every pixel is `number`, so the reader's output names the clip it came from."""
  return np.full((FRAMES, SIZE, SIZE, 3), number, np.uint8)


def write_folder(
  out, clips_per_split, *, encoding="raw", clips_per_file=2, shard_bytes=1, fingerprint="run"
):
  """A prepared folder: clip n of the split is numbered_clip(n); every file ends a shard."""
  folder = shards.PreparedFolder(
    str(out),
    splits=tuple(clips_per_split),
    fingerprint=fingerprint,
    shard_bytes=shard_bytes,
    overwrite=False,
  )
  for split, count in clips_per_split.items():
    for first in range(0, count, clips_per_file):
      numbers = range(first, min(first + clips_per_file, count))
      folder.add_file(
        split,
        path=f"{split}{first}.avi",
        video_id=f"{split}{first}.avi",
        label="",
        clips=[(n, video_read.encode_clip(numbered_clip(n), encoding)) for n in numbers],
      )
  return folder.finish({"format": "folder", "frames": FRAMES, "size": SIZE, "encoding": encoding})


def numbers(dataset, count):
  """(index, clip number) of the first `count` examples of an indexed_clips dataset."""
  return [(int(index), int(clip[0, 0, 0, 0])) for index, clip in dataset.take(count)]


def test_a_shard_appears_under_its_name_only_when_complete(tmp_path):
  writer = shards.ShardWriter(str(tmp_path), "train", shard_bytes=10**6)
  writer.write(b"record")
  assert writer.end_of_file() is None  # under shard_bytes: stays open
  assert os.listdir(tmp_path) == ["train-00000.tfrecord.partial"]
  shard = writer.close()
  assert shard["file"] == "train-00000.tfrecord" and shard["clips"] == 1
  assert os.listdir(tmp_path) == ["train-00000.tfrecord"]
  assert list(tf.data.TFRecordDataset(str(tmp_path / shard["file"])).as_numpy_iterator()) == [
    b"record"
  ]


def test_an_aborted_shard_leaves_no_file(tmp_path):
  writer = shards.ShardWriter(str(tmp_path), "train", shard_bytes=10**6)
  writer.write(b"record")
  writer.abort()
  assert not os.listdir(tmp_path)


def test_a_shard_ends_at_the_first_file_boundary_past_its_size(tmp_path):
  record = shards.clip_example(
    video_read.encode_clip(numbered_clip(0), "raw"), video_id="train0.avi", label="", start_frame=0
  )
  manifest = write_folder(tmp_path, {"train": 6}, clips_per_file=2, shard_bytes=3 * len(record))
  assert [shard["clips"] for shard in manifest["shards"]] == [4, 2]


@pytest.mark.parametrize("encoding", ["png", "raw"])
def test_lossless_clips_read_back_exactly_with_their_ids(tmp_path, encoding):
  write_folder(tmp_path, {"train": 3}, encoding=encoding)
  records = list(shards.clip_records(str(tmp_path), split="train", frames=FRAMES, size=SIZE))
  for number, record in enumerate(records):
    np.testing.assert_array_equal(record["clip"], numbered_clip(number))
    assert record["start_frame"] == number
  assert [record["video_id"].numpy() for record in records] == [b"train0.avi"] * 2 + [b"train2.avi"]


def test_indexed_clips_start_continues_a_run_exactly_across_epochs(tmp_path):
  write_folder(tmp_path, {"train": 5})
  straight = numbers(
    shards.indexed_clips(str(tmp_path), split="train", seed=1, frames=FRAMES, size=SIZE), 13
  )
  resumed = numbers(
    shards.indexed_clips(str(tmp_path), split="train", seed=1, frames=FRAMES, size=SIZE, start=7), 6
  )
  assert [index for index, _ in straight] == list(range(13))
  assert resumed == straight[7:]


def test_every_epoch_holds_each_clip_once_in_an_order_drawn_from_the_seed(tmp_path):
  write_folder(tmp_path, {"train": 8})

  def epochs(seed):
    order = [
      number
      for _, number in numbers(
        shards.indexed_clips(str(tmp_path), split="train", seed=seed, frames=FRAMES, size=SIZE), 16
      )
    ]
    return order[:8], order[8:]

  first, second = epochs(seed=1)
  assert sorted(first) == sorted(second) == list(range(8))
  assert first != second  # each epoch is shuffled anew
  assert epochs(seed=1) == (first, second)
  assert epochs(seed=2) != (first, second)


def test_the_order_does_not_follow_the_global_seed(tmp_path):
  write_folder(tmp_path, {"train": 6})

  def read():
    return numbers(
      shards.indexed_clips(str(tmp_path), split="train", seed=1, frames=FRAMES, size=SIZE), 6
    )

  unseeded = read()
  tf.random.set_seed(123)  # as the trainer does
  try:
    assert read() == unseeded
  finally:
    tf.random.set_seed(None)


def test_worker_shards_split_the_examples_between_them(tmp_path):
  write_folder(tmp_path, {"train": 5})
  everything = numbers(
    shards.indexed_clips(str(tmp_path), split="train", seed=0, frames=FRAMES, size=SIZE), 10
  )
  halves = [
    numbers(
      shards.indexed_clips(
        str(tmp_path),
        split="train",
        seed=0,
        frames=FRAMES,
        size=SIZE,
        num_shards=2,
        shard_index=index,
      ),
      5,
    )
    for index in (0, 1)
  ]
  assert sorted(halves[0] + halves[1]) == everything
  assert all(index % 2 == 0 for index, _ in halves[0])


def test_reading_a_folder_without_shards_is_a_user_error(tmp_path):
  with pytest.raises(ValueError, match="no prepared shards"):
    shards.indexed_clips(str(tmp_path), split="train", seed=0, frames=FRAMES, size=SIZE)


def test_reading_an_unfinished_folder_is_a_user_error(tmp_path):
  (tmp_path / shards.PROGRESS).write_text("{}")
  with pytest.raises(ValueError, match="unfinished"):
    shards.indexed_clips(str(tmp_path), split="train", seed=0, frames=FRAMES, size=SIZE)


@pytest.mark.parametrize("frames, size", [(FRAMES + 1, SIZE), (FRAMES, SIZE * 2)])
def test_reading_clips_of_another_shape_is_a_user_error(tmp_path, frames, size):
  write_folder(tmp_path, {"train": 2})
  with pytest.raises(
    ValueError, match=f"holds clips of {FRAMES} frames of {SIZE}x{SIZE}"
  ) as raised:
    shards.indexed_clips(str(tmp_path), split="train", seed=0, frames=frames, size=size)
  assert str(raised.value).endswith(
    f"--frames={frames} --size={size}, or train a new workdir on these with "
    f"--config.data.frames={FRAMES} "
    f"--config.data.size={SIZE}"
  )


def test_reading_an_empty_split_is_a_user_error(tmp_path):
  write_folder(tmp_path, {"train": 2, "test": 0})
  with pytest.raises(ValueError, match="no clips in split 'test'"):
    shards.indexed_clips(str(tmp_path), split="test", seed=0, frames=FRAMES, size=SIZE)


def test_a_folder_of_another_run_is_refused_without_overwrite(tmp_path):
  write_folder(tmp_path, {"train": 2}, fingerprint="first")
  with pytest.raises(ValueError, match="--overwrite"):
    shards.PreparedFolder(
      str(tmp_path), splits=("train",), fingerprint="second", shard_bytes=1, overwrite=False
    )
  shards.PreparedFolder(
    str(tmp_path), splits=("train",), fingerprint="second", shard_bytes=1, overwrite=True
  )
  assert not os.listdir(tmp_path)


def test_stray_shards_without_a_manifest_are_refused(tmp_path):
  (tmp_path / "train-00000.tfrecord").write_bytes(b"")
  with pytest.raises(ValueError, match="no manifest.json"):
    shards.PreparedFolder(
      str(tmp_path), splits=("train",), fingerprint="run", shard_bytes=1, overwrite=False
    )


@pytest.mark.parametrize(
  "name, text",
  [
    (shards.MANIFEST, "null"),
    (shards.MANIFEST, '{"fingerprint": "run"}'),
    (shards.PROGRESS, "[]"),
    (shards.PROGRESS, '{"fingerprint": "run", "splits": {"train": {"shards": []}}}'),
  ],
)
def test_a_damaged_manifest_or_progress_file_is_named_with_the_fix(tmp_path, name, text):
  # AttributeError and KeyError tracebacks before.
  (tmp_path / name).write_text(text)
  with pytest.raises(
    ValueError, match=f"{name} is damaged: .*; give another --out, or --overwrite"
  ):
    shards.PreparedFolder(
      str(tmp_path), splits=("train",), fingerprint="run", shard_bytes=1, overwrite=False
    )


def test_a_label_that_is_not_utf8_is_stored_as_its_bytes():
  # A UCF-101 class folder named in Latin-1: a UnicodeEncodeError stopped the run.
  example = shards.clip_example(b"", video_id="caf\udce9.avi", label="Caf\udce9", start_frame=0)
  features = tf.train.Example.FromString(example).features.feature
  assert features["label"].bytes_list.value == [b"Caf\xe9"]


def test_a_finished_folder_of_the_same_run_gives_its_manifest(tmp_path):
  manifest = write_folder(tmp_path, {"train": 2})
  folder = shards.PreparedFolder(
    str(tmp_path), splits=("train",), fingerprint="run", shard_bytes=1, overwrite=False
  )
  assert folder.manifest == manifest
  with open(tmp_path / shards.MANIFEST, encoding="utf-8") as f:
    assert json.load(f) == manifest


# Damaged shards (case 24): a bad checksum, as a bad disk or copy gives, and a cut, as an
# interrupted copy gives.


def flip_middle(path):
  """Inverts two bytes in the middle of a file."""
  data = bytearray(path.read_bytes())
  middle = len(data) // 2
  data[middle] ^= 0xFF
  data[middle + 1] ^= 0xFF
  path.write_bytes(bytes(data))


def cut(path, share=0.7):
  path.write_bytes(path.read_bytes()[: int(path.stat().st_size * share)])


def one_shard_of_ten(out):
  """A folder whose train split is one shard of clips 0..9."""
  manifest = write_folder(out, {"train": 10}, clips_per_file=10)
  assert [shard["clips"] for shard in manifest["shards"]] == [10]
  return out / "train-00000.tfrecord"


def test_a_cut_shard_is_named_with_the_fix_before_anything_is_read(tmp_path):
  cut(one_shard_of_ten(tmp_path))
  message = (
    rf"shard {tmp_path}/train-00000.tfrecord is damaged: [\d,]+ bytes where "
    rf"manifest.json lists [\d,]+ \(cut by an interrupted copy\?\); copy the folder "
    rf"{tmp_path} again, or rebuild it with `relive prepare \.\.\. --out={tmp_path} "
    r"--overwrite`.*; or train past the damage with --config\.data\.skip_corrupt=True$"
  )
  with pytest.raises(ValueError, match=message):
    shards.indexed_clips(str(tmp_path), split="train", seed=0, frames=FRAMES, size=SIZE)
  with pytest.raises(ValueError, match=message):
    shards.clip_records(str(tmp_path), split="train", frames=FRAMES, size=SIZE)


@pytest.mark.parametrize(
  "read",
  [
    lambda path: numbers(
      shards.indexed_clips(path, split="train", seed=0, frames=FRAMES, size=SIZE), 10
    ),
    lambda path: list(shards.clip_records(path, split="train", frames=FRAMES, size=SIZE)),
  ],
  ids=["indexed_clips", "clip_records"],
)
def test_a_bad_checksum_fails_reading_with_one_line_naming_the_shard(tmp_path, read):
  flip_middle(one_shard_of_ten(tmp_path))
  with pytest.raises(tf.errors.InvalidArgumentError) as raised:
    read(str(tmp_path))
  message = errors.data_check_message(raised.value)
  assert message.startswith(
    f"shard {tmp_path}/train-00000.tfrecord is damaged: only 5 of its 10 "
    "records can be read (a bad checksum, or a cut); copy the folder"
  )
  assert message.endswith("--config.data.skip_corrupt=True") and "\n" not in message


@pytest.mark.parametrize("damage, readable", [(flip_middle, 5), (cut, 7)])
def test_skip_corrupt_reads_the_records_before_the_damage_in_every_epoch(
  tmp_path, damage, readable
):
  damage(one_shard_of_ten(tmp_path))
  assert (
    shards.skipped_records(str(tmp_path), split="train", frames=FRAMES, size=SIZE) == 10 - readable
  )
  read = numbers(
    shards.indexed_clips(
      str(tmp_path), split="train", seed=0, frames=FRAMES, size=SIZE, skip_corrupt=True
    ),
    3 * readable,
  )
  assert [index for index, _ in read] == list(range(3 * readable))
  for epoch in range(3):
    assert sorted(number for _, number in read[epoch * readable : (epoch + 1) * readable]) == list(
      range(readable)
    )
  records = list(
    shards.clip_records(str(tmp_path), split="train", frames=FRAMES, size=SIZE, skip_corrupt=True)
  )
  assert [int(record["start_frame"]) for record in records] == list(range(readable))


def test_skip_corrupt_names_a_damaged_shard_once_however_often_it_is_read(tmp_path, caplog):
  flip_middle(one_shard_of_ten(tmp_path))
  for _ in range(2):  # the loop's summary count, as often as it asks
    shards.skipped_records(str(tmp_path), split="train", frames=FRAMES, size=SIZE)
  clips = shards.indexed_clips(
    str(tmp_path), split="train", seed=0, frames=FRAMES, size=SIZE, skip_corrupt=True
  )
  next(iter(clips))
  warnings = [record.getMessage() for record in caplog.records if "skip_corrupt" in record.msg]
  assert len(warnings) == 1 and "5 of its 10 records are skipped" in warnings[0]


def test_verify_names_each_damaged_shard_and_what_is_wrong(tmp_path):
  write_folder(tmp_path, {"train": 6, "test": 2}, clips_per_file=2)  # 3 train shards, 1 test
  flip_middle(tmp_path / "train-00000.tfrecord")
  cut(tmp_path / "train-00002.tfrecord")
  results = {result["file"]: result for result in shards.verify(str(tmp_path))}
  assert results["train-00001.tfrecord"] == {
    "file": "train-00001.tfrecord",
    "clips": 2,
    "problem": None,
  }
  assert results["test-00000.tfrecord"]["problem"] is None
  assert re.fullmatch(
    r"only the first 1 of its 2 records can be read \(corrupted record at \d+\)",
    results["train-00000.tfrecord"]["problem"],
  )
  assert re.fullmatch(
    r"[\d,]+ bytes where manifest\.json lists [\d,]+; only the first 1 of its 2 "
    r"records can be read \(truncated record at \d+\)",
    results["train-00002.tfrecord"]["problem"],
  )


def test_verify_finds_a_clip_that_does_not_decode(tmp_path):
  folder = shards.PreparedFolder(
    str(tmp_path), splits=("train",), fingerprint="run", shard_bytes=1, overwrite=False
  )
  clip = video_read.encode_clip(numbered_clip(0), "png")
  folder.add_file(
    "train",
    path="a.avi",
    video_id="a.avi",
    label="",
    clips=[(0, clip), (1, clip[: len(clip) // 2])],
  )  # written whole, but a cut PNG
  folder.finish({"format": "folder", "frames": FRAMES, "size": SIZE, "encoding": "png"})
  (result,) = shards.verify(str(tmp_path))
  assert (result["clips"], result["problem"]) == (1, "1 of its clips cannot be decoded")


def test_cli_verify_lists_each_shard_and_fails_naming_the_damaged_ones(tmp_path):
  write_folder(tmp_path, {"train": 4}, clips_per_file=2)
  result = helpers.run_cli("prepare", f"--verify={tmp_path}")
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines() == [
    "train-00000.tfrecord: 2 clips, ok",
    "train-00001.tfrecord: 2 clips, ok",
    f"all 2 shards in {tmp_path} are whole: 4 clips",
  ]
  flip_middle(tmp_path / "train-00001.tfrecord")
  result = helpers.run_cli("prepare", f"--verify={tmp_path}")
  assert result.returncode == 1
  assert "train-00001.tfrecord: 1 clip, DAMAGED: only the first 1 of its 2" in result.stdout
  assert (
    f"relive prepare: error: 1 of the 2 shards in {tmp_path} is damaged (train-00001.tfrecord)"
  ) in result.stderr
  assert "Traceback" not in result.stderr


def test_cli_verify_of_one_shard_says_so_in_the_singular(tmp_path):
  write_folder(tmp_path, {"train": 2}, clips_per_file=2)
  result = helpers.run_cli("prepare", f"--verify={tmp_path}")
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[-1] == f"the shard in {tmp_path} is whole: 2 clips"
  flip_middle(tmp_path / "train-00000.tfrecord")
  result = helpers.run_cli("prepare", f"--verify={tmp_path}")
  assert result.returncode == 1
  assert (
    f"relive prepare: error: the shard in {tmp_path} is damaged (train-00000.tfrecord): copy it "
    "again"
  ) in result.stderr


def test_skip_corrupt_with_nothing_readable_is_an_error_naming_the_folder(tmp_path):
  shard = one_shard_of_ten(tmp_path)
  shard.write_bytes(b"\0" * shard.stat().st_size)  # the size is right, no record is
  with pytest.raises(
    ValueError,
    match=rf"no record of split 'train' in {tmp_path} can be read: "
    r"every shard is damaged; copy the folder",
  ):
    shards.indexed_clips(
      str(tmp_path), split="train", seed=0, frames=FRAMES, size=SIZE, skip_corrupt=True
    )


def test_a_folder_of_videos_given_as_shards_is_told_where_its_shards_can_go(tmp_path, monkeypatch):
  (tmp_path / "clip.mp4").write_bytes(b"")
  with pytest.raises(ValueError) as raised:
    shards.read_manifest(f"{tmp_path}/")
  # Not --out={tmp_path}, which prepare refuses: a folder inside its --source.
  assert f"--source={tmp_path}/ --out={tmp_path}_shards` and give that folder" in str(raised.value)
  monkeypatch.chdir(tmp_path)
  with pytest.raises(ValueError, match=f"--source=. --out={tmp_path}_shards` and give"):
    shards.read_manifest(".")  # not ._shards, inside the source
