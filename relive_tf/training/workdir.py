"""A workdir's config.json, read (older keys filled in) everywhere; what resumed runs changed.

No TensorFlow here: `relive train` refuses a workdir it cannot train in before TensorFlow loads
(cli/train.py, check_settings).
"""

import collections.abc
import datetime
import json
import os

import ml_collections
from absl import logging

from relive_tf import files

CONFIG_FILE = "config.json"
# What every config.json holds (configs/*.py).
CONFIG_KEYS = ("model_type", "seed", "model", "data", "train")
# One line per config key a resumed run changed: when, after which step, old -> new.
HISTORY_FILE = "config_history.log"
# Keys that choose the training clips: a resume that changes one trains on other data from there,
# most often because the command left out the --config.data.* flags the run was started with.
DATA_KEYS = ("data.source", "data.path", "seed")
CHECKPOINT_DIR = "checkpoints"
SUMMARY_DIR = "tb"
# The prepared shards a run reads: their path and manifest fingerprint (check_data).
DATA_FILE = "data.json"
# A shipped model (training/shipped.py): a workdir holding, in place of checkpoints, the weights of
# its sampling generator alone, described (source, step, network) by SHIPPED_FILE, written last.
SHIPPED_FILE = "shipped.json"
SHIPPED_WEIGHTS = "generator.weights.h5"
SHIPPED_MODEL = "a model shipped with relive_tf"
# What a version folder of an export holds (tf.saved_model.SAVED_MODEL_FILENAME_PB).
SAVED_MODEL_FILE = "saved_model.pb"
# The installed package (relive_tf/), links resolved: no place for a workdir or any output.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
INSIDE_PACKAGE = f"is inside the relive_tf package ({_PACKAGE}), whose files a reinstall replaces"


def missing_config(workdir):
  """What keeps an existing folder from being a workdir `relive train` wrote, or None: no
  config.json in it."""
  if files.isfile(os.path.join(workdir, CONFIG_FILE)):
    return None
  return f"holds no {CONFIG_FILE}: it is not a relive_tf workdir (train one with `relive train`)"


def _read_json(workdir):
  path = os.path.join(workdir, CONFIG_FILE)
  problem = missing_config(workdir)
  if problem:
    raise ValueError(f"{workdir!r} {problem}")
  try:
    saved = files.read_json(path)
  except ValueError as error:
    raise ValueError(f"{error}; restore it, or train in another workdir") from None
  if not isinstance(saved, dict):  # JSON, but a list or a number: another file written over it
    raise _not_a_config(workdir, CONFIG_KEYS)
  return saved


def model_type(workdir):
  """The model_type in a workdir's config.json.

  Raises:
    ValueError: the workdir holds no config.json.
  """
  return _read_json(workdir).get("model_type")


def _family_of(workdir, saved_type, expect, purpose):
  """The family of `expect` named `saved_type`, or a ValueError saying what `purpose` takes."""
  expected = [expect] if not isinstance(expect, collections.abc.Iterable) else list(expect)
  for family in expected:
    if family.name == saved_type:
      return family
  wanted = (
    expected[0].describe() if len(expected) == 1 else sorted(family.name for family in expected)
  )
  raise ValueError(f"{workdir!r} holds a model of type {saved_type!r}; {purpose} takes {wanted}")


def _not_a_config(workdir, missing):
  return ValueError(
    f"{os.path.join(workdir, CONFIG_FILE)} is not a config `relive train` wrote (it lacks "
    f"{', '.join(missing)}); restore it, or train in another workdir"
  )


def load_config(workdir, expect, purpose="this"):
  """The config a workdir was trained with, and its family; the only reader of config.json.

  Keys the family added after the workdir was written (Family.added_keys) are filled in with the
  values that reproduce how it was trained.

  Args:
    workdir: a workdir written by `relive train`.
    expect: the Family, or the Families, the caller can use.
    purpose: what the caller does, for the message when the workdir holds another model type
      ("sampling videos").

  Returns:
    (config: ml_collections.ConfigDict, family: the matching Family of `expect`).

  Raises:
    ValueError: no config.json, one that is not a config, or a model type that is not expected.
  """
  saved = _read_json(workdir)
  # Another JSON file written over it (each command then failed on a missing attribute); a model
  # type of another version is named as such first.
  missing = [key for key in CONFIG_KEYS if key not in saved]
  if "model_type" in missing:
    raise _not_a_config(workdir, missing)
  family = _family_of(workdir, saved["model_type"], expect, purpose)
  if missing:
    raise _not_a_config(workdir, missing)
  for key, value in family.added_keys.items():
    section, name = key.split(".")
    saved.setdefault(section, {}).setdefault(name, value)
  config = ml_collections.ConfigDict(saved)
  logging.debug("config of %s:\n%s", workdir, config)  # what `-v 1` promises every command
  return config, family


def flat(config):
  """{"train.learning_rate": 0.001, ...}: a ConfigDict's leaves by dotted key (its JSON form)."""
  return _flat(json.loads(config.to_json_best_effort()))


def _flat(node, prefix=""):
  leaves = {}
  for key, value in node.items():
    if isinstance(value, dict):
      leaves.update(_flat(value, f"{prefix}{key}."))
    else:
      leaves[f"{prefix}{key}"] = value
  return leaves


def absolute_data_path(source, path):
  """data.path as config.json keeps it: a local shards folder given relative (or with ~) becomes
  absolute, so that a resume, `relive evaluate` and the gallery find it from any folder; a remote
  path, and the path of data that reads none (synthetic), stay as given."""
  if source != "shards" or not path or files.is_remote(path):
    return path
  return os.path.abspath(os.path.expanduser(path))


def config_changes(workdir, config, family, checkpointed=True):
  """What a resumed run changes in the config it was started with; refuses model changes (`model`
  and the family's shape_keys, which set weight shapes).

  Args:
    workdir: a workdir, new or written by `relive train`.
    config: the config the run is given.
    family: the config's Family.
    checkpointed: whether the workdir holds a checkpoint. A config.json without one (a run
      stopped before its first) binds only the model type: the run starts over with its config.

  Returns:
    [(key, saved value, new value)] for each key outside `model` whose value differs from the
    workdir's config.json ("train.learning_rate", 0.001, 0.0005), sorted by key; [] for a new
    workdir or one without a checkpoint. A key the saved config lacks has None as its saved value.

  Raises:
    ValueError: the workdir holds another model type, or (checkpointed) the same one with other
      `model` settings or shape keys, or without the moving average it holds (train.ema_decay 0).
  """
  if not files.exists(os.path.join(workdir, CONFIG_FILE)):
    return []
  check_model_type(workdir, config)
  if not checkpointed:
    logging.info("%s holds no checkpoint yet: its config.json is replaced by this run's", workdir)
    return []
  saved_config, _ = load_config(workdir, family)
  saved, new = flat(saved_config), flat(config)
  if "data.path" in saved:  # kept relative by runs before 2026-12-07: relative to this folder
    saved["data.path"] = absolute_data_path(saved.get("data.source"), saved["data.path"])
  changed = sorted(key for key in saved.keys() | new.keys() if saved.get(key) != new.get(key))
  model_keys = [key for key in changed if key.startswith("model.") or key in family.shape_keys]
  if model_keys:
    raise ValueError(
      f"{workdir!r} was trained with other settings that shape the model ("
      + ", ".join(f"{key}: {saved.get(key)} there, {new.get(key)} now" for key in model_keys)
      + "): resume with the values there or use another workdir"
    )
  if "train.ema_decay" in changed and saved.get("train.ema_decay") and not new["train.ema_decay"]:
    raise ValueError(
      f"{workdir!r} holds a moving average of its generator (train.ema_decay "
      f"{saved['train.ema_decay']} there, {new['train.ema_decay']} now), which this run would "
      f"drop; resume with --config.train.ema_decay={saved['train.ema_decay']} or use another "
      "workdir"
    )
  return [(key, saved.get(key), new.get(key)) for key in changed]


def is_workdir(folder):
  """Whether `folder` is a training workdir (config.json and checkpoints/ in it) or a shipped
  model."""
  return is_shipped(folder) or all(
    files.exists(os.path.join(folder, name)) for name in (CONFIG_FILE, CHECKPOINT_DIR)
  )


def kind(folder):
  """What the workdir `folder` (is_workdir) is, in words: a shipped model or a training workdir."""
  return SHIPPED_MODEL if is_shipped(folder) else "a training workdir"


def is_shipped(folder):
  """Whether `folder` is a shipped model (training/shipped.py): its SHIPPED_FILE in it."""
  return files.exists(os.path.join(folder, SHIPPED_FILE))


def check_not_other_output(workdir):
  """Refuses to train in a shipped model or a folder that `relive export` or `relive gallery`
  wrote, or inside one, as they refuse a workdir: checkpoints among an export's versions kept later
  exports out ("is a training workdir"), a workdir in a version folder mixed with the SavedModel,
  one inside a site's media/ went with the next rebuild of the site, and a shipped model holds no
  critic or optimizer state to resume.

  Raises:
    ValueError: the folder is a shipped model (training/shipped.py), or holds no config.json and
      it, or a folder above it, is a shipped model, an export (version folders with a
      saved_model.pb; an export root's models.config, where the workdir is the root or a version
      folder in it), a version of one (its saved_model.pb) or a gallery site (index.html and
      media/); or it lies inside another run's workdir (whose checkpoints/ and tb/ it would mix
      with its own) or inside the relive_tf package (whose files a reinstall replaces).
  """
  if is_shipped(workdir):
    raise ValueError(
      f"workdir {workdir!r} is {SHIPPED_MODEL} (its generator alone: nothing to resume training "
      "from); give a new folder, such as runs/NAME"
    )
  if files.exists(os.path.join(workdir, CONFIG_FILE)):
    return
  # Links resolved: a link to a folder inside an export or a shipped model is inside it.
  folder = target = files.resolved(workdir)
  while True:
    if folder != target and is_workdir(folder) and not is_shipped(folder):  # shipped: below
      raise ValueError(
        f"workdir {workdir!r} is inside {folder!r}, the workdir of another run, whose checkpoints "
        "and TensorBoard runs it would mix with its own; give a new folder, such as runs/NAME"
      )
    what = _written_by_another_command(folder, below=os.path.relpath(target, folder))
    if what:
      where = "is" if folder == target else f"is inside {folder!r},"
      raise ValueError(
        f"workdir {workdir!r} {where} {what}, not a training workdir; give a new folder, such as "
        "runs/NAME"
      )
    parent = os.path.dirname(folder.rstrip("/"))
    if parent == folder or (files.is_remote(folder) and "://" not in parent) or not parent:
      break
    folder = parent
  if inside_package(target):
    raise ValueError(f"workdir {workdir!r} {INSIDE_PACKAGE}; give a new folder, such as runs/NAME")


def inside_package(path):
  """Whether `path` (existing or not; links resolved; local, or local through file://) is, or lies
  inside, the relive_tf package. A remote path never is."""
  local = path.removeprefix("file://")
  return not files.is_remote(local) and files.is_inside(files.resolved(local), _PACKAGE)


def _written_by_another_command(folder, below="."):
  """What shipped model or output of `relive export` or `relive gallery` the existing `folder` is,
  or None. An export root (models.config) counts only where the workdir (`below` it) is the root
  itself or a version folder of a model there (runs/ holding a models.config keeps taking new
  workdirs beside the models); a gallery site only where the workdir is the site itself or in its
  media/, which a rebuild replaces (a home folder with an index.html and a media/ stays usable)."""
  if not files.isdir(folder):
    return None
  try:
    names = set(files.listdir(folder))
  except OSError:  # a folder one may enter but not list (/home at mode 711): no command's output
    return None
  if SHIPPED_FILE in names:
    return SHIPPED_MODEL
  # serving/publish.py's MODELS_CONFIG and gallery/page.py's INDEX_FILE and MEDIA_DIR, from layers
  # above this one; tests/test_training.py writes them from there.
  if SAVED_MODEL_FILE in names:
    return "a SavedModel (a version `relive export` wrote)"
  versions = [
    name
    for name in names
    if name.isdigit() and files.exists(os.path.join(folder, name, SAVED_MODEL_FILE))
  ]
  parts = below.split(os.sep)
  in_root = below == "." or (len(parts) > 1 and parts[1].isdigit())  # ROOT or ROOT/MODEL/N/...
  if ("models.config" in names and in_root) or versions:
    return "an export of `relive export`"
  if {"index.html", "media"} <= names and below.split(os.sep)[0] in (".", "media"):
    return "a gallery site of `relive gallery`"
  return None


def save_config(workdir, config, changes=(), step=0):
  """Writes config.json; a resumed run's changes go first to the log and to config_history.log.

  Args:
    workdir: the run's workdir.
    config: the config the run trains with.
    changes: config_changes(workdir, config, family) of a resumed run.
    step: the step the changes take effect after.
  """
  files.make_folder(workdir)
  if changes:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"{key}: {json.dumps(old)} -> {json.dumps(new)}" for key, old, new in changes]
    for (key, _, _), line in zip(changes, lines, strict=True):
      if key in DATA_KEYS:
        logging.warning(
          "resumed with a changed %s: training goes on with other data; to keep the run's own, "
          "resume with the --config flags it was started with",
          line,
        )
      else:
        logging.info("resumed with a changed %s", line)
    # Rewritten whole rather than appended: gs:// and other object stores cannot append.
    history = os.path.join(workdir, HISTORY_FILE)
    before = files.read_bytes(history).decode("utf-8") if files.isfile(history) else ""
    added = "".join(f"{when} after step {step}: {line}\n" for line in lines)
    files.write_text(history, before + added)
  files.write_text(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2))


def check_model_type(workdir, config):
  """Refuses to train a config of another model type in a workdir whose config.json names one.

  Raises:
    ValueError: the workdir's config.json names another model type, or cannot be read.
  """
  if not files.exists(os.path.join(workdir, CONFIG_FILE)):
    return
  saved_type = model_type(workdir)
  if saved_type is None:  # another JSON object written over it
    raise _not_a_config(workdir, ["model_type"])
  if saved_type != config.model_type:
    raise ValueError(
      f"{workdir!r} holds a model of type {saved_type!r}, not {config.model_type!r}: use another "
      "workdir"
    )


def check_data(workdir, config, step):
  """Warns when the shards a resumed run reads were prepared again since it started (the same
  data.path, another manifest fingerprint: `relive prepare --overwrite`), since its saved data
  position then points into other clips; and records the fingerprint of the shards it reads.

  Args:
    workdir: the run's workdir.
    config: the config the run trains with (data.path absolute).
    step: the step it resumes from (0: a new run).
  """
  if config.data.source != "shards":
    return
  from relive_tf.data import shards  # noqa: PLC0415 (loads TensorFlow: see the module docstring)

  fingerprint = shards.read_manifest(config.data.path).get("fingerprint")
  path = os.path.join(workdir, DATA_FILE)
  try:
    saved = files.read_json(path) if step and files.isfile(path) else {}
  except ValueError:  # damaged: nothing to compare with
    saved = {}
  if saved.get("path") == config.data.path and saved.get("fingerprint") != fingerprint:
    logging.warning(
      "the shards in %s were prepared again since this run read them (their manifest's "
      "fingerprint changed): training goes on from step %d with other clips; to keep the run's "
      "own, prepare new data into another folder",
      config.data.path,
      step,
    )
  files.write_json(path, {"path": config.data.path, "fingerprint": fingerprint})
