"""TFRecord shards of prepared clips: writing them atomically, manifest.json, and reading them back.

A prepared folder holds `<split>-NNNNN.tfrecord` shards and `manifest.json`. Each record is a
tf.train.Example with "clip" (the frames encoded by video_read.encode_clip), "video_id", "label" and
"start_frame" (the clip's first frame in the source file).
"""

import copy
import json
import os
import re

import numpy as np
import tensorflow as tf

from relive_tf import files

MANIFEST = "manifest.json"
PROGRESS = "progress.json"
_SHARD_NAME = re.compile(r"^(train|test)-\d{5}\.tfrecord(\.partial)?$")
_PARTIAL = ".partial"
# Serialized clips shuffled together; with JPEG clips of 32x64x64 (~0.1 MB), about 1,300.
_SHUFFLE_WINDOW_BYTES = 128 << 20
_READ_PARALLEL_FILES = 8
_RECORD_OVERHEAD_BYTES = 16  # TFRecord framing: length, its CRC, and the data's CRC


def shard_name(split, number):
  """File name of shard `number` of a split: "train-00003.tfrecord"."""
  return f"{split}-{number:05d}.tfrecord"


def is_shard_file(name):
  """Whether a file name is a shard or the temporary name of an unfinished one."""
  return bool(_SHARD_NAME.match(name))


def clip_example(encoded_clip, *, video_id, label, start_frame):
  """A serialized tf.train.Example for one clip.

  Args:
    encoded_clip: bytes from video_read.encode_clip.
    video_id: the source file's id (layouts.Item.id).
    label: the class, or "".
    start_frame: the clip's first frame, counted in the source file's frames.

  Returns:
    bytes.
  """

  def bytes_feature(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  return tf.train.Example(
    features=tf.train.Features(
      feature={
        "clip": bytes_feature(encoded_clip),
        "video_id": bytes_feature(video_id.encode()),
        "label": bytes_feature(label.encode()),
        "start_frame": tf.train.Feature(int64_list=tf.train.Int64List(value=[start_frame])),
      }
    )
  ).SerializeToString()


class ShardWriter:
  """Writes one split's records into shards of about `shard_bytes`.

  A shard is written under a temporary name and renamed when complete, so every file under a final
  name is whole. Shards end only between source files (`end_of_file`), so a finished shard holds
  every clip of the files it covers, which is what lets an interrupted run resume.
  """

  def __init__(self, folder, split, shard_bytes, first_number=0):
    """Prepares to write `split` shards into `folder`, numbered from `first_number`."""
    self._folder = folder
    self._split = split
    self._shard_bytes = shard_bytes
    self._number = first_number
    self._writer = None
    self._clips = 0
    self._bytes = 0

  def _final_path(self):
    return os.path.join(self._folder, shard_name(self._split, self._number))

  def write(self, record):
    """Appends one serialized record to the open shard, opening one when needed."""
    if self._writer is None:
      self._writer = tf.io.TFRecordWriter(self._final_path() + _PARTIAL)
      self._clips = self._bytes = 0
    self._writer.write(record)
    self._clips += 1
    self._bytes += len(record) + _RECORD_OVERHEAD_BYTES

  def end_of_file(self):
    """Marks the end of a source file's clips; closes the shard once it holds `shard_bytes`.

    Returns:
      The closed shard's {"file", "split", "clips", "bytes"}, or None while it stays open.
    """
    if self._writer is None or self._bytes < self._shard_bytes:
      return None
    return self.close()

  def close(self):
    """Completes the open shard under its final name.

    Returns:
      The shard's {"file", "split", "clips", "bytes"}, or None when no shard was open.
    """
    if self._writer is None:
      return None
    self._writer.close()
    self._writer = None
    final = self._final_path()
    os.replace(final + _PARTIAL, final)
    self._number += 1
    return {
      "file": os.path.basename(final),
      "split": self._split,
      "clips": self._clips,
      "bytes": os.path.getsize(final),
    }

  def abort(self):
    """Drops the open shard: its temporary file is deleted and no final name appears."""
    if self._writer is None:
      return
    self._writer.close()
    self._writer = None
    os.remove(self._final_path() + _PARTIAL)


class PreparedFolder:
  """The output folder of a `relive prepare` run, being filled split by split.

  Each split's clips go through a ShardWriter. Whenever a shard completes, the state of every
  split up to its last completed shard is saved in progress.json, so an interrupted run resumes
  after the files whose clips are all in completed shards. manifest.json marks the end.

  Attributes:
    manifest: the manifest of this same run when it already finished in the folder, else None.
  """

  _EMPTY_SPLIT = {"files_done": 0, "videos": 0, "clips": 0, "shards": [], "skipped": []}

  def __init__(self, out, *, splits, fingerprint, shard_bytes, overwrite):
    """Readies `out` (created when missing) for a run.

    Without `overwrite`, a folder holding another run's shards (other settings or source files, as
    told by `fingerprint`) is refused; with it, the shards, manifest and progress file there are
    deleted, and nothing else. Temporary files of unfinished shards are deleted either way.

    Args:
      out: the output folder.
      splits: the split names.
      fingerprint: a digest of the run's settings and file list.
      shard_bytes: a shard ends at the first file boundary past this size.
      overwrite: replace another run's shards instead of refusing.

    Raises:
      ValueError: `out` holds another run's shards and `overwrite` is off.
    """
    self._out = out
    self._fingerprint = fingerprint
    self.manifest = None
    progress = self._claim(overwrite)
    self._committed = (
      progress["splits"]
      if progress
      else {split: copy.deepcopy(self._EMPTY_SPLIT) for split in splits}
    )
    self._running = copy.deepcopy(self._committed)
    self._writers = {
      split: ShardWriter(out, split, shard_bytes, len(state["shards"]))
      for split, state in self._running.items()
    }

  def _claim(self, overwrite):
    """Applies the rules above; returns the saved progress of this run, or None."""
    out = self._out
    os.makedirs(out, exist_ok=True)
    ours = [name for name in sorted(os.listdir(out)) if is_shard_file(name)]
    states = [name for name in (MANIFEST, PROGRESS) if os.path.isfile(os.path.join(out, name))]
    for name in ours + states if overwrite else ours:
      if overwrite or name.endswith(_PARTIAL):
        os.remove(os.path.join(out, name))
    if overwrite:
      return None
    for name in states:
      path = os.path.join(out, name)
      try:
        with open(path, encoding="utf-8") as f:
          state = json.load(f)
      except ValueError:
        raise ValueError(
          f"{path} is not valid JSON; give another --out, or --overwrite to start again"
        ) from None
      if state.get("fingerprint") != self._fingerprint:
        raise ValueError(
          f"--out={out} holds shards prepared with other settings or from other "
          "source files; give another --out, or --overwrite to replace them"
        )
      if name == MANIFEST:
        self.manifest = state
        return None
      return state
    finished = [name for name in ours if not name.endswith(_PARTIAL)]
    if finished:
      raise ValueError(
        f"--out={out} holds shards ({finished[0]}, ...) but no {MANIFEST}; give "
        "another --out, or --overwrite to replace them"
      )
    return None

  def files_done(self, split):
    """How many of the split's files (in their fixed order) a resumed run can leave out."""
    return self._committed[split]["files_done"]

  @property
  def clips(self):
    """Clips written so far, in all splits."""
    return sum(state["clips"] for state in self._running.values())

  def add_file(self, split, *, path, video_id, label, clips=(), reason=None):
    """Records the split's next file: its clips, or the reason it gave none.

    Args:
      split: the file's split.
      path: the file's path, listed with `reason` when it is skipped.
      video_id, label: stored with each clip (see clip_example).
      clips: (start_frame, encoded clip) pairs.
      reason: why the file gives no clip; None when it gave clips.
    """
    state = self._running[split]
    writer = self._writers[split]
    if reason is None:
      for start_frame, encoded in clips:
        writer.write(clip_example(encoded, video_id=video_id, label=label, start_frame=start_frame))
      state["videos"] += 1
      state["clips"] += len(clips)
    else:
      state["skipped"].append({"path": path, "reason": reason})
    state["files_done"] += 1
    shard = writer.end_of_file()
    if shard:
      state["shards"].append(shard)
      self._committed[split] = copy.deepcopy(state)
      files.write_json(
        os.path.join(self._out, PROGRESS),
        {"fingerprint": self._fingerprint, "splits": self._committed},
      )

  def finish(self, manifest):
    """Completes the last shards and writes manifest.json.

    Args:
      manifest: the run's own manifest fields, first in the file; the counts ("videos", "clips",
        "splits"), "shards", "skipped" (added to any given) and "fingerprint" are filled in here.

    Returns:
      The manifest written.
    """
    for split, writer in self._writers.items():
      shard = writer.close()
      if shard:
        self._running[split]["shards"].append(shard)
    splits = self._running
    manifest = dict(manifest)
    skipped = list(manifest.pop("skipped", []))
    for state in splits.values():
      skipped.extend(state["skipped"])
    manifest = dict(
      manifest,
      videos=sum(state["videos"] for state in splits.values()),
      clips=sum(state["clips"] for state in splits.values()),
      shards=[shard for state in splits.values() for shard in state["shards"]],
      splits={
        split: {"videos": state["videos"], "clips": state["clips"], "shards": len(state["shards"])}
        for split, state in splits.items()
      },
      skipped=sorted(skipped, key=lambda entry: entry["path"]),
      fingerprint=self._fingerprint,
    )
    files.write_json(os.path.join(self._out, MANIFEST), manifest)
    if os.path.exists(os.path.join(self._out, PROGRESS)):
      os.remove(os.path.join(self._out, PROGRESS))
    self.manifest = manifest
    return manifest

  def abort(self):
    """Drops the shards being written; the completed ones and the saved progress stay."""
    for writer in self._writers.values():
      writer.abort()


def read_manifest(path):
  """Reads a prepared folder's manifest.json.

  Raises:
    ValueError: the folder is missing, holds no finished preparation, or its manifest is unreadable.
  """
  if not os.path.isdir(path):
    raise ValueError(
      f"data path {path!r} is not a folder; prepare shards with `relive prepare "
      f"--format=... --source=VIDEOS --out={path}`"
    )
  manifest_path = os.path.join(path, MANIFEST)
  if not os.path.isfile(manifest_path):
    if os.path.isfile(os.path.join(path, PROGRESS)):
      raise ValueError(
        f"{path!r} holds an unfinished `relive prepare` run; run the same command "
        "again to finish it"
      )
    raise ValueError(
      f"{path!r} holds no prepared shards (no {MANIFEST}); prepare them with "
      f"`relive prepare --format=... --source=VIDEOS --out={path}`"
    )
  try:
    with open(manifest_path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError) as error:
    raise ValueError(
      f"cannot read {manifest_path}: {error}; prepare the folder again with "
      "`relive prepare ... --overwrite`"
    ) from None


def _split_shards(path, manifest, split, frames, size):
  """The shard paths and clip count of a split, after checking they fit the requested clips."""
  if (manifest["frames"], manifest["size"]) != (frames, size):
    raise ValueError(
      f"{path!r} holds clips of {manifest['frames']} frames of {manifest['size']}x"
      f"{manifest['size']}, but {frames} frames of {size}x{size} were asked for; prepare shards "
      f"with --frames={frames} --size={size}, or set the data frames and size to match"
    )
  shards = [shard for shard in manifest["shards"] if shard["split"] == split]
  clips = sum(shard["clips"] for shard in shards)
  if not clips:
    available = sorted({shard["split"] for shard in manifest["shards"]})
    raise ValueError(f"{path!r} holds no clips in split {split!r}; it has {available or 'none'}")
  files = [os.path.join(path, shard["file"]) for shard in shards]
  missing = [name for name in files if not os.path.isfile(name)]
  if missing:
    raise ValueError(
      f"{len(missing)} shards listed in {path}/{MANIFEST} are missing, e.g. "
      f"{missing[0]!r}; prepare the folder again with `relive prepare ... "
      "--overwrite`"
    )
  return files, clips, sum(shard["bytes"] for shard in shards)


def _decoder(encoding, frames, size):
  """A function serialized Example -> (clip uint8 [frames, size, size, 3], its other features)."""
  features = {
    "clip": tf.io.FixedLenFeature([], tf.string),
    "video_id": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.string),
    "start_frame": tf.io.FixedLenFeature([], tf.int64),
  }
  decode = {
    "jpeg": lambda data: tf.io.decode_jpeg(data, channels=3),
    "png": lambda data: tf.io.decode_png(data, channels=3),
    "raw": lambda data: tf.io.decode_raw(data, tf.uint8),
  }[encoding]

  def parse(record):
    example = tf.io.parse_single_example(record, features)
    clip = tf.reshape(decode(example.pop("clip")), [frames, size, size, 3])
    return clip, example

  return parse


def clip_records(path, *, split, frames, size):
  """One pass over a split's clips in stored order, with what is known of each.

  Args:
    path: a prepared folder.
    split: "train" or "test".
    frames, size: the clip shape the caller expects; another shape is an error.

  Returns:
    A finite dataset of dicts: "clip" uint8 [frames, size, size, 3], "video_id" and "label"
    string [], "start_frame" int64 [].
  """
  manifest = read_manifest(path)
  files, _, _ = _split_shards(path, manifest, split, frames, size)
  parse = _decoder(manifest["encoding"], frames, size)

  def to_dict(record):
    clip, example = parse(record)
    return dict(example, clip=clip)

  return tf.data.TFRecordDataset(files).map(
    to_dict, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
  )


def indexed_clips(path, *, split, seed, frames, size, start=0, num_shards=1, shard_index=0):
  """Endless, shuffled (index, clip) pairs from prepared shards, from example number `start`.

  Example i is a function of (seed, i) alone: epoch e = i // clips reads the shard files in an
  order drawn from (seed, e), interleaved, and shuffles each window of consecutive records (about
  128 MB of them) in an order drawn from (seed, e, window). Starting at `start` skips serialized
  records before any decoding, so a resumed run continues exactly where it stopped. With
  num_shards > 1 (one per input pipeline of a multi-worker run) this pipeline keeps the examples
  whose index is shard_index modulo num_shards, also before decoding.

  Args:
    path: a folder written by `relive prepare`.
    split: "train" or "test".
    seed: data seed.
    frames, size: the clip shape; shards of another shape are an error.
    start: index of the first example.
    num_shards: number of input pipelines sharing the examples.
    shard_index: this pipeline's number, in [0, num_shards).

  Returns:
    A dataset of (index int64 [], clip uint8 [frames, size, size, 3]).

  Raises:
    ValueError: no prepared shards at `path`, no clips in `split`, or clips of another shape.
  """
  manifest = read_manifest(path)
  files, clips, total_bytes = _split_shards(path, manifest, split, frames, size)
  parse = _decoder(manifest["encoding"], frames, size)
  window = int(np.clip(_SHUFFLE_WINDOW_BYTES * clips // total_bytes, 1, clips))
  cycle_length = min(len(files), _READ_PARALLEL_FILES)
  files = tf.constant(files)
  seed = tf.constant(seed, tf.int64)

  def shuffled(epoch_seed, number, records):
    # Stateless, unlike Dataset.shuffle, whose order also follows the trainer's global seed.
    window_seed = tf.random.experimental.stateless_fold_in(epoch_seed, number + 1)
    order = tf.argsort(tf.random.stateless_uniform(tf.shape(records), seed=window_seed))
    return tf.data.Dataset.from_tensor_slices(tf.gather(records, order))

  def epoch_records(epoch):
    epoch_seed = tf.stack([seed, epoch])
    order = tf.argsort(tf.random.stateless_uniform(tf.shape(files), seed=epoch_seed))
    records = tf.data.Dataset.from_tensor_slices(tf.gather(files, order)).interleave(
      tf.data.TFRecordDataset,
      cycle_length=cycle_length,
      num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True,
    )
    return (
      records.batch(window)
      .enumerate()
      .flat_map(lambda number, batch: shuffled(epoch_seed, number, batch))
    )

  first_epoch, offset = divmod(start, clips)
  endless = np.iinfo(np.int64).max
  records = tf.data.Dataset.range(first_epoch, endless).flat_map(epoch_records).skip(offset)
  dataset = tf.data.Dataset.zip(tf.data.Dataset.range(start, endless), records)
  if num_shards > 1:
    dataset = dataset.shard(num_shards, shard_index)

  def decode(index, record):
    return index, parse(record)[0]

  return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
