"""`relive prepare`: videos decoded in worker processes into resumable TFRecord shards."""

import collections
import dataclasses
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import time

import cv2
from absl import logging

from relive_tf import files
from relive_tf import progress
from relive_tf.data import layouts
from relive_tf.data import video_read

# Results buffered ahead of the oldest file still decoding, per worker; the shards keep file order.
_FILES_AHEAD_PER_WORKER = 4
_POLL_SECONDS = 0.5


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
    A list of (start frame in the source file's frames, clip bytes from video_read.encode_clip).

  Raises:
    video_read.UnusableVideoError: the file gives no clip; the message says why.
  """
  read = video_read.read_strip if item.kind == "strip" else video_read.read_video
  video = read(item.path, size=spec.size, frame_step=spec.frame_step)
  starts = clip_starts(
    len(video),
    frames=spec.frames,
    clips_per_video=spec.clips_per_video,
    clip_stride=spec.clip_stride,
  )
  if not starts:
    sampled = f" at --frame_step={spec.frame_step}" if spec.frame_step > 1 else ""
    raise video_read.UnusableVideoError(
      f"too short: {len(video)} frames{sampled}, a clip needs {spec.frames}"
    )
  return [
    (
      start * spec.frame_step,
      video_read.encode_clip(video[start : start + spec.frames], spec.encoding, spec.jpeg_quality),
    )
    for start in starts
  ]


def _worker_main(connection, spec):
  """A decoding process: answers each (position, item) with (position, clips, reason).

  It says "ready" first, once its imports are done, and returns when it receives None.
  """
  # OpenCV's and FFmpeg's complaints about broken files would garble the progress bar; the reasons
  # are listed in manifest.json instead. FFmpeg reads its variable when the first video is opened.
  os.environ["OPENCV_FFMPEG_LOGLEVEL"] = "-8"
  cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
  # Ctrl-C reaches the whole process group; the parent stops the workers and keeps the progress.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  connection.send("ready")
  while True:
    message = connection.recv()
    if message is None:
      return
    position, item = message
    clips, reason = [], None
    try:
      clips = decode_file(item, spec)
    except video_read.UnusableVideoError as error:
      reason = str(error)
    except Exception as error:  # one odd file must not stop the run
      reason = f"decoding failed: {type(error).__name__}: {error}"
    connection.send((position, clips, reason))


class _Workers:
  """Decoding processes, one file each at a time; one past its deadline is killed and replaced.

  They are spawned, not forked: the parent has TensorFlow loaded, and they need only OpenCV. A
  file's deadline starts when a ready process receives it, so start-up time never counts.
  """

  def __init__(self, count, spec, timeout_s):
    self._context = multiprocessing.get_context("spawn")
    self._spec = spec
    self._timeout_s = timeout_s
    self._starting = {}  # connection -> process
    self._idle = []  # (process, connection)
    self._busy = {}  # connection -> (process, position, deadline)
    for _ in range(count):
      self._start()

  def _start(self):
    connection, child_connection = self._context.Pipe()
    process = self._context.Process(
      target=_worker_main, args=(child_connection, self._spec), daemon=True
    )
    process.start()
    child_connection.close()
    self._starting[connection] = process

  def has_idle(self):
    return bool(self._idle)

  def submit(self, position, item):
    process, connection = self._idle.pop()
    connection.send((position, item))
    self._busy[connection] = (process, position, time.monotonic() + self._timeout_s)

  def _replace(self, connection, process):
    process.kill()
    process.join()
    connection.close()
    self._start()

  def _ready(self, connection):
    process = self._starting.pop(connection)
    try:
      connection.recv()
    except EOFError:
      process.join()
      raise RuntimeError(
        f"a decoding process exited while starting (exit code "
        f"{process.exitcode}); its error is printed above"
      ) from None
    self._idle.append((process, connection))

  def results(self):
    """Waits a little for answers; returns [(position, clips, reason)], timeouts included."""
    answers = []
    waiting = list(self._starting) + list(self._busy)
    for connection in multiprocessing.connection.wait(waiting, timeout=_POLL_SECONDS):
      if connection in self._starting:
        self._ready(connection)
        continue
      process, position, _ = self._busy.pop(connection)
      try:
        answers.append(connection.recv())
        self._idle.append((process, connection))
      except EOFError:
        process.join()
        answers.append(
          (position, [], f"the decoding process died (exit code {process.exitcode}) on this file")
        )
        self._replace(connection, process)
    now = time.monotonic()
    for connection, (process, position, deadline) in list(self._busy.items()):
      if now > deadline:
        del self._busy[connection]
        answers.append((position, [], f"timed out after {self._timeout_s:g} s"))
        self._replace(connection, process)
    return answers

  def close(self):
    """Stops every process: idle ones when told to, the others killed."""
    for _, connection in self._idle:
      connection.send(None)
    for process, connection in self._idle:
      process.join()
      connection.close()
    others = list(self._starting.items()) + [
      (connection, process) for connection, (process, _, _) in self._busy.items()
    ]
    for connection, process in others:
      process.kill()
      process.join()
      connection.close()
    self._starting, self._idle, self._busy = {}, [], {}


def _fingerprint(settings, items):
  """A digest of the settings and of the file list, so a resume only continues the same run."""
  listing = "\n".join(f"{item.id}\t{item.split}" for item in items)
  text = json.dumps(settings, sort_keys=True) + "\n" + listing
  return hashlib.sha256(text.encode()).hexdigest()


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


def _decoded_in_order(pool, todo, window):
  """Yields (item, clips, reason) for each (position, item) of `todo`, in that order.

  At most `window` files are sent ahead of the one being waited for.
  """
  answers = {}
  sent = 0
  for waiting, (position, item) in enumerate(todo):
    while position not in answers:
      while pool.has_idle() and sent < min(len(todo), waiting + window):
        pool.submit(*todo[sent])
        sent += 1
      answers.update((answer[0], answer[1:]) for answer in pool.results())
    yield (item,) + answers.pop(position)


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
):
  """Decodes a dataset's videos into clips and writes them as TFRecord shards with manifest.json.

  Files that give no clip (unreadable, empty, truncated, not a video, too short, too slow) are
  skipped and listed with their reason in the manifest; the run goes on. Shards appear under their
  final names only when complete. Progress is saved whenever a shard completes: running the same
  command again after an interruption resumes there, and on a finished --out does nothing.

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
    shard_mb: a shard ends at the first file boundary past this size, in MB.
    workers: decoding processes; all available cores by default.
    timeout_s: a file still decoding after this many seconds is skipped.
    overwrite: replace the shards of another run in `out` instead of refusing.

  Returns:
    The manifest, as written to OUT/manifest.json.

  Raises:
    ValueError: bad arguments, a missing or empty source, an --out holding other shards, or no clip.
  """
  workers = workers or len(os.sched_getaffinity(0))
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
  source, out = os.path.abspath(source), os.path.abspath(out)
  if os.path.commonpath([source, out]) == source:
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
    "split_files": sorted(os.path.abspath(path) for path in split_files),
    "index_file": index_file and os.path.abspath(index_file),
  }
  # One prepare per --out at a time: two would write the same shard names.
  with files.exclusive_use(out, "relive prepare"):
    # Imported here so that the decoding processes, which import this module, never load TensorFlow.
    from relive_tf.data import shards  # noqa: PLC0415

    folder = shards.PreparedFolder(
      out,
      splits=layouts.SPLITS,
      fingerprint=_fingerprint(settings, items),
      shard_bytes=shard_mb * 1e6,
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
    logging.info(
      "%d files to decode in %s (%d other files skipped%s)",
      len(items),
      source,
      len(listing_skipped),
      f"; resuming after {len(items) - len(todo)} files" if len(todo) < len(items) else "",
    )
    workers = min(workers, max(len(todo), 1))
    logging.info("decoding with %d processes, at most %g s per file", workers, timeout_s)
    spec = ClipSpec(frames, size, frame_step, clips_per_video, clip_stride, encoding, jpeg_quality)
    pool = _Workers(workers, spec, timeout_s)
    reasons = collections.Counter()
    try:
      with progress.bar(
        total=len(items), initial=len(items) - len(todo), desc="prepare", unit="file"
      ) as bar:
        for item, clips, reason in _decoded_in_order(pool, todo, workers * _FILES_AHEAD_PER_WORKER):
          folder.add_file(
            item.split,
            path=item.path,
            video_id=item.id,
            label=item.label,
            clips=clips,
            reason=reason,
          )
          reasons[reason] += reason is not None
          bar.set_postfix(clips=folder.clips, refresh=False)
          bar.update()
      if not folder.clips:
        raise ValueError(
          f"no clip could be cut from the {len(todo)} files decoded in --source="
          f"{source}; the commonest reasons: {dict(reasons.most_common(3))}"
        )
      manifest = folder.finish(
        dict(
          settings,
          labels=sorted({item.label for item in items if item.label}),
          skipped=[{"path": entry.path, "reason": entry.reason} for entry in listing_skipped],
        )
      )
    except BaseException:
      folder.abort()
      raise
    finally:
      pool.close()
    logging.info(
      "wrote %d clips from %d videos into %d shards in %s; %d files skipped, listed in %s",
      manifest["clips"],
      manifest["videos"],
      len(manifest["shards"]),
      out,
      len(manifest["skipped"]),
      shards.MANIFEST,
    )
    return manifest
