"""Decoding in worker processes: a crash, hang or error on one file ends as that file's reason."""

import multiprocessing
import multiprocessing.connection
import os
import signal
import time

import cv2

from relive_tf.data import video_read

DEFAULT_TIMEOUT_S = 120.0
_POLL_SECONDS = 0.5


def _worker_main(connection):
  """A decoding process: answers each (position, function, args, kwargs) with (position, result,
  reason), reason None when the call returned.

  It says "ready" first, once its imports are done, and returns when it receives None.
  """
  # FFmpeg logs its errors on stderr by default, where video_read collects them; a user's
  # OPENCV_FFMPEG_LOGLEVEL or OPENCV_FFMPEG_DEBUG would silence them or send them elsewhere.
  os.environ.pop("OPENCV_FFMPEG_LOGLEVEL", None)
  os.environ.pop("OPENCV_FFMPEG_DEBUG", None)
  cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
  # Ctrl-C reaches the whole process group; the parent stops the workers and keeps the progress.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  connection.send("ready")
  while True:
    message = connection.recv()
    if message is None:
      return
    position, function, args, kwargs = message
    result, reason = None, None
    try:
      result = function(*args, **kwargs)
    except video_read.UnusableVideoError as error:
      reason = str(error)
    except Exception as error:  # one odd file must not stop the run
      reason = f"decoding failed: {type(error).__name__}: {error}"
    connection.send((position, result, reason))


def _death(exitcode):
  """How a process ended, in words: "exit code 3", "signal SIGSEGV"."""
  if exitcode is not None and exitcode < 0:
    try:
      return f"signal {signal.Signals(-exitcode).name}"
    except ValueError:
      pass
  return f"exit code {exitcode}"


class DecodingPool:
  """Decoding processes, one call each at a time; one past its deadline is killed and replaced.

  Each call is a picklable module-level function and its arguments, e.g. (video_read.read_video,
  (path,), {"size": 64}). A call's outcome is its result, or the reason it gave none: the
  UnusableVideoError message, the exception, "the decoder crashed (signal SIGSEGV) on this file" or
  "timed out after 120 s". The processes are spawned, not forked: the parent may have TensorFlow
  loaded, and they need only OpenCV. A call's deadline starts when a ready process receives it, so
  start-up time never counts.
  """

  def __init__(self, count, timeout_s):
    self._context = multiprocessing.get_context("spawn")
    self._timeout_s = timeout_s
    self._starting = {}  # connection -> process
    self._idle = []  # (process, connection)
    self._busy = {}  # connection -> (process, position, deadline)
    for _ in range(count):
      self._start()

  def _start(self):
    connection, child_connection = self._context.Pipe()
    process = self._context.Process(target=_worker_main, args=(child_connection,), daemon=True)
    process.start()
    child_connection.close()
    self._starting[connection] = process

  def has_idle(self):
    return bool(self._idle)

  def submit(self, position, function, *args, **kwargs):
    """Sends one call to an idle process (has_idle() must be true); `position` names its answer."""
    process, connection = self._idle.pop()
    connection.send((position, function, args, kwargs))
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
        f"a decoding process ended while starting ({_death(process.exitcode)}); "
        "its error is printed above"
      ) from None
    self._idle.append((process, connection))

  def results(self):
    """Waits a little for answers; returns [(position, result, reason)], timeouts included."""
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
          (position, None, f"the decoder crashed ({_death(process.exitcode)}) on this file")
        )
        self._replace(connection, process)
    now = time.monotonic()
    for connection, (process, position, deadline) in list(self._busy.items()):
      if now > deadline:
        del self._busy[connection]
        answers.append((position, None, f"timed out after {self._timeout_s:g} s"))
        self._replace(connection, process)
    return answers

  def call(self, function, *args, **kwargs):
    """Runs one call and waits for it: (result, None), or (None, the reason it gave none).

    The pool must have no other call in flight (one pool per caller, as a Beam DoFn holds one).
    """
    while not self.has_idle():
      self.results()
    self.submit(0, function, *args, **kwargs)
    answers = []
    while not answers:
      answers = self.results()
    ((_, result, reason),) = answers
    return result, reason

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


def read_video(path, *, size, frame_step=1, max_frames=None, timeout_s=DEFAULT_TIMEOUT_S):
  """video_read.read_video in a worker process, as `relive prepare` reads: a file that crashes or
  hangs the decoder raises instead of ending the caller. A remote file is copied first
  (video_read.local_file).

  Returns:
    A video_read.DecodedVideo.

  Raises:
    video_read.UnusableVideoError: the file gives no frames; the message says why.
  """
  pool = DecodingPool(1, timeout_s)
  try:
    with video_read.local_file(path) as local:
      video, reason = pool.call(
        video_read.read_video, local, size=size, frame_step=frame_step, max_frames=max_frames
      )
  finally:
    pool.close()
  if reason is not None:
    raise video_read.UnusableVideoError(reason)
  return video
