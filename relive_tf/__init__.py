"""relive_tf: generate short videos and bring still photos to life, in TensorFlow 2 / Keras 3."""

import os
import platform
import sys
import warnings

# TensorFlow leaves oneDNN off on some x86 CPUs (those without AVX512_VNNI, AVX512_BF16, AVX_VNNI or
# AMX: an AVX2 AMD EPYC among them); without it Eigen's 3D-convolution gradients make the tiny
# video WGAN's step 33 times slower (docs/benchmarks.md, "oneDNN off"). The flag is read once,
# when TensorFlow is first imported.
_TURNED_OFF = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").lower() in ("0", "false")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


def _warn_if_onednn_was_missed():
  """Warns when TensorFlow, imported before relive_tf, runs without oneDNN on an x86-64 CPU (where
  the slowdown was measured; macOS and most ARM builds have no oneDNN to turn on), unless the user
  turned it off."""
  if "tensorflow" not in sys.modules or _TURNED_OFF or platform.machine() != "x86_64":
    return
  from tensorflow.python.util import _pywrap_util_port  # noqa: PLC0415 (TensorFlow is loaded)

  if not _pywrap_util_port.IsMklEnabled():
    warnings.warn(
      "TensorFlow was imported before relive_tf and runs without oneDNN on this CPU, so its CPU "
      "training steps are many times slower: import relive_tf first, or set "
      "TF_ENABLE_ONEDNN_OPTS=1 before Python starts",
      RuntimeWarning,
      stacklevel=3,
    )


_warn_if_onednn_was_missed()
