"""relive_tf turns oneDNN on before TensorFlow loads, and warns when TensorFlow came first without
it."""

import json
import os
import subprocess
import sys

import pytest

# Imports TensorFlow first, then relive_tf; prints whether TensorFlow runs oneDNN and the warnings.
_TENSORFLOW_FIRST = """
import json, warnings
import tensorflow
from tensorflow.python.util import _pywrap_util_port
with warnings.catch_warnings(record=True) as caught:
  warnings.simplefilter("always")
  import relive_tf
print(json.dumps([_pywrap_util_port.IsMklEnabled(), [str(w.message) for w in caught]]))
"""


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


def test_relive_tf_imported_first_turns_onednn_on():
  code = (
    "import json, relive_tf\n"
    "from tensorflow.python.util import _pywrap_util_port\n"
    "print(json.dumps(_pywrap_util_port.IsMklEnabled()))"
  )
  assert _run(code) is True


@pytest.mark.parametrize("chosen", [None, "0"], ids=["flag unset", "flag set to 0"])
def test_tensorflow_imported_first_without_onednn_is_warned_of_unless_chosen(chosen):
  flag = {"TF_ENABLE_ONEDNN_OPTS": chosen} if chosen else {}
  onednn, warnings = _run(_TENSORFLOW_FIRST, **flag)
  # Where TensorFlow turns oneDNN on by itself (AVX-512 CPUs) there is nothing to warn of; a user
  # who set the flag to 0 chose it.
  expected = 1 if chosen is None and not onednn else 0
  assert len(warnings) == expected, warnings
  assert all("import relive_tf first, or set TF_ENABLE_ONEDNN_OPTS=1" in w for w in warnings)
  if chosen == "0":
    assert onednn is False
