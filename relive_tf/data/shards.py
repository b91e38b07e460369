"""TFRecord shards of prepared clips: writing them atomically, manifest.json, and reading them back.

A prepared folder holds `<split>-NNNNN.tfrecord` shards and `manifest.json`. Each record is a
tf.train.Example with "clip" (the frames encoded by video_read.encode_clip), "video_id", "label" and
"start_frame" (the clip's first frame in the source file).
"""

import contextlib
import copy
import dataclasses
import functools
import os
import re

import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf import errors
from relive_tf import files
from relive_tf.data import video_read
from relive_tf.errors import DATA_CHECK_PREFIX

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
    bytes, the same in every process: the features are written in key order (protobuf maps are
    otherwise serialized in an order that varies between processes), so a re-run after a crash
    writes byte-identical shards.
  """

  def bytes_feature(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  return tf.train.Example(
    features=tf.train.Features(
      feature={
        "clip": bytes_feature(encoded_clip),
        # Names that are not valid UTF-8 (a file's, a UCF-101 class folder's) are stored as bytes.
        "video_id": bytes_feature(video_id.encode("utf-8", "surrogateescape")),
        "label": bytes_feature(label.encode("utf-8", "surrogateescape")),
        "start_frame": tf.train.Feature(int64_list=tf.train.Int64List(value=[start_frame])),
      }
    )
  ).SerializeToString(deterministic=True)


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

  @contextlib.contextmanager
  def _writing(self):
    """Turns a failed write (a full disk, a lost permission) into an errors.WriteError naming the
    shard and the cause, after deleting the shard's temporary file."""
    try:
      yield
    except (tf.errors.OpError, OSError) as error:
      if self._writer is not None:
        with contextlib.suppress(tf.errors.OpError, OSError):
          self._writer.close()
        self._writer = None
      partial = self._final_path() + _PARTIAL
      with contextlib.suppress(tf.errors.OpError, OSError):
        files.discard(partial)
      raise errors.write_error(
        f"the shard {os.path.basename(self._final_path())}",
        partial,
        error,
        f"the {self._number} finished {self._split} shards before it are kept",
      ) from error

  def write(self, record):
    """Appends one serialized record to the open shard, opening one when needed.

    Raises:
      errors.WriteError: the write failed; the shard's temporary file is deleted.
    """
    with self._writing():
      self._write(record)

  def _write(self, record):
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

    Raises:
      errors.WriteError: the write failed; the shard's temporary file is deleted.
    """
    if self._writer is None:
      return None
    final = self._final_path()
    with self._writing():
      self._writer.close()
      self._writer = None
      # On disk before the rename, as files.atomic_write does: a crash never leaves a cut shard.
      files.commit(final + _PARTIAL, final)
    self._number += 1
    return {
      "file": os.path.basename(final),
      "split": self._split,
      "clips": self._clips,
      "bytes": tf.io.gfile.stat(final).length,
    }

  def abort(self):
    """Drops the open shard: its temporary file is deleted and no final name appears."""
    if self._writer is None:
      return
    self._writer.close()
    self._writer = None
    files.discard(self._final_path() + _PARTIAL)


def check_no_other_files(out):
  """Refuses an existing `out` that holds files and no shards (a workdir, a folder of GIFs): the
  shards would land among them. Hidden files (a lock, a desktop's own) do not count.

  Raises:
    ValueError: naming the folder and one of its files.
  """
  if not tf.io.gfile.isdir(out):
    return
  names = sorted(tf.io.gfile.listdir(out))
  ours = [name for name in names if is_shard_file(name) or name in (MANIFEST, PROGRESS)]
  others = [name.rstrip("/") for name in names if not name.startswith(".")]
  if others and not ours:
    raise ValueError(
      f"--out={out} holds other files ({others[0]}, ...) and no shards; give a new or empty "
      "folder for the shards"
    )


def claim(out, fingerprint, overwrite):
  """Readies `out` (created when missing) for a `relive prepare` run, local or remote.

  Without `overwrite`, a folder holding another run's shards (other settings or source files, as
  told by `fingerprint`) is refused; with it, the shards, manifest and progress file there are
  deleted, and nothing else. Temporary files of unfinished shards are deleted either way.

  Args:
    out: the output folder.
    fingerprint: a digest of the run's settings and file list.
    overwrite: replace another run's shards instead of refusing.

  Returns:
    (manifest, progress): the manifest of this same run when it already finished in `out`, and
    the saved progress of this run when it was interrupted there; None where there is none.

  Raises:
    ValueError: `out` holds another run's shards, or this run's with a shard missing or cut, and
      `overwrite` is off.
  """
  tf.io.gfile.makedirs(out)
  ours = [name for name in sorted(tf.io.gfile.listdir(out)) if is_shard_file(name)]
  states = [name for name in (MANIFEST, PROGRESS) if tf.io.gfile.exists(os.path.join(out, name))]
  for name in ours + states if overwrite else ours:
    if overwrite or name.endswith(_PARTIAL):
      tf.io.gfile.remove(os.path.join(out, name))
  if overwrite:
    return None, None
  for name in states:
    path = os.path.join(out, name)
    try:
      state = files.read_json(path)
    except ValueError:
      raise ValueError(
        f"{path} is not valid JSON; give another --out, or --overwrite to start again"
      ) from None
    problem = _manifest_problem(state) if name == MANIFEST else _progress_problem(state)
    if problem:
      raise ValueError(
        f"{path} is damaged: {problem}; give another --out, or --overwrite to start again"
      )
    if state.get("fingerprint") != fingerprint:
      raise ValueError(
        f"--out={out} holds shards prepared with other settings or from other "
        "source files; give another --out, or --overwrite to replace them"
      )
    if name == MANIFEST:
      changed = _changed_shard(out, state["shards"])
      if changed:
        raise ValueError(
          f"--out={out} holds these shards, but {changed}: run the same command with --overwrite "
          "to prepare them again"
        )
      return state, None
    return None, state
  finished = [name for name in ours if not name.endswith(_PARTIAL)]
  if finished:
    raise ValueError(
      f"--out={out} holds shards ({finished[0]}, ...) but no {MANIFEST}; give "
      "another --out, or --overwrite to replace them"
    )
  return None, None


def _progress_problem(progress):
  """What makes a saved progress file unusable for resuming (a damaged file), or None."""
  if not isinstance(progress, dict) or not isinstance(progress.get("splits"), dict):
    return "not a JSON object with the splits' states"
  for name, split in progress["splits"].items():
    counts = ("files_done", "videos", "clips")
    if not (
      isinstance(split, dict)
      and all(isinstance(split.get(key), int) for key in counts)
      and isinstance(split.get("shards"), list)
      and isinstance(split.get("skipped"), list)
    ):
      return f"split {name!r} lacks its counts ({', '.join(counts)}), shards or skipped files"
  return None


def _changed_shard(out, listed):
  """What is wrong with the first shard of `listed` (manifest entries) that is missing from `out`
  or not the size the manifest gives (cut by an interrupted copy), or None."""
  for shard in listed:
    path = os.path.join(out, shard["file"])
    if not tf.io.gfile.exists(path):
      return f"shard {path} is missing"
    size = tf.io.gfile.stat(path).length
    if size != shard["bytes"]:
      return f"shard {path} is damaged: {size:,} bytes where {MANIFEST} lists {shard['bytes']:,}"
  return None


def empty_split():
  """The state of a split before its first file: what PreparedFolder and the Beam pipeline add up
  ("shards": the shard entries, "skipped" and "warnings": entries per file)."""
  return {"files_done": 0, "videos": 0, "clips": 0, "shards": [], "skipped": [], "warnings": []}


def manifest_of(fields, splits, fingerprint):
  """The manifest.json of a finished run.

  Args:
    fields: the run's own manifest fields, first in the file; "skipped" entries given here (files
      the listing passed over) are added to the splits'.
    splits: {split: state} as empty_split() makes it, filled in.
    fingerprint: the run's digest (see claim).

  Returns:
    `fields` with the counts ("videos", "clips", "files": seen, used, skipped, warned; "splits"),
    "shards", "skipped" and "warnings" (sorted by path) and "fingerprint".
  """
  manifest = dict(fields)
  skipped = list(manifest.pop("skipped", []))
  warnings = []
  for state in splits.values():
    skipped.extend(state["skipped"])
    warnings.extend(state["warnings"])
  videos = sum(state["videos"] for state in splits.values())
  return dict(
    manifest,
    videos=videos,
    clips=sum(state["clips"] for state in splits.values()),
    files={
      "seen": videos + len(skipped),
      "used": videos,
      "skipped": len(skipped),
      "warned": len(warnings),
    },
    shards=[shard for state in splits.values() for shard in state["shards"]],
    splits={
      split: {"videos": state["videos"], "clips": state["clips"], "shards": len(state["shards"])}
      for split, state in splits.items()
    },
    skipped=sorted(skipped, key=lambda entry: entry["path"]),
    warnings=sorted(warnings, key=lambda entry: entry["path"]),
    fingerprint=fingerprint,
  )


def write_manifest(out, manifest):
  """Writes OUT/manifest.json, which marks the run finished, and deletes the saved progress."""
  files.write_json(os.path.join(out, MANIFEST), manifest)
  files.discard(os.path.join(out, PROGRESS))


class PreparedFolder:
  """The output folder of a `relive prepare` run, being filled split by split.

  Each split's clips go through a ShardWriter. Whenever a shard completes, the state of every
  split up to its last completed shard is saved in progress.json, so an interrupted run resumes
  after the files whose clips are all in completed shards. manifest.json marks the end.

  Attributes:
    manifest: the manifest of this same run when it already finished in the folder, else None.
  """

  def __init__(self, out, *, splits, fingerprint, shard_bytes, overwrite):
    """Readies `out` for a run (see claim, which raises ValueError for another run's shards).

    Args:
      out: the output folder, local or remote.
      splits: the split names.
      fingerprint: a digest of the run's settings and file list.
      shard_bytes: a shard ends at the first file boundary past this size.
      overwrite: replace another run's shards instead of refusing.
    """
    self._out = out
    self._fingerprint = fingerprint
    self.manifest, progress = claim(out, fingerprint, overwrite)
    self._committed = progress["splits"] if progress else {split: empty_split() for split in splits}
    for state in self._committed.values():  # progress saved before warnings were recorded
      state.setdefault("warnings", [])
    self._running = copy.deepcopy(self._committed)
    self._writers = {
      split: ShardWriter(out, split, shard_bytes, len(state["shards"]))
      for split, state in self._running.items()
    }

  def files_done(self, split):
    """How many of the split's files (in their fixed order) a resumed run can leave out."""
    return self._committed[split]["files_done"]

  @property
  def clips(self):
    """Clips written so far, in all splits."""
    return sum(state["clips"] for state in self._running.values())

  def add_file(self, split, *, path, video_id, label, clips=(), warning=None, reason=None):
    """Records the split's next file: its clips, or the reason it gave none.

    Args:
      split: the file's split.
      path: the file's path, listed with `reason` when it is skipped, with `warning` when used.
      video_id, label: stored with each clip (see clip_example).
      clips: (start_frame, encoded clip) pairs.
      warning: what went wrong in a file that still gave clips (a cut video), or None.
      reason: why the file gives no clip; None when it gave clips.
    """
    state = self._running[split]
    writer = self._writers[split]
    if reason is None:
      for start_frame, encoded in clips:
        writer.write(clip_example(encoded, video_id=video_id, label=label, start_frame=start_frame))
      state["videos"] += 1
      state["clips"] += len(clips)
      if warning:
        state["warnings"].append({"path": path, "warning": warning})
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

  def finish(self, fields):
    """Completes the last shards and writes manifest.json (manifest_of the run).

    Args:
      fields: the run's own manifest fields (see manifest_of).

    Returns:
      The manifest written.
    """
    for split, writer in self._writers.items():
      shard = writer.close()
      if shard:
        self._running[split]["shards"].append(shard)
    self.manifest = manifest_of(fields, self._running, self._fingerprint)
    write_manifest(self._out, self.manifest)
    return self.manifest

  def abort(self):
    """Drops the shards being written; the completed ones and the saved progress stay."""
    for writer in self._writers.values():
      writer.abort()


def read_manifest(path):
  """Reads a prepared folder's manifest.json.

  Raises:
    ValueError: the folder is missing, holds no finished preparation, or its manifest is unreadable.
  """
  if not tf.io.gfile.isdir(path):
    raise ValueError(
      f"data path {path!r} is not a folder; prepare shards with `relive prepare "
      f"--format=... --source=VIDEOS --out={path}`"
    )
  manifest_path = os.path.join(path, MANIFEST)
  if not tf.io.gfile.exists(manifest_path):
    if tf.io.gfile.exists(os.path.join(path, PROGRESS)):
      raise ValueError(
        f"{path!r} holds an unfinished `relive prepare` run; run the same command "
        "again to finish it"
      )
    # Most often a folder of videos: shards go beside it, since prepare refuses an --out inside
    # its --source.
    raise ValueError(
      f"{path!r} holds no prepared shards (no {MANIFEST}); if it holds videos, prepare shards "
      f"from them with `relive prepare --format=... --source={path} "
      f"--out={files.absolute(path).rstrip('/')}_shards` and give that folder instead"
    )
  try:
    manifest = files.read_json(manifest_path)
  except (OSError, ValueError, tf.errors.OpError) as error:
    raise ValueError(
      f"cannot read {manifest_path}: {error}; prepare the folder again with "
      "`relive prepare ... --overwrite`"
    ) from None
  problem = _manifest_problem(manifest)
  if problem:
    raise ValueError(
      f"{manifest_path} is damaged: {problem}; prepare the folder again with "
      "`relive prepare ... --overwrite`"
    )
  return manifest


def _manifest_problem(manifest):
  """What makes a manifest unusable by the readers here (a damaged file), or None."""

  def count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

  if not isinstance(manifest, dict):
    return "not a JSON object"
  for key in ("frames", "size"):
    if not count(manifest.get(key)) or not manifest[key]:
      return f"{key!r} is {manifest.get(key)!r}, not a positive integer"
  if manifest.get("encoding") not in video_read.ENCODINGS:
    return f"'encoding' is {manifest.get('encoding')!r}, not one of {video_read.ENCODINGS}"
  if not isinstance(manifest.get("shards"), list):
    return "'shards' is not a list"
  for shard in manifest["shards"]:
    if not (
      isinstance(shard, dict)
      and isinstance(shard.get("file"), str)
      and is_shard_file(shard["file"])
      and not shard["file"].endswith(_PARTIAL)
      and isinstance(shard.get("split"), str)
      and count(shard.get("clips"))
      and count(shard.get("bytes"))
    ):
      return f"a shard entry {shard!r} lacks a shard file name, split, clips or bytes"
  return None


@dataclasses.dataclass(frozen=True)
class _SplitShards:
  """The shards of a split and how many records to read from each.

  Attributes:
    files: shard paths.
    records: records to read from each: all of them, or with skip_corrupt the ones before the
      first damaged record.
    listed: records each holds by the manifest.
    bytes: total size by the manifest.
  """

  files: list
  records: list
  listed: list
  bytes: int

  @property
  def clips(self):
    return sum(self.records)

  @property
  def skipped(self):
    return sum(self.listed) - sum(self.records)


def _rebuild(path):
  """How to mend a damaged prepared folder `path`."""
  return (
    f"copy the folder {path} again, or rebuild it with `relive prepare ... --out={path} "
    f"--overwrite` (`relive prepare --verify={path}` checks every shard)"
  )


def _repair(path):
  """What to do about a damaged shard of the prepared folder `path`: mend it or skip the damage."""
  return f"{_rebuild(path)}; or train past the damage with --config.data.skip_corrupt=True"


def _identity(file):
  """(size, modification time in ns) of a file, which key the caches of _readable_records and
  _warn_skipped."""
  status = tf.io.gfile.stat(file)
  return status.length, status.mtime_nsec


@functools.cache
def _readable_records(file, size, modified_ns):  # noqa: ARG001 (size and time key the cache)
  """How many records of a shard can be read: those before a bad checksum or a cut.

  TensorFlow's reader stops at a record whose checksum fails (a cut file ends silently), since the
  length of the next one cannot be trusted. The file's size and modification time key the cache.
  """
  return int(
    tf.data.TFRecordDataset(file).ignore_errors().reduce(np.int64(0), lambda count, _: count + 1)
  )


@functools.cache
def _warn_skipped(file, skipped, count, size, modified_ns):  # noqa: ARG001 (they key the cache)
  """Logs, once per process and version of a damaged shard, how many of its records skip_corrupt
  leaves out: the data pipeline and the loop's summary count both read the split."""
  logging.warning(
    "data.skip_corrupt: shard %s is damaged; %d of its %d records are skipped", file, skipped, count
  )


def _split_shards(path, manifest, split, frames, size, skip_corrupt=False):
  """The shards of a split, after checking they fit the requested clips and are whole.

  A shard whose size differs from the manifest's is damaged (cut by an interrupted copy): a
  ValueError names it, unless skip_corrupt, which reads every shard once to count the records that
  can be read (logged, and cached for the process).

  Returns:
    A _SplitShards.
  """
  if (manifest["frames"], manifest["size"]) != (frames, size):
    raise ValueError(
      f"{path!r} holds clips of {manifest['frames']} frames of {manifest['size']}x"
      f"{manifest['size']}, but {frames} frames of {size}x{size} were asked for; prepare shards "
      f"with --frames={frames} --size={size}, or train a new workdir on these with "
      f"--config.data.frames={manifest['frames']} --config.data.size={manifest['size']}"
    )
  shards = [shard for shard in manifest["shards"] if shard["split"] == split]
  if not sum(shard["clips"] for shard in shards):
    available = sorted({shard["split"] for shard in manifest["shards"]})
    raise ValueError(f"{path!r} holds no clips in split {split!r}; it has {available or 'none'}")
  files = [os.path.join(path, shard["file"]) for shard in shards]
  missing = [name for name in files if not tf.io.gfile.exists(name)]
  if missing:
    raise ValueError(
      f"{len(missing)} shards listed in {path}/{MANIFEST} are missing, e.g. "
      f"{missing[0]!r}; prepare the folder again with `relive prepare ... "
      "--overwrite`"
    )
  listed = [shard["clips"] for shard in shards]
  total_bytes = sum(shard["bytes"] for shard in shards)
  if not skip_corrupt:
    for name, shard in zip(files, shards):
      actual = tf.io.gfile.stat(name).length
      if actual != shard["bytes"]:
        raise ValueError(
          f"shard {name} is damaged: {actual:,} bytes where {MANIFEST} lists "
          f"{shard['bytes']:,} (cut by an interrupted copy?); {_repair(path)}"
        )
    return _SplitShards(files, listed, listed, total_bytes)
  records = []
  for name, count in zip(files, listed):
    identity = _identity(name)
    readable = min(count, _readable_records(name, *identity))
    if readable < count:
      _warn_skipped(name, count - readable, count, *identity)
    records.append(readable)
  if not sum(records):
    raise ValueError(
      f"no record of split {split!r} in {path} can be read: every shard is damaged; "
      f"{_rebuild(path)}"
    )
  return _SplitShards(files, records, listed, total_bytes)


def skipped_records(path, *, split, frames, size):
  """How many records of a split data.skip_corrupt=True leaves out of every pass over the data.

  Raises:
    ValueError: see indexed_clips.
  """
  return _split_shards(path, read_manifest(path), split, frames, size, skip_corrupt=True).skipped


def _shard_records(file, count, strict, repair):
  """The records of one shard (string [] tensors), at most `count` of them.

  Strict, a shard that gives fewer than `count` (a bad checksum stops TensorFlow's reader) fails
  the pipeline with an InvalidArgumentError whose message starts with errors.DATA_CHECK_PREFIX and
  names the shard and the repair. Otherwise `count` is the number of readable records.
  """
  records = tf.data.TFRecordDataset(file)
  if not strict:
    return records.take(count)
  # The end is marked by an extra element, where the records read are counted against `count`.
  marked = (
    records.ignore_errors()
    .map(lambda record: (record, False))
    .concatenate(tf.data.Dataset.from_tensors((tf.constant(b""), True)))
  )

  def check(read, element):
    _, is_end = element
    whole = tf.debugging.Assert(
      tf.logical_or(tf.logical_not(is_end), tf.equal(read, count)),
      [
        tf.strings.join(
          [
            DATA_CHECK_PREFIX,
            "shard ",
            file,
            " is damaged: only ",
            tf.strings.as_string(read),
            " of its ",
            tf.strings.as_string(count),
            " records can be read (a bad checksum, or a cut); ",
            repair,
          ]
        )
      ],
    )
    with tf.control_dependencies([whole]):
      return read + 1, element

  checked = marked.scan(tf.constant(0, tf.int64), check)
  return checked.filter(lambda _, is_end: tf.logical_not(is_end)).map(lambda record, _: record)


def _records_of(path, strict):
  """A function (file, count) -> that shard's records, for Dataset.flat_map and interleave."""
  repair = _repair(path)
  return lambda file, count: _shard_records(file, count, strict, repair)


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


def split_clips(path, split):
  """How many clips a split of a prepared folder holds, by its manifest.

  Raises:
    ValueError: no readable manifest there (read_manifest).
  """
  return sum(shard["clips"] for shard in read_manifest(path)["shards"] if shard["split"] == split)


def clip_records(path, *, split, frames, size, skip_corrupt=False):
  """One pass over a split's clips in stored order, with what is known of each.

  Args:
    path: a prepared folder.
    split: "train" or "test".
    frames, size: the clip shape the caller expects; another shape is an error.
    skip_corrupt: leave out damaged records (see indexed_clips) instead of failing.

  Returns:
    A finite dataset of dicts: "clip" uint8 [frames, size, size, 3], "video_id" and "label"
    string [], "start_frame" int64 [].

  Raises:
    ValueError: see indexed_clips.
  """
  manifest = read_manifest(path)
  shards = _split_shards(path, manifest, split, frames, size, skip_corrupt)
  parse = _decoder(manifest["encoding"], frames, size)

  def to_dict(record):
    clip, example = parse(record)
    return dict(example, clip=clip)

  counts = tf.constant(shards.records, tf.int64)
  records = tf.data.Dataset.from_tensor_slices((shards.files, counts))
  records = records.flat_map(_records_of(path, strict=not skip_corrupt))
  return records.map(to_dict, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def indexed_clips(
  path, *, split, seed, frames, size, start=0, num_shards=1, shard_index=0, skip_corrupt=False
):
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
    skip_corrupt: a damaged shard (a bad checksum, or a cut) normally fails the pipeline with an
      error naming it (a ValueError for a wrong size, else an InvalidArgumentError that
      errors.data_check_message reads); with skip_corrupt every shard is read once first, and its
      records from the first damaged one on are left out (skipped_records counts them). The
      epoch is then the readable records, so a resumed run still sees the same data.

  Returns:
    A dataset of (index int64 [], clip uint8 [frames, size, size, 3]).

  Raises:
    ValueError: no prepared shards at `path`, no clips in `split`, clips of another shape, or a
      shard of the wrong size (without skip_corrupt).
  """
  manifest = read_manifest(path)
  shards = _split_shards(path, manifest, split, frames, size, skip_corrupt)
  parse = _decoder(manifest["encoding"], frames, size)
  clips = shards.clips
  window = int(np.clip(_SHUFFLE_WINDOW_BYTES * clips // shards.bytes, 1, clips))
  cycle_length = min(len(shards.files), _READ_PARALLEL_FILES)
  files = tf.constant(shards.files)
  counts = tf.constant(shards.records, tf.int64)
  read_shard = _records_of(path, strict=not skip_corrupt)
  seed = tf.constant(seed, tf.int64)

  def shuffled(epoch_seed, number, records):
    # Stateless, unlike Dataset.shuffle, whose order also follows the trainer's global seed.
    window_seed = tf.random.experimental.stateless_fold_in(epoch_seed, number + 1)
    order = tf.argsort(tf.random.stateless_uniform(tf.shape(records), seed=window_seed))
    return tf.data.Dataset.from_tensor_slices(tf.gather(records, order))

  def epoch_records(epoch):
    epoch_seed = tf.stack([seed, epoch])
    order = tf.argsort(tf.random.stateless_uniform(tf.shape(files), seed=epoch_seed))
    records = tf.data.Dataset.from_tensor_slices(
      (tf.gather(files, order), tf.gather(counts, order))
    ).interleave(
      read_shard, cycle_length=cycle_length, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
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


def verify(path):
  """Checks every shard of a prepared folder: its size, every record's checksum, every clip.

  Args:
    path: a folder written by `relive prepare`.

  Returns:
    A list, one {"file", "clips", "problem"} per shard in the manifest: "clips" the records that
    read and decode, "problem" None for a whole shard, else what is wrong ("only the first 5 of
    its 10 records can be read (corrupted record at 5080)", "3 clips cannot be decoded", ...).

  Raises:
    ValueError: `path` holds no finished preparation.
  """
  manifest = read_manifest(path)
  parse = _decoder(manifest["encoding"], manifest["frames"], manifest["size"])
  results = []
  for shard in manifest["shards"]:
    name = os.path.join(path, shard["file"])
    if not tf.io.gfile.exists(name):
      results.append({"file": shard["file"], "clips": 0, "problem": "missing"})
      continue
    problems = []
    actual = tf.io.gfile.stat(name).length
    if actual != shard["bytes"]:
      problems.append(f"{actual:,} bytes where {MANIFEST} lists {shard['bytes']:,}")
    readable = _readable_records(name, *_identity(name))
    if readable < shard["clips"]:
      problems.append(
        f"only the first {readable} of its {shard['clips']} records can be read "
        f"({_first_read_error(name)})"
      )
    decodable = int(
      tf.data.TFRecordDataset(name)
      .take(readable)
      .map(parse)
      .ignore_errors()
      .reduce(np.int64(0), lambda count, _: count + 1)
    )
    if decodable < readable:
      problems.append(f"{readable - decodable} of its clips cannot be decoded")
    results.append(
      {"file": shard["file"], "clips": decodable, "problem": "; ".join(problems) or None}
    )
  return results


def _first_read_error(file):
  """TensorFlow's complaint about the first record of `file` it cannot read, in its own words."""
  try:
    for _ in tf.data.TFRecordDataset(file):
      pass
  except tf.errors.DataLossError as error:
    # "{{function_node ...}} truncated record at 194' failed with ... [Op:IteratorGetNext]"
    return error.message.split("}}")[-1].split(" [Op:")[0].split("'")[0].strip()
  return "the file ends early"
