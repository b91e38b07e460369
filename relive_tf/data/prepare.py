"""`relive prepare`: videos decoded in worker processes (or by Beam) into TFRecord shards."""

import collections
import contextlib
import dataclasses
import hashlib
import json
import os

from absl import logging

from relive_tf import files
from relive_tf import progress
from relive_tf.data import layouts
from relive_tf.data import video_read
from relive_tf.data import workers as workers_lib

RUNNERS = ("processes", "beam")
# Results buffered ahead of the oldest file still decoding, per worker; the shards keep file order.
_FILES_AHEAD_PER_WORKER = 4


@dataclasses.dataclass(frozen=True)
class ClipSpec:
  """How the workers turn a file into encoded clips (see `prepare` for the fields)."""

  frames: int
  size: int
  frame_step: int
  clips_per_video: int
  clip_stride: int | None
  encoding: str
  jpeg_quality: int


def clip_starts(num_frames, *, frames, clips_per_video=1, clip_stride=None):
  """First frames of the clips cut from a video.

  Args:
    num_frames: the video's length in (already sampled) frames.
    frames: clip length.
    clips_per_video: with no clip_stride, this many clips, spread evenly: the middle of each of
      that many equal stretches of the video (one clip is the middle one).
    clip_stride: every clip whose start is a multiple of clip_stride.

  Returns:
    Sorted start frames; empty when the video is shorter than a clip.
  """
  last = num_frames - frames
  if last < 0:
    return []
  if clip_stride:
    return list(range(0, last + 1, clip_stride))
  count = min(clips_per_video, last + 1)
  return sorted({int((k + 0.5) * (last + 1) / count) for k in range(count)})


def decode_file(item, spec):
  """Decodes one file of a layout and cuts it into encoded clips.

  Args:
    item: a layouts.Item.
    spec: a ClipSpec.

  Returns:
    (clips, warning): a list of (start frame in the source file's frames, clip bytes from
    video_read.encode_clip), and the reader's warning (a cut or damaged file) or None.

  Raises:
    video_read.UnusableVideoError: the file gives no clip; the message says why.
  """
  read = video_read.read_strip if item.kind == "strip" else video_read.read_video
  decoded = read(item.path, size=spec.size, frame_step=spec.frame_step)
  video = decoded.frames
  starts = clip_starts(
    len(video),
    frames=spec.frames,
    clips_per_video=spec.clips_per_video,
    clip_stride=spec.clip_stride,
  )
  if not starts:
    sampled = f" at --frame_step={spec.frame_step}" if spec.frame_step > 1 else ""
    also = f"; {decoded.warning}" if decoded.warning else ""
    raise video_read.UnusableVideoError(
      f"too short: {progress.counted(len(video), 'frame')}{sampled}, a clip needs "
      f"{spec.frames}{also}"
    )
  clips = [
    (
      start * spec.frame_step,
      video_read.encode_clip(video[start : start + spec.frames], spec.encoding, spec.jpeg_quality),
    )
    for start in starts
  ]
  return clips, decoded.warning


def _fingerprint(settings, items):
  """A digest of the settings and of the file list, so a resume only continues the same run."""
  listing = "\n".join(f"{item.id}\t{item.split}" for item in items)
  text = json.dumps(settings, sort_keys=True) + "\n" + listing
  # surrogateescape: names that are not UTF-8 digest as their bytes.
  return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _check_arguments(
  frames,
  size,
  frame_step,
  clips_per_video,
  clip_stride,
  encoding,
  jpeg_quality,
  shard_mb,
  workers,
  timeout_s,
):
  positive = {
    "--frames": frames,
    "--size": size,
    "--frame_step": frame_step,
    "--clips_per_video": clips_per_video,
    "--shard_mb": shard_mb,
    "--workers": workers,
    "--timeout_s": timeout_s,
  }
  if clip_stride is not None:
    positive["--clip_stride"] = clip_stride
  for flag, value in positive.items():
    if value <= 0:
      raise ValueError(f"{flag}={value} must be positive")
  if encoding not in video_read.ENCODINGS:
    raise ValueError(f"--encoding={encoding!r} is not one of {', '.join(video_read.ENCODINGS)}")
  if not 1 <= jpeg_quality <= 100:
    raise ValueError(f"--jpeg_quality={jpeg_quality} must be in 1..100")
  if frames * size * size > video_read.MAX_CLIP_PIXELS:
    raise ValueError(
      f"--frames={frames} x --size={size} squared is {frames * size * size} pixels a clip, more "
      f"than a clip may hold ({video_read.MAX_CLIP_PIXELS}, OpenCV's largest image); give fewer "
      "frames or a smaller size"
    )
  if encoding == "jpeg" and frames * size > video_read.JPEG_MAX_ROWS:
    raise ValueError(
      f"--frames={frames} x --size={size} is {frames * size} rows of a JPEG strip, more than JPEG "
      f"holds ({video_read.JPEG_MAX_ROWS}); give --encoding=png, or fewer frames or a smaller size"
    )


def _decoded_in_order(pool, todo, spec, window):
  """Yields (item, clips, warning, reason) for each (position, item) of `todo`, in that order.

  At most `window` files are sent ahead of the one being waited for. A remote file is copied to a
  local one here, in the parent, for its decoding process (video_read.local_file): the processes
  never load TensorFlow, and only this process knows the filesystems of TensorFlow plugins.
  """
  answers = {}
  copies = {}  # position -> the ExitStack that holds the local copy of a file being decoded
  sent = 0
  try:
    for waiting, (position, item) in enumerate(todo):
      while position not in answers:
        while pool.has_idle() and sent < min(len(todo), waiting + window):
          sent_position, sent_item = todo[sent]
          sent += 1
          copy = contextlib.ExitStack()
          try:
            local = copy.enter_context(video_read.local_file(sent_item.path))
          except video_read.UnusableVideoError as error:
            answers[sent_position] = (None, str(error))
            continue
          copies[sent_position] = copy
          pool.submit(sent_position, decode_file, dataclasses.replace(sent_item, path=local), spec)
        for answer_position, result, reason in pool.results():
          answers[answer_position] = (result, reason)
          copies.pop(answer_position).close()
      result, reason = answers.pop(position)
      clips, warning = result if reason is None else ([], None)
      yield item, clips, warning, reason
  finally:
    for copy in copies.values():
      copy.close()


def no_clip_error(files_decoded, source, reasons):
  """The ValueError of a run that cut no clip: how many files were decoded and the commonest
  reasons (a collections.Counter of them)."""
  return ValueError(
    f"no clip could be cut from the {files_decoded} files decoded in --source={source}; the "
    f"commonest reasons: {dict(reasons.most_common(3))}"
  )


def prepare(
  *,
  layout,
  source,
  out,
  frames=32,
  size=64,
  frame_step=1,
  clips_per_video=1,
  clip_stride=None,
  split_files=(),
  index_file=None,
  test_fraction=0.1,
  encoding="jpeg",
  jpeg_quality=90,
  shard_mb=100.0,
  workers=None,
  timeout_s=120.0,
  overwrite=False,
  runner="processes",
  beam_pipeline_options="",
):
  """Decodes a dataset's videos into clips and writes them as TFRecord shards with manifest.json.

  Files that give no clip (unreadable, empty, not a video, too short, too slow, crashing the
  decoder) are skipped and listed with their reason in the manifest; the run goes on. A cut or
  damaged video gives the clips of the frames that decoded and is listed under "warnings". The
  manifest's "files" counts the files seen, used, skipped and warned about. Shards appear under
  their final names only when complete. With the "processes" runner progress is saved whenever a
  shard completes: running the same command again after an interruption resumes there. On a
  finished --out either runner does nothing. The "beam" runner (prepare_beam.py) gives the same
  clips in the same order and the same manifest, with balanced shards and the worker named in
  each skipped file's entry. `source` and `out` may be local or remote (gs://, any filesystem of
  tf.io.gfile); remote videos are copied to local files to be decoded.

  Args:
    layout: the --format: one of layouts.FORMATS.
    source: the dataset's folder.
    out: folder for the shards; not inside `source`.
    frames: frames per clip.
    size: side of the square frames in pixels (shorter side resized, longer side center-cropped).
    frame_step: keep every frame_step-th frame of the source.
    clips_per_video: clips per file, spread evenly over it (when clip_stride is None).
    clip_stride: if given, every clip starting at a multiple of clip_stride (in kept frames).
    split_files: ucf101: the official trainlistNN/testlistNN files.
    index_file: vgan: a text file listing the strips.
    test_fraction: share of groups in the test split when no split files are given.
    encoding: how clips are stored: one of video_read.ENCODINGS (see docs/benchmarks.md).
    jpeg_quality: JPEG quality, 1..100.
    shard_mb: the processes runner ends a shard at the first file boundary past this size, in MB;
      the beam runner makes shards of about this size and of about equal bytes.
    workers: decoding processes of the processes runner; all available cores by default.
    timeout_s: a file still decoding after this many seconds is skipped.
    overwrite: replace the shards of another run in `out` instead of refusing.
    runner: one of RUNNERS: "processes" (decoding processes on this machine) or "beam".
    beam_pipeline_options: the beam runner's Beam pipeline options as one string of flags
      ("--runner=DataflowRunner --project=P ..."); empty: Beam's DirectRunner on this machine.
      The processes runner ignores them, as the beam runner ignores `workers`.

  Returns:
    The manifest, as written to OUT/manifest.json.

  Raises:
    ValueError: bad arguments, a missing or empty source, an --out holding other files or other
      shards, or no clip.
  """
  workers = len(os.sched_getaffinity(0)) if workers is None else workers
  _check_arguments(
    frames,
    size,
    frame_step,
    clips_per_video,
    clip_stride,
    encoding,
    jpeg_quality,
    shard_mb,
    workers,
    timeout_s,
  )
  if runner not in RUNNERS:
    raise ValueError(f"runner {runner!r} is not one of {', '.join(RUNNERS)}")
  source, out = files.absolute(source), files.absolute(out)
  if files.is_inside(out, source):
    raise ValueError(
      f"--out={out} is inside --source={source}, where its shards would be read as "
      "source files; choose an --out outside the source"
    )
  items, listing_skipped = layouts.discover(
    layout, source, split_files=split_files, index_file=index_file, test_fraction=test_fraction
  )
  settings = {
    "format": layout,
    "source": source,
    "frames": frames,
    "size": size,
    "frame_step": frame_step,
    "clips_per_video": clips_per_video,
    "clip_stride": clip_stride,
    "encoding": encoding,
    "jpeg_quality": jpeg_quality,
    "test_fraction": test_fraction,
    # The lists read, with the sibling a single list brings (layouts.split_lists).
    "split_files": sorted(
      files.absolute(path) for paths in layouts.split_lists(split_files).values() for path in paths
    ),
    "index_file": index_file and files.absolute(index_file),
  }
  fields = dict(
    settings,
    labels=sorted({item.label for item in items if item.label}),
    skipped=[{"path": entry.path, "reason": entry.reason} for entry in listing_skipped],
  )
  spec = ClipSpec(frames, size, frame_step, clips_per_video, clip_stride, encoding, jpeg_quality)
  # Imported here so that the decoding processes, which import this module, never load TensorFlow.
  from relive_tf.data import shards  # noqa: PLC0415

  shards.check_no_other_files(out)  # before the lock, which would leave its file there
  # One prepare per --out at a time: two would write the same shard names.
  with files.exclusive_use(out, "relive prepare"):
    logging.info(
      "%s to decode in %s (%s skipped)",
      progress.counted(len(items), "file"),
      source,
      progress.counted(len(listing_skipped), "other file"),
    )
    run = _run_with_beam if runner == "beam" else _run_with_processes
    manifest = run(
      items,
      spec,
      source=source,
      out=out,
      fields=fields,
      fingerprint=_fingerprint(settings, items),
      shard_bytes=shard_mb * 1e6,
      workers=workers,
      timeout_s=timeout_s,
      overwrite=overwrite,
      beam_pipeline_options=beam_pipeline_options,
    )
    counts = manifest["files"]
    # A debug line: `relive prepare` prints its own summary, with the splits.
    logging.debug(
      "%s from %s in %s in %s; of %s seen, %d skipped and %d used with a warning, listed in %s",
      progress.counted(manifest["clips"], "clip"),
      progress.counted(counts["used"], "video"),
      progress.counted(len(manifest["shards"]), "shard"),
      out,
      progress.counted(counts["seen"], "file"),
      counts["skipped"],
      counts["warned"],
      shards.MANIFEST,
    )
    return manifest


def _run_with_processes(
  items, spec, *, source, out, fields, fingerprint, shard_bytes, workers, timeout_s, overwrite, **_
):
  """prepare's processes runner: decoding processes here, shards written in file order."""
  from relive_tf.data import shards  # noqa: PLC0415 (see prepare)

  folder = shards.PreparedFolder(
    out,
    splits=layouts.SPLITS,
    fingerprint=fingerprint,
    shard_bytes=shard_bytes,
    overwrite=overwrite,
  )
  if folder.manifest:
    logging.info(
      "%s already holds these shards (%d clips); nothing to do", out, folder.manifest["clips"]
    )
    return folder.manifest

  seen = collections.Counter()
  todo = []  # (position in items, item) of the files not yet in completed shards
  for position, item in enumerate(items):
    if seen[item.split] >= folder.files_done(item.split):
      todo.append((position, item))
    seen[item.split] += 1
  if len(todo) < len(items):
    logging.info("resuming after %d files", len(items) - len(todo))
  workers = min(workers, max(len(todo), 1))
  logging.info(
    "decoding with %s, at most %g s per file", progress.counted(workers, "process"), timeout_s
  )
  pool = workers_lib.DecodingPool(workers, timeout_s)
  reasons = collections.Counter()
  try:
    with progress.bar(
      total=len(items), initial=len(items) - len(todo), desc="prepare", unit="file"
    ) as bar:
      for item, clips, warning, reason in _decoded_in_order(
        pool, todo, spec, workers * _FILES_AHEAD_PER_WORKER
      ):
        folder.add_file(
          item.split,
          path=item.path,
          video_id=item.id,
          label=item.label,
          clips=clips,
          warning=warning,
          reason=reason,
        )
        reasons[reason] += reason is not None
        bar.set_postfix(clips=folder.clips, refresh=False)
        bar.update()
    if not folder.clips:
      raise no_clip_error(len(todo), source, reasons)
    return folder.finish(fields)
  except BaseException:
    folder.abort()
    raise
  finally:
    pool.close()


def _run_with_beam(items, spec, **settings):
  """prepare's beam runner (prepare_beam.run), or the install command when Beam is missing."""
  try:
    # Imported here: Apache Beam is an optional extra, needed by this runner only.
    from relive_tf.data import prepare_beam  # noqa: PLC0415
  except ImportError as error:
    if error.name is None or not error.name.startswith("apache_beam"):
      raise
    raise ValueError(
      "the beam runner needs Apache Beam, which is not installed: pip install 'relive_tf[beam]' "
      "(or -r requirements-beam.txt)"
    ) from None
  return prepare_beam.run(items, spec, **settings)
