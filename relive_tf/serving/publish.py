"""Publishing a servable for TF Serving: numbered versions, written whole, and models.config."""

import os
import re
import shutil
import uuid

import tensorflow as tf
from absl import logging
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from relive_tf import errors
from relive_tf import files
from relive_tf.serving import check as check_lib
from relive_tf.serving import warmup
from relive_tf.training import checkpoints

MODELS_CONFIG = "models.config"
# Where the tensorflow/serving container sees the export root (-v "$PWD/export:/models", BUILD.md).
SERVING_ROOT = "/models"
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A version being written: export_dir/.<version>.incomplete-<8 hex digits>, renamed when complete.
_INCOMPLETE = ".incomplete-"
_UNFINISHED = re.compile(r"\.\d+" + re.escape(_INCOMPLETE) + r"[0-9a-f]{8}")


def model_versions(model_dir):
  """The versions exported in a model folder: sorted ints, one per <version>/saved_model.pb."""
  if not os.path.isdir(model_dir):
    return []
  return sorted(
    int(name)
    for name in os.listdir(model_dir)
    if name.isdigit() and os.path.isfile(os.path.join(model_dir, name, "saved_model.pb"))
  )


def _new_version(export_dir, version):
  """The version to write: `version`, or one past the highest folder; an existing one is refused."""
  taken = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
  if version is None:
    return max(taken, default=0) + 1
  if version < 1:
    raise ValueError(
      f"version is {version}; TF Serving versions are positive integers (or leave "
      "the version out for the next one)"
    )
  if version in taken:
    raise ValueError(
      f"{os.path.join(export_dir, str(version))!r} already exists and exports are "
      f"never overwritten: pass another version, or leave it out for version "
      f"{max(taken) + 1}"
    )
  return version


def _model_name(export_dir):
  """The model's name in TF Serving: the last part of export_dir, checked."""
  name = os.path.basename(os.path.normpath(export_dir))
  if name.isdigit():
    raise ValueError(
      f"export_dir {export_dir!r} looks like a version folder; give the model's "
      "folder, export/NAME, and the version goes inside it"
    )
  if not _MODEL_NAME.fullmatch(name):
    raise ValueError(
      f"export_dir {export_dir!r} ends in {name!r}, which becomes the model's name "
      "in TF Serving URLs; use letters, digits, '_', '.' or '-'"
    )
  if os.path.exists(export_dir) and not os.path.isdir(export_dir):
    raise ValueError(f"export_dir {export_dir!r} is a file; give a folder")
  return name


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
      config.model_config_list.config.add(
        name=name, base_path=f"{SERVING_ROOT}/{name}", model_platform="tensorflow"
      )
  path = os.path.join(export_root, MODELS_CONFIG)
  files.write_text(
    path,
    f"# Written by `relive export`: the models in this folder, seen at "
    f"{SERVING_ROOT}.\n{text_format.MessageToString(config)}",
  )
  return path


def export(workdir, export_dir, families, version=None, check=False):
  """Exports a workdir's trained model as a TF Serving SavedModel version.

  The version is written to a hidden temporary folder inside export_dir and renamed to
  export_dir/<version> once complete, so TF Serving never sees half of it; export_dir's parent gets
  an up-to-date models.config. The parent is held by one export at a time (files.exclusive_use);
  the temporary folders of exports killed mid-write are deleted first.

  Args:
    workdir: a workdir written by `relive train`.
    export_dir: the model's folder, export/NAME; NAME is the model's name in TF Serving.
    families: the registered Families (relive_tf/families.py); those with a servable are taken.
    version: a positive integer; by default one past the highest version there. An existing
      version is never overwritten.
    check: also run every signature in a fresh Python process that cannot import relive_tf, on
      the warm-up requests, and compare with the in-memory model before publishing the version.

  Returns:
    The new version's folder, export_dir/<version>.

  Raises:
    ValueError: a bad workdir, export_dir or version, an export root another export is writing,
      or (ExportCheckError) a failed check.
    errors.WriteError: a write failed (a full disk, a lost permission); nothing is published.
  """
  name = _model_name(export_dir)
  exportable = [family for family in families if family.servable is not None]
  trained = checkpoints.restore_trained(workdir, exportable, "export")
  # One export per export root at a time: versions are numbered and models.config listed there.
  with files.exclusive_use(os.path.dirname(os.path.abspath(export_dir)), "relive export"):
    os.makedirs(export_dir, exist_ok=True)
    _remove_unfinished(export_dir)
    return _publish(trained, name, export_dir, version, check)


def _remove_unfinished(export_dir):
  """Deletes the staging folders of exports that were killed (SIGKILL, a power cut) mid-write."""
  for entry in os.listdir(export_dir):
    if _UNFINISHED.fullmatch(entry):
      logging.info("removing %s, left by an export that did not finish", entry)
      shutil.rmtree(os.path.join(export_dir, entry))


def _write_version(servable, staging, name, requests, export_dir):
  """Writes the SavedModel and its warm-up requests into `staging`.

  Raises:
    errors.WriteError: a write failed (a full disk, a lost permission), naming the cause.
  """
  try:
    servable.archive().write_out(staging, verbose=False)
    warmup.write_warmup_requests(staging, name, requests)
  except (tf.errors.OpError, OSError) as error:
    versions = model_versions(export_dir)
    kept = f"versions {versions} are kept" if versions else "no version was exported before"
    raise errors.write_error(f"the export {name}", staging, error, kept) from error


def _publish(trained, name, export_dir, version, check):
  """export()'s writing, with the export root held."""
  version = _new_version(export_dir, version)
  logging.info(
    "exporting the %s of %s at step %d as %s version %d",
    trained.family.title,
    trained.workdir,
    trained.step,
    name,
    version,
  )
  servable = trained.family.servable(trained)
  requests = servable.warmup_inputs()
  final_path = os.path.join(export_dir, str(version))
  # Hidden and not a number: TF Serving skips it. os.mkdir gives it the umask's permissions.
  staging = os.path.join(export_dir, f".{version}{_INCOMPLETE}{uuid.uuid4().hex[:8]}")
  os.mkdir(staging)
  try:
    _write_version(servable, staging, name, requests, export_dir)
    if check:
      logging.info("checking the export in a fresh process...")
      check_lib.check_export(staging, servable, requests)
    try:
      os.rename(staging, final_path)
    except OSError:
      raise ValueError(
        f"{final_path!r} appeared while exporting (another export?); it is kept and "
        "this export is dropped: run again for the next version"
      ) from None
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  config_path = write_models_config(os.path.dirname(os.path.abspath(export_dir)))
  logging.info("wrote %s and %s", final_path, config_path)
  return final_path
