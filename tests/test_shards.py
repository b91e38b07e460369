"""Shards: atomic writing, the output folder's rules, and the reader's order, start and errors."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from relive_tf.data import shards
from relive_tf.data import video_read

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
  with pytest.raises(ValueError, match=f"holds clips of {FRAMES} frames of {SIZE}x{SIZE}"):
    shards.indexed_clips(str(tmp_path), split="train", seed=0, frames=frames, size=size)


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


def test_a_finished_folder_of_the_same_run_gives_its_manifest(tmp_path):
  manifest = write_folder(tmp_path, {"train": 2})
  folder = shards.PreparedFolder(
    str(tmp_path), splits=("train",), fingerprint="run", shard_bytes=1, overwrite=False
  )
  assert folder.manifest == manifest
  with open(tmp_path / shards.MANIFEST, encoding="utf-8") as f:
    assert json.load(f) == manifest
