"""SavedModel exports of trained models for TF Serving: versioned, atomic, self-contained."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from google.protobuf import text_format
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from relive_tf import generate
from relive_tf import relive
from relive_tf.data import photos
from relive_tf.data import pipeline
from relive_tf.data import synthetic
from relive_tf.errors import UserError
from relive_tf.training import workdir as workdir_lib

# TF Serving reads these requests from each version and runs them before serving it.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MODELS_CONFIG = "models.config"
# Where the tensorflow/serving container sees the export root (-v "$PWD/export:/models", BUILD.md).
SERVING_ROOT = "/models"
# The most videos one `sample` request may ask for: a bound on one request's memory.
MAX_SAMPLE_COUNT = 64
# --check: largest difference allowed between an exported and an in-memory output, in uint8 levels
# (graph rewrites may round a value the other way).
CHECK_TOLERANCE = 1
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ExportCheckError(UserError):
  """The exported model's outputs differ from the in-memory model's; no version is written."""


def _checked(tensor, shape):
  """`tensor`, checked at run time to be of `shape` (None: any size).

  The shapes a signature declares are not enforced when TF Serving or a loaded signature runs it, so
  a wrong shape would fail deep inside a layer; EnsureShape fails first, and its error names the
  input: "Shape of tensor noise [2,5] is not compatible with expected shape [?,8]".
  """
  return tf.ensure_shape(tensor, shape)


def _archive(endpoints):
  """A keras.export.ExportArchive of {signature name: (function, input TensorSpecs)}.

  It saves the variables the functions use, not the Keras models: a SavedModel of the computation
  alone, which plain TensorFlow loads and serves.
  """
  archive = keras.export.ExportArchive()
  for name, (function, input_signature) in endpoints.items():
    archive.add_endpoint(name, function, input_signature)
  return archive


class VideoWGANExport:
  """A video WGAN's generator behind two signatures.

  serving_default: noise float32 [batch, noise_dim] -> video uint8 [batch, frames, size, size, 3].
  sample: count int32 [] and seed int64 [] -> video uint8 [count, frames, size, size, 3], the
    videos `relive generate --seed=SEED` writes first.
  """

  def __init__(self, generator):
    self.generator = generator
    self.noise_dim = generator.noise_dim

  def videos_from_noise(self, noise):
    noise = _checked(noise, [None, self.noise_dim])
    return {"video": pipeline.to_uint8_video(self.generator(noise, training=False))}

  def sample(self, count, seed):
    count, seed = _checked(count, []), _checked(seed, [])
    in_range = tf.debugging.Assert(
        tf.logical_and(count >= 1, count <= MAX_SAMPLE_COUNT),
        [f"input count must be from 1 to {MAX_SAMPLE_COUNT}; got", count])
    with tf.control_dependencies([in_range]):
      # The noise of generate.sample_videos, so that a seed gives the same videos everywhere.
      noise = tf.random.stateless_normal([count, self.noise_dim],
                                         seed=tf.stack([seed, tf.zeros_like(seed)]))
    return {"video": pipeline.to_uint8_video(self.generator(noise, training=False))}

  def archive(self):
    return _archive({
        "serving_default": (self.videos_from_noise,
                            [tf.TensorSpec([None, self.noise_dim], tf.float32, name="noise")]),
        "sample": (self.sample, [tf.TensorSpec([], tf.int32, name="count"),
                                 tf.TensorSpec([], tf.int64, name="seed")]),
    })

  def warmup_inputs(self):
    """One small request per signature: signature name -> {input name: numpy array}."""
    noise = tf.random.stateless_normal([1, self.noise_dim], seed=[0, 0]).numpy()
    return {"serving_default": {"noise": noise},
            "sample": {"count": np.array(1, np.int32), "seed": np.array(0, np.int64)}}

  def reference_outputs(self, signature, inputs):
    """What the in-memory Keras model gives for a signature's inputs: {output name: array}."""
    if signature == "sample":
      return {"video": generate.sample_videos(self.generator, int(inputs["count"]),
                                              int(inputs["seed"]))}
    video = self.generator(tf.constant(inputs["noise"]), training=False)
    return {"video": pipeline.to_uint8_video(video).numpy()}


class ConditionalWGANExport:
  """A conditional WGAN's generator behind two signatures. Every photo gets the noise of seed 0:
  a signature gives the video `relive relive --seed=0` writes for the same photo.

  serving_default: photo uint8 [batch, size, size, 3] -> video uint8 [batch, frames, size, size, 3].
  relive_image: image_bytes string [batch] (JPEG, PNG, GIF, BMP or WebP files of any size;
    {"b64": ...} in REST requests) -> video, the images read by photos.decode_photos, as
    `relive relive` reads a photo file.
  """

  def __init__(self, generator, size):
    self.generator = generator
    self.size = size

  def _videos(self, photos):
    noise = None
    if self.generator.noise_dim:
      noise = tf.random.stateless_normal([1, self.generator.noise_dim], seed=[0, 0])
      noise = tf.repeat(noise, tf.shape(photos)[0], axis=0)
    video = self.generator(pipeline.to_float_video(photos), noise, training=False)
    return {"video": pipeline.to_uint8_video(video)}

  def videos_from_photos(self, photo):
    return self._videos(_checked(photo, [None, self.size, self.size, 3]))

  def videos_from_image_bytes(self, image_bytes):
    return self._videos(photos.decode_photos(_checked(image_bytes, [None]), self.size))

  def archive(self):
    return _archive({
        "serving_default": (self.videos_from_photos, [
            tf.TensorSpec([None, self.size, self.size, 3], tf.uint8, name="photo")]),
        "relive_image": (self.videos_from_image_bytes,
                         [tf.TensorSpec([None], tf.string, name="image_bytes")]),
    })

  def warmup_inputs(self):
    """A synthetic clip's frame, as pixels and as a PNG file."""
    photo = synthetic.moving_digits_clip(0, 0, frames=2, size=self.size)[1]
    return {"serving_default": {"photo": photo[None]},
            "relive_image": {"image_bytes": np.array([tf.io.encode_png(photo).numpy()])}}

  def reference_outputs(self, signature, inputs):
    if signature == "relive_image":
      pictures = photos.decode_photos(tf.constant(inputs["image_bytes"]), self.size).numpy()
    else:
      pictures = inputs["photo"]
    return {"video": np.concatenate([relive.relive_videos(self.generator, picture, 1, seed=0)
                                     for picture in pictures])}


class PredictorExport:
  """A next-frame predictor behind one signature.

  serving_default: context uint8 [batch, K, size, size, 3] (K >= 1 true frames) and future int32 []
    -> frames uint8 [batch, future, size, size, 3], the frames after the context, each prediction
    fed back as the next input. K + future is at most the training clips' length.
  """

  def __init__(self, predictor, size, clip_frames, context_frames):
    self.predictor = predictor
    self.size = size
    self.clip_frames = clip_frames
    self.context_frames = context_frames

  def rollout(self, context, future):
    context = _checked(context, [None, None, self.size, self.size, 3])
    future = _checked(future, [])
    given = tf.shape(context)[1]
    lengths = tf.debugging.Assert(
        tf.logical_and(tf.logical_and(given >= 1, future >= 1), given + future <= self.clip_frames),
        ["input context must hold at least 1 frame and input future must be at least 1, with "
         f"context frames + future at most {self.clip_frames} (the training clips' length); got",
         given, future])
    with tf.control_dependencies([lengths]):
      predictions, state = self.predictor.observe(pipeline.to_float_video(context))
    # predictor.rollout's loop as a graph loop: `future` is only known when a request comes.
    frame = predictions[:, -1]
    frames = tf.TensorArray(tf.float32, size=future, element_shape=frame.shape).write(0, frame)

    def step(t, frame, state, frames):
      frame, state = self.predictor.step(frame, state)
      return t + 1, frame, state, frames.write(t, frame)

    frames = tf.while_loop(lambda t, *_: t < future, step, (1, frame, state, frames))[-1]
    return {"frames": pipeline.to_uint8_video(tf.transpose(frames.stack(), [1, 0, 2, 3, 4]))}

  def archive(self):
    return _archive({"serving_default": (self.rollout, [
        tf.TensorSpec([None, None, self.size, self.size, 3], tf.uint8, name="context"),
        tf.TensorSpec([], tf.int32, name="future")])})

  def warmup_inputs(self):
    """The first context_frames frames of a synthetic clip, and the rest of the clip to predict."""
    clip = synthetic.moving_digits_clip(0, 0, frames=self.clip_frames, size=self.size)
    return {"serving_default": {
        "context": clip[None, :self.context_frames],
        "future": np.array(self.clip_frames - self.context_frames, np.int32)}}

  def reference_outputs(self, signature, inputs):
    del signature  # the only one
    frames = self.predictor.rollout(pipeline.to_float_video(inputs["context"]),
                                    int(inputs["future"]))
    return {"frames": pipeline.to_uint8_video(frames).numpy()}


# model_type -> builder(config, recipe) of its export: an object with archive() (the SavedModel's
# signatures), warmup_inputs() and reference_outputs(signature, inputs) (the in-memory model's).
EXPORTS = {
    "vgan": lambda config, recipe: VideoWGANExport(recipe.generator),
    "cvgan": lambda config, recipe: ConditionalWGANExport(recipe.generator, config.data.size),
    "lstm": lambda config, recipe: PredictorExport(recipe.predictor, config.data.size,
                                                   config.data.frames, config.train.context_frames),
}


def model_versions(model_dir):
  """The versions exported in a model folder: sorted ints, one per <version>/saved_model.pb."""
  if not os.path.isdir(model_dir):
    return []
  return sorted(int(name) for name in os.listdir(model_dir) if name.isdigit()
                and os.path.isfile(os.path.join(model_dir, name, "saved_model.pb")))


def _new_version(export_dir, version):
  """The version to write: `version`, or one past the highest folder; an existing one is refused."""
  taken = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
  if version is None:
    return max(taken, default=0) + 1
  if version < 1:
    raise UserError(f"--version is {version}; TF Serving versions are positive integers (or leave "
                    "--version out for the next one)")
  if version in taken:
    raise UserError(f"{os.path.join(export_dir, str(version))!r} already exists and exports are "
                    f"never overwritten: pass another --version, or leave it out for version "
                    f"{max(taken) + 1}")
  return version


def _check_export_dir(export_dir):
  name = os.path.basename(os.path.normpath(export_dir))
  if name.isdigit():
    raise UserError(f"--export_dir {export_dir!r} looks like a version folder; give the model's "
                    "folder, export/NAME, and the version goes inside it")
  if not _MODEL_NAME.fullmatch(name):
    raise UserError(f"--export_dir {export_dir!r} ends in {name!r}, which becomes the model's name "
                    "in TF Serving URLs; use letters, digits, '_', '.' or '-'")
  if os.path.exists(export_dir) and not os.path.isdir(export_dir):
    raise UserError(f"--export_dir {export_dir!r} is a file; give a folder")
  return name


def _write_warmup_requests(export_path, model_name, requests):
  """Writes assets.extra/tf_serving_warmup_requests: a PredictionLog record per signature."""
  path = os.path.join(export_path, WARMUP_FILE)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tf.io.TFRecordWriter(path) as writer:
    for signature, inputs in requests.items():
      request = predict_pb2.PredictRequest(
          model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
      for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
      log = prediction_log_pb2.PredictionLog(
          predict_log=prediction_log_pb2.PredictLog(request=request))
      writer.write(log.SerializeToString())


def write_models_config(export_root):
  """Writes export_root/models.config: a TF Serving model config with every model exported there.

  Each model's base_path is where the tensorflow/serving container sees it when export_root is
  mounted at /models; TF Serving serves the highest version of each.

  Returns:
    The config's path.
  """
  config = model_server_config_pb2.ModelServerConfig()
  for name in sorted(os.listdir(export_root)):
    if model_versions(os.path.join(export_root, name)):
      config.model_config_list.config.add(name=name, base_path=f"{SERVING_ROOT}/{name}",
                                          model_platform="tensorflow")
  path = os.path.join(export_root, MODELS_CONFIG)
  temporary = f"{path}.{uuid.uuid4().hex[:8]}.tmp"  # two exports at once write their own
  with open(temporary, "w") as f:
    f.write(f"# Written by `relive export`: the models in this folder, seen at {SERVING_ROOT}.\n")
    f.write(text_format.MessageToString(config))
  os.replace(temporary, path)
  return path


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


def check_export(export_path, servable, requests):
  """Runs the warm-up requests on the SavedModel in a fresh process and compares with `servable`.

  Args:
    export_path: a SavedModel folder holding assets.extra/tf_serving_warmup_requests.
    servable: what was exported (an EXPORTS entry), whose reference_outputs() run the in-memory
      Keras model.
    requests: signature name -> {input name: array}, the warm-up requests.

  Raises:
    ExportCheckError: the process failed, or an output differs by more than CHECK_TOLERANCE.
  """
  with tempfile.TemporaryDirectory(prefix="relive_export_check_") as scratch:
    outputs_path = os.path.join(scratch, "outputs.npz")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = subprocess.run(
        [sys.executable, "-I", "-c", _CHECK_SCRIPT, os.path.abspath(export_path),
         os.path.abspath(os.path.join(export_path, WARMUP_FILE)), outputs_path],
        cwd=scratch, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
      raise ExportCheckError(f"the export at {export_path!r} failed to run in a fresh process "
                             f"(exit status {result.returncode}):\n{result.stderr[-3000:]}")
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
            f"the export but {expected.dtype} {list(expected.shape)} in memory")
      difference = int(np.max(np.abs(actual.astype(np.int64) - expected.astype(np.int64)),
                              initial=0))
      if difference > CHECK_TOLERANCE:
        raise ExportCheckError(
            f"signature {signature!r} output {name!r} differs from the in-memory model by up to "
            f"{difference} (tolerance {CHECK_TOLERANCE}): the export does not compute what the "
            "trained model does")
  logging.info("check passed: %d signature(s) match the in-memory model", len(requests))


def export(workdir, export_dir, version=None, check=False):
  """Exports a workdir's trained model as a TF Serving SavedModel version.

  The version is written to a hidden temporary folder inside export_dir and renamed to
  export_dir/<version> once complete, so TF Serving never sees half of it; export_dir's parent gets
  an up-to-date models.config.

  Args:
    workdir: a workdir written by `relive train`.
    export_dir: the model's folder, export/NAME; NAME is the model's name in TF Serving.
    version: a positive integer; by default one past the highest version there. An existing
      version is never overwritten.
    check: also run every signature in a fresh Python process that cannot import relive_tf, on
      the warm-up requests, and compare with the in-memory model before publishing the version.

  Returns:
    The new version's folder, export_dir/<version>.

  Raises:
    UserError: a bad workdir, export_dir or version, or (ExportCheckError) a failed check.
  """
  name = _check_export_dir(export_dir)
  config = workdir_lib.load_config(workdir)
  if config.model_type not in EXPORTS:
    raise UserError(f"{workdir!r} holds a {config.model_type!r} model, which has no export; "
                    f"exportable: {sorted(EXPORTS)}")
  os.makedirs(export_dir, exist_ok=True)
  version = _new_version(export_dir, version)
  _, recipe, step = workdir_lib.restore_trained(workdir)
  logging.info("exporting the %s model of %s at step %d as %s version %d", config.model_type,
               workdir, step, name, version)
  servable = EXPORTS[config.model_type](config, recipe)
  requests = servable.warmup_inputs()
  final_path = os.path.join(export_dir, str(version))
  # Hidden and not a number: TF Serving skips it. os.mkdir gives it the umask's permissions.
  staging = os.path.join(export_dir, f".{version}.incomplete-{uuid.uuid4().hex[:8]}")
  os.mkdir(staging)
  try:
    servable.archive().write_out(staging, verbose=False)
    _write_warmup_requests(staging, name, requests)
    if check:
      logging.info("checking the export in a fresh process...")
      check_export(staging, servable, requests)
    try:
      os.rename(staging, final_path)
    except OSError:
      raise UserError(f"{final_path!r} appeared while exporting (another export?); it is kept and "
                      "this export is dropped: run again for the next version") from None
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  config_path = write_models_config(os.path.dirname(os.path.abspath(export_dir)))
  logging.info("wrote %s and %s", final_path, config_path)
  return final_path
