"""relive_tf turns oneDNN on first, and warns when TensorFlow loaded first without it."""

import json
import os
import subprocess
import sys
import warnings

import pytest
from tensorflow.python.util import _pywrap_util_port

import relive_tf

# Imports TensorFlow first, then relive_tf; prints whether TensorFlow runs oneDNN and the warnings.
_TENSORFLOW_FIRST = """
import json, warnings
import tensorflow
from tensorflow.python.util import _pywrap_util_port
with warnings.catch_warnings(record=True) as caught:
  warnings.simplefilter("always")
  import relive_tf
print(json.dumps([
  _pywrap_util_port.IsMklEnabled(),
  [[w.category.__name__, w.filename, str(w.message)] for w in caught],
]))
"""
_FIX = "import relive_tf first, or set TF_ENABLE_ONEDNN_OPTS=1 before Python starts"


def _run(code, **env):
  environment = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
  result = subprocess.run(
    [sys.executable, "-c", code],
    env={**environment, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
    capture_output=True,
    text=True,
    timeout=300,
    check=True,
  )
  return json.loads(result.stdout.splitlines()[-1])


def test_relive_tf_imported_first_sets_the_flag_before_tensorflow_loads():
  code = (
    "import json, os, sys, relive_tf\n"
    "flag, loaded = os.environ['TF_ENABLE_ONEDNN_OPTS'], 'tensorflow' in sys.modules\n"
    "from tensorflow.python.util import _pywrap_util_port\n"
    "print(json.dumps([flag, loaded, _pywrap_util_port.IsMklEnabled()]))"
  )
  assert _run(code) == ["1", False, True]


def test_tensorflow_imported_first_is_warned_of_at_the_import_line_when_it_runs_without_onednn():
  # On this machine's CPU as TensorFlow decides: oneDNN off on some (an AVX2 AMD EPYC), on by
  # itself on others (AVX512_BF16, AMX); the cases below force each.
  onednn, caught = _run(_TENSORFLOW_FIRST)
  expected = [] if onednn else [["RuntimeWarning", "<string>"]]
  assert [[category, filename] for category, filename, _ in caught] == expected, caught
  assert all(_FIX in message for _, _, message in caught)


@pytest.mark.parametrize(
  "onednn, turned_off, machine, warned",
  [
    (False, False, "x86_64", True),
    (True, False, "x86_64", False),
    (False, True, "x86_64", False),  # the user set TF_ENABLE_ONEDNN_OPTS=0
    (False, False, "aarch64", False),  # measured on x86-64 only; most ARM builds lack oneDNN
  ],
)
def test_the_warning_needs_onednn_off_not_chosen_on_x86(
  monkeypatch, onednn, turned_off, machine, warned
):
  monkeypatch.setattr(_pywrap_util_port, "IsMklEnabled", lambda: onednn)
  monkeypatch.setattr(relive_tf, "_TURNED_OFF", turned_off)
  monkeypatch.setattr(relive_tf.platform, "machine", lambda: machine)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    relive_tf._warn_if_onednn_was_missed()  # noqa: SLF001
  assert len(caught) == int(warned), [str(w.message) for w in caught]
  assert all(_FIX in str(w.message) for w in caught)


def test_a_user_who_turned_onednn_off_is_not_warned():
  onednn, caught = _run(_TENSORFLOW_FIRST, TF_ENABLE_ONEDNN_OPTS="0")
  assert onednn is False
  assert caught == []
