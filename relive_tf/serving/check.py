"""The export check: a SavedModel run in a fresh process that cannot import relive_tf, compared."""

import os
import subprocess
import sys
import tempfile

import numpy as np
from absl import logging

from relive_tf.serving import warmup

# Largest difference allowed between an exported and an in-memory output, in uint8 levels (graph
# rewrites may round a value the other way).
CHECK_TOLERANCE = 1

# Runs in a fresh interpreter (python -I, relive_tf blocked): every warm-up request through its
# signature of the SavedModel, the outputs saved as "signature:output" arrays.
_CHECK_SCRIPT = """
import sys
sys.modules["relive_tf"] = None  # an import of relive_tf fails: the SavedModel must not need it
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

export_path, warmup_path, outputs_path = sys.argv[1:]
model = tf.saved_model.load(export_path)
outputs = {}
for record in tf.data.TFRecordDataset(warmup_path):
  request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
  signature = request.model_spec.signature_name
  inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
  for name, value in model.signatures[signature](**inputs).items():
    outputs[f"{signature}:{name}"] = value.numpy()
np.savez(outputs_path, **outputs)
"""


class ExportCheckError(ValueError):
  """The exported model's outputs differ from the in-memory model's; no version is written."""


def check_export(export_path, servable, requests):
  """Runs the warm-up requests on the SavedModel in a fresh process and compares with `servable`.

  Args:
    export_path: a SavedModel folder holding assets.extra/tf_serving_warmup_requests.
    servable: what was exported (serving/servables.py), whose reference_outputs() run the
      in-memory Keras model.
    requests: signature name -> {input name: array}, the warm-up requests.

  Raises:
    ExportCheckError: the process failed, or an output differs by more than CHECK_TOLERANCE.
  """
  with tempfile.TemporaryDirectory(prefix="relive_export_check_") as scratch:
    outputs_path = os.path.join(scratch, "outputs.npz")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = subprocess.run(
      [
        sys.executable,
        "-I",
        "-c",
        _CHECK_SCRIPT,
        os.path.abspath(export_path),
        os.path.abspath(os.path.join(export_path, warmup.WARMUP_FILE)),
        outputs_path,
      ],
      cwd=scratch,
      env=env,
      capture_output=True,
      text=True,
      check=False,
    )
    if result.returncode:
      raise ExportCheckError(
        f"the export at {export_path!r} failed to run in a fresh process "
        f"(exit status {result.returncode}):\n{result.stderr[-3000:]}"
      )
    with np.load(outputs_path) as loaded:
      exported = dict(loaded)
  for signature, inputs in requests.items():
    for name, expected in servable.reference_outputs(signature, inputs).items():
      key = f"{signature}:{name}"
      if key not in exported:
        raise ExportCheckError(f"signature {signature!r} of the export gave no output {name!r}")
      actual = exported[key]
      if actual.shape != expected.shape or actual.dtype != expected.dtype:
        raise ExportCheckError(
          f"signature {signature!r} output {name!r} is {actual.dtype} {list(actual.shape)} in "
          f"the export but {expected.dtype} {list(expected.shape)} in memory"
        )
      difference = int(
        np.max(np.abs(actual.astype(np.int64) - expected.astype(np.int64)), initial=0)
      )
      if difference > CHECK_TOLERANCE:
        raise ExportCheckError(
          f"signature {signature!r} output {name!r} differs from the in-memory model by up to "
          f"{difference} (tolerance {CHECK_TOLERANCE}): the export does not compute what the "
          "trained model does"
        )
  logging.info("check passed: %d signature(s) match the in-memory model", len(requests))
