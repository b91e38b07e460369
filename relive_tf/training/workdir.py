"""A workdir's config.json: written once per run, read (with older keys filled in) everywhere."""

import collections.abc
import json
import os

import ml_collections
import tensorflow as tf

from relive_tf import files

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
SUMMARY_DIR = "tb"


def _read_json(workdir):
  path = os.path.join(workdir, CONFIG_FILE)
  if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
    raise ValueError(
      f"{workdir!r} holds no {CONFIG_FILE}: it is not a relive_tf workdir (train "
      "one with `relive train`)"
    )
  return files.read_json(path)


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
  raise ValueError(f"{workdir!r} holds a {saved_type!r} model; {purpose} takes {wanted}")


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
    ValueError: no config.json, or a model type that is not expected.
  """
  saved = _read_json(workdir)
  family = _family_of(workdir, saved.get("model_type"), expect, purpose)
  for key, value in family.added_keys.items():
    section, name = key.split(".")
    saved.setdefault(section, {}).setdefault(name, value)
  return ml_collections.ConfigDict(saved), family


def save_config(workdir, config, family, write=True):
  """Writes config.json, or checks that a resumed run keeps the model it was started with.

  Args:
    workdir: the run's workdir.
    config: its resolved config.
    family: the config's Family.
    write: False to check only (the workers of a multi-worker run other than the chief).

  Raises:
    ValueError: the workdir holds another model type, or the same one with other model settings.
  """
  if tf.io.gfile.exists(os.path.join(workdir, CONFIG_FILE)):
    saved_type = model_type(workdir)
    if saved_type != config.model_type:
      raise ValueError(
        f"{workdir!r} holds a {saved_type!r} model, not {config.model_type!r}: use another workdir"
      )
    saved, _ = load_config(workdir, family)
    saved_model = json.loads(saved.model.to_json())
    new_model = json.loads(config.model.to_json())
    if saved_model != new_model:
      changed = sorted(
        k for k in set(saved_model) | set(new_model) if saved_model.get(k) != new_model.get(k)
      )
      raise ValueError(
        f"{workdir!r} was trained with other model settings ({', '.join(changed)}: "
        f"{[saved_model.get(k) for k in changed]} there, "
        f"{[new_model.get(k) for k in changed]} now): resume with the same model "
        "config or use another workdir"
      )
  if not write:
    return
  tf.io.gfile.makedirs(workdir)
  files.write_text(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2))
