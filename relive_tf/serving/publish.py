"""Publishing a servable for TF Serving: numbered versions, written whole, and models.config."""

import contextlib
import errno
import os
import re
import shutil
import tempfile
import uuid

import tensorflow as tf
from absl import logging
from google.protobuf import message
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.config import model_server_config_pb2

from relive_tf import errors
from relive_tf import files
from relive_tf.serving import check as check_lib
from relive_tf.serving import warmup
from relive_tf.training import checkpoints
from relive_tf.training import workdir as workdir_lib

MODELS_CONFIG = "models.config"
# Where the tensorflow/serving container sees the export root (-v "$PWD/export:/models", BUILD.md).
SERVING_ROOT = "/models"
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A version being written: export_dir/.<version>.incomplete-<8 hex digits>, renamed when complete.
_INCOMPLETE = ".incomplete-"
_UNFINISHED = re.compile(r"\.\d+" + re.escape(_INCOMPLETE) + r"[0-9a-f]{8}")
# In a remote version folder while its copy runs: written first, deleted after saved_model.pb.
COPYING_MARKER = ".relive-copy-incomplete"


def model_versions(model_dir):
  """The versions exported in a model folder: sorted ints, one per <version>/saved_model.pb."""
  if not tf.io.gfile.isdir(model_dir):
    return []
  return sorted(
    int(name)
    for name in files.listdir(model_dir)
    if name.isdigit() and tf.io.gfile.exists(os.path.join(model_dir, name, "saved_model.pb"))
  )


# TF Serving reads a version folder's name as an int64.
MAX_VERSION = 2**63 - 1


def _new_version(export_dir, version):
  """The version to write: `version`, or one past the highest folder; an existing one is refused,
  and so is one that is no int64 (TF Serving would never serve it). A version below the highest
  is written with a warning: TF Serving serves the highest."""
  taken = [int(name) for name in files.listdir(export_dir) if name.isdigit()]
  if version is None:
    version = max(taken, default=0) + 1
    if version > MAX_VERSION:
      raise ValueError(
        f"{export_dir!r} holds version {max(taken)}, the highest TF Serving reads: give an "
        "unused lower --version"
      )
    return version
  if not 1 <= version <= MAX_VERSION:
    raise ValueError(
      f"version is {version}; TF Serving versions are integers from 1 to {MAX_VERSION} (or "
      "leave the version out for the next one)"
    )
  if version in taken:
    raise ValueError(
      f"{os.path.join(export_dir, str(version))!r} already exists and exports are "
      f"never overwritten: pass another version, or leave it out for version "
      f"{max(taken) + 1}"
    )
  if version < max(taken, default=0):
    logging.warning(
      "version %d is below %s's highest, %d, which TF Serving goes on serving",
      version,
      export_dir,
      max(taken),
    )
  return version


@contextlib.contextmanager
def _staging_folder(export_dir, version):
  """Yields a new local folder to write a version in, deleted after the block unless moved away.

  For a local export_dir it lies beside the versions, hidden and not a number (TF Serving skips
  it; os.mkdir gives it the umask's permissions), to be renamed into place at once. For a remote
  one (gs://, a plugin's filesystem) it is a local temporary folder: the check's fresh process
  reads local files, and such filesystems cannot rename a folder at once (gs:// renames object by
  object) anyway.
  """
  if files.is_remote(export_dir):
    with tempfile.TemporaryDirectory(prefix="relive_export_") as staging:
      yield staging
    return
  staging = os.path.join(export_dir, f".{version}{_INCOMPLETE}{uuid.uuid4().hex[:8]}")
  os.mkdir(staging)
  try:
    yield staging
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def _publish_version(staging, final_path, name, export_dir):
  """Moves a finished version from the local folder `staging` to final_path: a rename on the local
  disk; to a remote filesystem a copy, file by file with saved_model.pb last, so that until every
  file is there the folder holds no SavedModel (model_versions skips it; loaders find none). The
  folder holds COPYING_MARKER while the copy runs: the next export deletes a folder a killed copy
  left, and no other.

  Raises:
    errors.WriteError: a remote copy failed; what it copied is deleted.
    OSError: final_path exists.
  """
  if not files.is_remote(final_path):
    os.rename(staging, final_path)
    return
  if tf.io.gfile.exists(final_path):
    raise FileExistsError(errno.EEXIST, "version exists", final_path)
  relative_paths = [
    os.path.relpath(os.path.join(folder, name), staging)
    for folder, _, names in os.walk(staging)
    for name in names
  ]
  try:
    tf.io.gfile.makedirs(final_path)
    files.write_text(os.path.join(final_path, COPYING_MARKER), "relive export is copying\n")
    for relative in sorted(relative_paths, key=lambda path: (path == "saved_model.pb", path)):
      target = os.path.join(final_path, relative)
      tf.io.gfile.makedirs(os.path.dirname(target))
      tf.io.gfile.copy(os.path.join(staging, relative), target)
    tf.io.gfile.remove(os.path.join(final_path, COPYING_MARKER))
  except tf.errors.OpError as error:
    with contextlib.suppress(tf.errors.OpError):
      tf.io.gfile.rmtree(final_path)
    raise errors.write_error(f"the export {name}", final_path, error, _kept(export_dir)) from error


def _model_name(export_dir):
  """The model's name in TF Serving: the last part of export_dir, checked."""
  name = os.path.basename(os.path.normpath(export_dir))
  if name in ("", ".", "..", os.sep):
    raise ValueError(
      f"export_dir {export_dir!r} names no model folder; give export/NAME, whose last part "
      "becomes the model's name in TF Serving"
    )
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
  if tf.io.gfile.exists(export_dir) and not tf.io.gfile.isdir(export_dir):
    raise ValueError(f"export_dir {export_dir!r} is a file; give a folder")
  _check_not_a_root_or_workdir(export_dir)
  return name


def _check_not_a_root_or_workdir(export_dir):
  """Refuses an export_dir that is an export root (it holds models.config or models' folders), a
  training workdir, or a folder right inside one: the version would land among them, or
  models.config in the workdir."""
  # Where export() writes models.config (a remote path keeps a trailing slash).
  root = os.path.dirname(files.absolute(export_dir).rstrip("/"))
  if workdir_lib.is_workdir(root):
    raise ValueError(
      f"export_dir {export_dir!r} is inside the training workdir {root!r}, where models.config "
      "would be written; give a folder for the model outside it, such as export/NAME"
    )
  if not tf.io.gfile.isdir(export_dir):
    return
  names = files.listdir(export_dir)
  models = [name for name in names if not name.isdigit() and model_versions(f"{export_dir}/{name}")]
  if MODELS_CONFIG in names or models:
    held = f"the models {', '.join(sorted(models))}" if models else MODELS_CONFIG
    raise ValueError(
      f"export_dir {export_dir!r} holds {held}: it is an export root; give a folder for one "
      f"model inside it, {os.path.join(export_dir, 'NAME')}"
    )
  if workdir_lib.is_workdir(export_dir):
    raise ValueError(
      f"export_dir {export_dir!r} is {workdir_lib.kind(export_dir)}; give a folder for the model "
      "outside it, such as export/NAME"
    )


def read_models_config(export_root):
  """The ModelServerConfig in export_root/models.config (empty when there is none).

  Raises:
    ValueError: the file is not a TF Serving model config, naming it and the fix.
  """
  config = model_server_config_pb2.ModelServerConfig()
  path = os.path.join(export_root, MODELS_CONFIG)
  if tf.io.gfile.exists(path):
    try:
      text_format.Parse(files.read_bytes(path).decode("utf-8"), config)
    except (text_format.ParseError, UnicodeDecodeError) as error:
      raise ValueError(
        f"{path} is not a TF Serving model config ({error}); fix or remove it, then export again"
      ) from None
    if config.HasField("custom_model_config"):
      raise ValueError(
        f"{path} holds a custom_model_config, which `relive export` cannot add its models to; "
        "move it elsewhere, then export again"
      )
  return config


def write_models_config(export_root):
  """Writes export_root/models.config: a TF Serving model config with every model exported there,
  keeping what else the file held but its comments.

  Each exported model's entry has the base_path where the tensorflow/serving container sees it
  when export_root is mounted at /models (SERVING_ROOT/NAME); the rest of an entry the file already
  held for it is kept (a version policy, labels). Entries of other models (a remote base_path) are
  kept too; one at SERVING_ROOT/NAME whose folder holds no version any more is dropped, and so is a
  second entry of one name, which TF Serving would refuse. TF Serving serves the highest version of
  each.

  Returns:
    The config's path.
  """
  exported = {
    name for name in files.listdir(export_root) if model_versions(os.path.join(export_root, name))
  }
  config = model_server_config_pb2.ModelServerConfig()
  listed = set()
  for entry in read_models_config(export_root).model_config_list.config:
    ours = entry.base_path.rstrip("/") == f"{SERVING_ROOT}/{entry.name}"
    if entry.name in listed or (ours and entry.name not in exported):
      continue
    listed.add(entry.name)
    if entry.name in exported and not ours:
      logging.warning(
        "%s listed %s at %s; it now points at the export, %s/%s",
        MODELS_CONFIG,
        entry.name,
        entry.base_path,
        SERVING_ROOT,
        entry.name,
      )
      entry.base_path = f"{SERVING_ROOT}/{entry.name}"
    config.model_config_list.config.append(entry)
  for name in sorted(exported - listed):
    config.model_config_list.config.add(
      name=name, base_path=f"{SERVING_ROOT}/{name}", model_platform="tensorflow"
    )
  config.model_config_list.config.sort(key=lambda entry: entry.name)
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
  an up-to-date models.config. A remote export_dir (gs://...) gets the version written locally and
  copied, saved_model.pb last. The parent is held by one export at a time (files.exclusive_use; an
  advisory marker where it cannot be locked); the temporary folders of exports killed mid-write are
  deleted first.

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
    ValueError: a bad workdir, export_dir or version, an export root another export is writing
      or whose models.config is not a model config, or (ExportCheckError) a failed check.
    errors.WriteError: a write failed (a full disk, a lost permission); nothing is published.
  """
  name = _model_name(export_dir)
  exportable = [family for family in families if family.servable is not None]
  trained = checkpoints.restore_trained(workdir, exportable, "export")
  # One export per export root at a time: versions are numbered and models.config listed there.
  root = os.path.dirname(files.absolute(export_dir).rstrip("/"))
  with files.exclusive_use(root, "relive export"):
    read_models_config(root)  # a file it could not update is named before anything is written
    tf.io.gfile.makedirs(export_dir)
    _remove_unfinished(export_dir)
    return _publish(trained, name, export_dir, root, version, check)


def _remove_unfinished(export_dir):
  """Deletes what exports killed mid-write (SIGKILL, a power cut) left: local staging folders and,
  on a remote filesystem, version folders whose copy stopped before saved_model.pb (they hold
  COPYING_MARKER and no saved_model.pb; one killed after saved_model.pb only loses the marker).

  Raises:
    errors.WriteError: a folder could not be deleted.
  """
  for entry in files.listdir(export_dir):
    path = os.path.join(export_dir, entry)
    marker = os.path.join(path, COPYING_MARKER)
    copy_cut = entry.isdigit() and files.is_remote(path) and tf.io.gfile.exists(marker)
    complete = copy_cut and tf.io.gfile.exists(os.path.join(path, "saved_model.pb"))
    try:
      if complete:
        tf.io.gfile.remove(marker)
      elif _UNFINISHED.fullmatch(entry) or copy_cut:
        logging.warning("removing %s, left by an export that did not finish", path)
        tf.io.gfile.rmtree(path)
    except tf.errors.OpError as error:
      raise errors.write_error(
        "the export folder", path, error, "the versions there are kept"
      ) from error


def _write_version(servable, staging, name, requests, export_dir):
  """Writes the SavedModel and its warm-up requests into `staging`.

  Raises:
    errors.WriteError: a write failed (a full disk, a lost permission), naming the cause.
  """
  try:
    servable.archive().write_out(staging, verbose=False)
    warmup.write_warmup_requests(staging, name, requests)
  except (tf.errors.OpError, OSError) as error:
    raise errors.write_error(f"the export {name}", staging, error, _kept(export_dir)) from error


def signatures(version_dir):
  """The signatures of the SavedModel in a version folder, read from its saved_model.pb, as
  {name: "input dtype [shape], ..." (-1: any size)}, or None where that file cannot be parsed or
  holds no graph (a copy cut short)."""
  saved_model = saved_model_pb2.SavedModel()
  try:
    saved_model.ParseFromString(files.read_bytes(os.path.join(version_dir, "saved_model.pb")))
  except message.DecodeError:
    return None
  if not saved_model.meta_graphs:  # an empty file parses, as a SavedModel of nothing
    return None
  found = {}
  for name, signature in saved_model.meta_graphs[0].signature_def.items():
    if name != "__saved_model_init_op":
      found[name] = ", ".join(
        f"{key} {tf.dtypes.as_dtype(spec.dtype).name} {[dim.size for dim in spec.tensor_shape.dim]}"
        for key, spec in sorted(signature.inputs.items())
      )
  return found


def _described(signatures_found):
  """ "sample(count int32 [], seed int64 []), serving_default(noise float32 [-1, 8])"."""
  return ", ".join(f"{name}({inputs})" for name, inputs in sorted(signatures_found.items()))


def _check_same_signatures(staging, export_dir, title):
  """Refuses a version whose signatures (names, inputs, their dtypes and shapes) differ from those
  of the newest readable version there: TF Serving serves a model's newest version, so its clients
  would get another kind of model under the same name, or requests it refuses.

  Raises:
    ValueError: naming both sets of signatures.
  """
  for version in reversed(model_versions(export_dir)):
    theirs = signatures(os.path.join(export_dir, str(version)))
    if theirs is None:
      continue
    ours = signatures(staging)
    if theirs != ours:
      raise ValueError(
        f"{export_dir!r} serves another kind of model (version {version} has signatures "
        f"{_described(theirs)}; this {title} has {_described(ours)}): TF Serving would hand it to "
        "that model's clients. Export to a folder of its own, e.g. export/NAME"
      )
    return


def _kept(export_dir):
  """What a failed export leaves, as a clause of its WriteError."""
  versions = model_versions(export_dir)
  return f"versions {versions} are kept" if versions else "no version was exported before"


def _publish(trained, name, export_dir, root, version, check):
  """export()'s writing, with the export root held."""
  version = _new_version(export_dir, version)
  # The version is named once written: a folder serving another kind of model refuses it after.
  logging.info(
    "exporting the %s of %s at step %d to %s...",
    trained.family.title,
    trained.workdir,
    trained.step,
    export_dir,
  )
  servable = trained.family.servable(trained)
  requests = servable.warmup_inputs()
  final_path = os.path.join(export_dir, str(version))
  with _staging_folder(export_dir, version) as staging:
    _write_version(servable, staging, name, requests, export_dir)
    _check_same_signatures(staging, export_dir, trained.family.title)
    if check:
      logging.info("checking the export in a fresh process...")
      check_lib.check_export(staging, servable, requests)
    try:
      _publish_version(staging, final_path, name, export_dir)
    except errors.WriteError:
      raise
    except OSError:
      raise ValueError(
        f"{final_path!r} appeared while exporting (another export?); it is kept and "
        "this export is dropped: run again for the next version"
      ) from None
  config_path = write_models_config(root)
  logging.info("wrote %s and %s", final_path, config_path)
  return final_path
