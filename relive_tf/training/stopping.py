"""Stopping training on a signal at the next step boundary, so a save holds finished steps only."""

import os
import signal
import threading

from absl import logging

# The signals training defers to a step boundary: Ctrl-C, and the notice of schedulers
# (Kubernetes, Slurm) and preemptible machines, which kill the process after a grace period.
TRAINING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(Exception):
  """Training stopped on a signal after its last finished step, whose checkpoint is saved.

  Attributes:
    signal_number: the signal that asked for the stop (signal.SIGINT for Ctrl-C).
    exit_status: 0 for SIGTERM, a stop asked by a scheduler or a preemption and done as asked
      (the job ended cleanly and resumes when run again); else 128 + signal_number, the status a
      shell gives a process ended by that signal (130 for Ctrl-C).
  """

  def __init__(self, message, signal_number):
    super().__init__(message)
    self.signal_number = signal_number
    self.exit_status = 0 if signal_number == signal.SIGTERM else 128 + signal_number


class StopRequests:
  """While active, records the first of `signals` instead of acting on it.

  A loop asks `requested` at each step boundary and stops there. A second SIGINT (Ctrl-C pressed
  again) raises KeyboardInterrupt, for a user who will not wait for the step to finish; while the
  main thread is inside a compiled step, which Python's handlers wait for (seconds at the default
  widths), the process ends with status 130 a second after it instead. Handlers can only be
  installed in the main thread; elsewhere the signals keep their handlers and `requested` stays
  None. Use as a context manager: the previous handlers come back on exit, but for a SIGTERM
  that asked for the stop: it stays ignored, so that another one while the process ends (a
  scheduler repeating itself) does not turn the clean stop into status 143.

  Args:
    signals: the signal numbers to defer, signal.SIGINT by default.
    waiting_for: what finishes before the stop, for the message on the first signal
      ("the current step").
  """

  def __init__(self, signals=(signal.SIGINT,), waiting_for="the current step"):
    self.signals = tuple(signals)
    self.waiting_for = waiting_for
    self.requested = None
    self._previous = {}
    # While watching: (the wakeup fd before, this one's write end, the event that ends the watch).
    self._wakeup = None

  def _handle(self, signal_number, frame):
    del frame  # where the signal landed is of no concern: the loop stops at a boundary
    if self.requested is None:
      self.requested = signal_number
      again = " (Ctrl-C again to stop at once, losing it)" if signal_number == signal.SIGINT else ""
      logging.warning(
        "%s received: stopping after %s%s",
        signal.Signals(signal_number).name,
        self.waiting_for,
        again,
      )
    elif signal_number == signal.SIGINT:
      raise KeyboardInterrupt

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signal_number in self.signals:
        self._previous[signal_number] = signal.signal(signal_number, self._handle)
      if signal.SIGINT in self.signals:
        self._watch_interrupts()
    return self

  def _watch_interrupts(self):
    """Ends the process a second after a second SIGINT that no handler acted on.

    Python runs a signal's handler in the main thread between bytecodes, so not until a running
    train step returns, and two signals before then run it once. The C-level handler writes each
    signal's number to the wakeup fd as it arrives: a thread reading it counts them.
    """
    read, write = os.pipe()
    os.set_blocking(write, False)
    done = threading.Event()
    self._wakeup = (signal.set_wakeup_fd(write), write, done)

    def watch():
      interrupts = 0
      while chunk := os.read(read, 64):
        interrupts += chunk.count(signal.SIGINT)
        if interrupts >= 2 and not done.wait(1.0):
          logging.warning("SIGINT again: stopping at once; the last checkpoint saved is kept")
          logging.flush()
          os._exit(128 + signal.SIGINT)
      os.close(read)

    threading.Thread(target=watch, name="second-sigint", daemon=True).start()

  def __exit__(self, *exc_info):
    for signal_number, handler in self._previous.items():
      stopping = signal_number == self.requested == signal.SIGTERM
      signal.signal(signal_number, signal.SIG_IGN if stopping else handler)
    self._previous.clear()
    if self._wakeup:
      previous, write, done = self._wakeup
      done.set()
      signal.set_wakeup_fd(previous)
      os.close(write)  # the watch reads the end of the pipe and stops
      self._wakeup = None
