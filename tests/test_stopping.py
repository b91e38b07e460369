"""Stop requests: a signal waits for the step boundary; a second Ctrl-C does not."""

import signal
import subprocess
import sys
import time

import pytest

from relive_tf.training import stopping


def test_a_signal_is_recorded_for_the_loop_to_see():
  with stopping.StopRequests() as stop:
    assert stop.requested is None
    signal.raise_signal(signal.SIGINT)
    assert stop.requested == signal.SIGINT


def test_a_second_ctrl_c_interrupts_at_once():
  with stopping.StopRequests():
    signal.raise_signal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
      signal.raise_signal(signal.SIGINT)


def test_other_signals_can_be_deferred_and_repeating_them_changes_nothing():
  with stopping.StopRequests(signals=(signal.SIGTERM,)) as stop:
    signal.raise_signal(signal.SIGTERM)
    signal.raise_signal(signal.SIGTERM)
  assert stop.requested == signal.SIGTERM


def test_the_previous_handlers_come_back():
  before = signal.getsignal(signal.SIGINT)
  with stopping.StopRequests():
    assert signal.getsignal(signal.SIGINT) is not before
  assert signal.getsignal(signal.SIGINT) is before


def test_after_a_sigterm_stop_another_sigterm_is_ignored_while_the_process_ends():
  # A second SIGTERM between the stop and the exit ended `relive train` with status 143.
  before, interrupt = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
  try:
    with stopping.StopRequests(signals=stopping.TRAINING_SIGNALS):
      pass
    assert signal.getsignal(signal.SIGTERM) is before  # no stop asked: as it was
    with stopping.StopRequests(signals=stopping.TRAINING_SIGNALS):
      signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is interrupt
    signal.raise_signal(signal.SIGTERM)  # the test process lives on
  finally:
    signal.signal(signal.SIGTERM, before)


def test_ctrl_c_exits_130_and_a_sigterm_stop_exits_0():
  assert stopping.Stopped("stopped", signal.SIGINT).exit_status == 130
  assert stopping.Stopped("stopped", signal.SIGTERM).exit_status == 0


# Two Ctrl-Cs while the main thread is inside a long native call (a compiled train step), which
# Python's handlers wait for: SIGINT is blocked in the main thread, as a step waiting on
# TensorFlow's threads never returns to Python, so the signals land in another thread.
SECOND_SIGINT_IN_A_NATIVE_CALL = """
import ctypes, os, signal, threading
from relive_tf.training import stopping

with stopping.StopRequests():
  # Apart, as keys are pressed: two signals pending at once are one.
  for delay in (0.3, 0.6):
    threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
  signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
  ctypes.CDLL(None).sleep(60)
print("the call ran to its end")
"""


def test_a_second_ctrl_c_ends_a_process_stuck_in_a_native_call():
  start = time.monotonic()
  done = subprocess.run(
    [sys.executable, "-c", SECOND_SIGINT_IN_A_NATIVE_CALL], capture_output=True, text=True
  )
  assert done.returncode == 130, done.stderr
  assert time.monotonic() - start < 30  # not the call's 60 s
  assert "SIGINT again: stopping at once" in done.stderr
  assert "ran to its end" not in done.stdout
