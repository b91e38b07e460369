"""Stop requests: a signal waits for the step boundary; a second Ctrl-C does not."""

import signal

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


def test_ctrl_c_exits_130_and_a_sigterm_stop_exits_0():
  assert stopping.Stopped("stopped", signal.SIGINT).exit_status == 130
  assert stopping.Stopped("stopped", signal.SIGTERM).exit_status == 0
