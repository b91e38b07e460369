"""relive_tf: generate short videos and bring still photos to life, in TensorFlow 2 / Keras 3."""

import os
import sys
import warnings

# TensorFlow leaves oneDNN off on some x86 CPUs (an AVX2 AMD EPYC among them); without it Eigen's
# 3D-convolution gradients make the tiny video WGAN's step 33 times slower (docs/benchmarks.md,
# "oneDNN off"). The flag is read once, when TensorFlow is first imported.
_ONEDNN_CHOSEN = "TF_ENABLE_ONEDNN_OPTS" in os.environ
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

if "tensorflow" in sys.modules and not _ONEDNN_CHOSEN:
  # Too late to turn it on: say so, since nothing else would.
  from tensorflow.python.util import _pywrap_util_port

  if not _pywrap_util_port.IsMklEnabled():
    warnings.warn(
      "TensorFlow was imported before relive_tf and runs without oneDNN on this CPU, so training "
      "is many times slower: import relive_tf first, or set TF_ENABLE_ONEDNN_OPTS=1 before "
      "Python starts",
      RuntimeWarning,
      stacklevel=2,
    )
