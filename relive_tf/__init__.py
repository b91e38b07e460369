"""relive_tf: generate short videos and bring still photos to life, in TensorFlow 2 / Keras 3."""

import os

# TensorFlow leaves oneDNN off on some x86 CPUs; without it Eigen's 3D-convolution gradients are
# several times slower (docs/benchmarks.md). The flag is read once, when TensorFlow is first
# imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
