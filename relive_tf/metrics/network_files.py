"""The evaluation networks' folders: model.keras and a JSON description with the held-out figures,
written last, so a folder with the description holds a complete network (relive_tf/assets)."""

import os

import keras

from relive_tf import files

MODEL_FILE = "model.keras"
ASSETS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets")


def shown(path):
  """How reports name the network folder `path`: one shipped with the package by its place in it
  (relive_tf/assets/NAME, the same on every machine), any other by the path given."""
  name = os.path.basename(os.path.normpath(path))
  return f"relive_tf/assets/{name}" if files.same_file(path, os.path.join(ASSETS, name)) else path


def save(model, out_dir, info_file, info):
  """Writes out_dir/model.keras, the model without its optimizer (what measuring needs, a third of
  the size), then out_dir/info_file holding `info`; an older description goes first, as it would
  describe the old network. out_dir is created; the model is written atomically."""
  files.gfile().makedirs(out_dir)
  info_path = os.path.join(out_dir, info_file)
  files.discard(info_path)
  measuring = keras.Model.from_config(model.get_config())
  measuring.set_weights(model.get_weights())
  with files.atomic_write(os.path.join(out_dir, MODEL_FILE), suffix=".keras") as temporary:
    measuring.save(temporary)
  files.write_json(info_path, info)


def load(path, info_file, what, network):
  """(the keras model, its description dict) of a folder written by save.

  Args:
    what: the network in words, for the error ("digit recogniser").
    network: its name in `python -m relive_tf.metrics.shipped --networks`.

  Raises:
    ValueError: `path` holds no description (no complete network); the message says how to train
      one.
  """
  info_path = os.path.join(path, info_file)
  if not files.isfile(info_path):
    raise ValueError(
      f"no {what} in {path!r} ({info_file} is missing); train one with "
      f"`python -m relive_tf.metrics.shipped --networks={network} --out=DIR` and pass "
      f"DIR/{network}"
    )
  return keras.models.load_model(os.path.join(path, MODEL_FILE)), files.read_json(info_path)
