"""TF Serving's warm-up requests: one PredictionLog per signature, run before a version serves."""

import os

import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

# TF Serving reads these requests from each version and runs them before serving it.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def write_warmup_requests(export_path, model_name, requests):
  """Writes EXPORT_PATH/assets.extra/tf_serving_warmup_requests.

  Args:
    export_path: a SavedModel folder.
    model_name: the model's name in TF Serving.
    requests: {signature name: {input name: array}}, one request each.
  """
  path = os.path.join(export_path, WARMUP_FILE)
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.TFRecordWriter(path) as writer:
    for signature, inputs in requests.items():
      request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
      )
      for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
      log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
      )
      writer.write(log.SerializeToString())
