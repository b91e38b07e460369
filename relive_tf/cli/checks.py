"""Checks of path flags, run while flags are parsed: a mistyped path fails before TensorFlow loads.

Each registers an absl validator; a refused value ends the command with one line such as
"flag --photo=cat.jpg: does not exist; give a JPEG, PNG, GIF, BMP or WebP photo". An unset flag
passes (the required ones are marked apart). A path with a filesystem scheme (gs://, s3://,
ram://) is left to the command itself: checking it would load TensorFlow, whose tf.io.gfile reads
it. Two are refused here: an output on ram://, which the command's exit empties, and a file:// path
inside the relive_tf package.
"""

import os

from absl import flags
from ml_collections import config_flags

from relive_tf import files
from relive_tf.cli import messages
from relive_tf.data import video_io
from relive_tf.training import workdir as workdir_lib

# What the commands that write one video (relive, predict) can write, by the file's extension.
VIDEO_EXTENSIONS = tuple(f".{name}" for name in video_io.VIDEO_FORMATS)


# --seed: a number past int64 failed in a traceback; 2**31 - 1 leaves room for the offsets added.
SEED_BOUNDS = {"lower_bound": 0, "upper_bound": 2**31 - 1}


def _register(name, problem, local_paths=False):
  """Registers problem(value) -> None or what is wrong with the value, for flag `name`; with
  `local_paths`, problem() sees local paths only (remote ones pass)."""

  def check(value):
    values = value if isinstance(value, list) else [value]
    for one in values:
      skip = one is None or (local_paths and files.is_remote(one))
      found = None if skip else problem(one)
      if found:
        prefix = f"{one}: " if isinstance(value, list) else ""
        raise flags.ValidationError(prefix + found)
    return True

  flags.register_validator(name, check)


def _missing(path, what):
  """The message for a path that does not exist; a leading ~ the shell left as it was (quoted, or
  after --flag=) is named."""
  if path.startswith("~") and os.path.exists(os.path.expanduser(path)):
    return f"does not exist: the shell left ~ as it was; give {os.path.expanduser(path)}"
  return f"does not exist; give {what}"


def existing_folder(name, what):
  """--name must be an existing folder; `what` says which one ("the dataset's folder of videos")."""
  _register(name, lambda path: _folder_problem(path, what), local_paths=True)


def existing_workdir(name, what):
  """--name must be an existing folder holding a config.json (a workdir `relive train` wrote, or a
  shipped model); `what` says which kind ("a video WGAN workdir written by `relive train`")."""
  _register(
    name,
    lambda path: _folder_problem(path, what) or workdir_lib.missing_config(path),
    local_paths=True,
  )


def _folder_problem(path, what):
  if not os.path.exists(path):
    return _missing(path, what)
  if not os.path.isdir(path):
    return f"is a file, not a folder; give {what}"
  return None


def existing_file(name, what):
  """--name must be an existing file; `what` says which ("a JPEG, PNG, GIF, BMP or WebP photo")."""

  def problem(path):
    if not os.path.exists(path):
      return _missing(path, what)
    if os.path.isdir(path):
      return f"is a folder; give {what}"
    return None

  _register(name, problem, local_paths=True)


def output_folder(name, what):
  """--name is a folder to write into: new, or an existing folder, never a file, nor a new one
  named like a video file (`--out=sample.gif` would make a folder of that name), nor on ram://."""
  _register(name, lambda path: output_folder_problem(path, what), local_paths=True)
  not_in_memory(name)


def output_folder_problem(path, what):
  """What keeps a local `path` from being the folder to write `what` into, or None."""
  if not path:
    return f"is empty; give a folder for {what}"
  if os.path.islink(path) and not os.path.exists(path):
    return (
      f"is a symbolic link to {os.readlink(path)!r}, which does not exist (or a loop of links); "
      f"make its target, or give another folder for {what}"
    )
  if os.path.exists(path) and not os.path.isdir(path):
    return f"is a file; give a folder for {what} (new, or one that exists)"
  if not os.path.exists(path) and os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS:
    return f"names a video file; give a folder for {what}"
  if os.path.isdir(path):  # written into, whatever its parent allows
    return None if os.access(path, os.W_OK) else "is not writable; give a folder you can write"
  return _unwritable_parent(path)


def outside_package(name, example):
  """--name must not be, or lie inside, the relive_tf package, whose files a reinstall replaces:
  `relive generate --out=relive_tf/assets/vgan_tiny` wrote its videos beside the shipped model's
  weights. `example` is a path to suggest instead ("runs/samples")."""
  _register(
    name,
    lambda path: (
      f"{workdir_lib.INSIDE_PACKAGE}; give a path outside it, such as {example}"
      if workdir_lib.inside_package(path)
      else None
    ),
  )


def output_file(name, extensions, what):
  """--name is a file to write, ending in one of `extensions` (".gif", ".mp4"), never a folder,
  nor on ram://."""

  def problem(path):
    if not path:
      return f"is empty; give a file name for {what} ending in {' or '.join(extensions)}"
    if os.path.isdir(path):
      return f"is a folder; give a file name for {what} ending in {' or '.join(extensions)}"
    if os.path.splitext(path)[1].lower() not in extensions:
      return f"must end in {' or '.join(extensions)} ({what})"
    return _unwritable_parent(path)

  _register(name, problem, local_paths=True)
  not_in_memory(name)


def not_in_memory(name):
  """--name, an output, must not be on ram:// (TensorFlow's scheme names are case-sensitive):
  `relive train --workdir=ram://run` trained into memory that the command's exit empties."""
  _register(
    name,
    lambda path: (
      "is on ram://, TensorFlow's in-memory filesystem, which empties when the command exits: all "
      "it writes would be lost; give a local path, or one on gs://"
      if path.startswith("ram://")
      else None
    ),
  )


def utf8_name(name):
  """--name is a path TensorFlow opens (tf.io.gfile, checkpoints, summaries), which takes UTF-8
  names only: one holding other bytes (a Latin-1 é, which Python keeps as a surrogate escape)
  failed in a UnicodeEncodeError traceback."""

  def problem(path):
    try:
      path.encode("utf-8")
    except UnicodeEncodeError:
      return "is not valid UTF-8, and TensorFlow opens UTF-8 names only; rename it, or give another"
    return None

  _register(name, problem)


def _unwritable_parent(path):
  """What keeps `path` from being made: its nearest existing parent is a file, or not writable."""
  parent = os.path.dirname(os.path.abspath(path))
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent):
    return f"cannot be made: {parent} is a file; give a path under a folder"
  if not os.access(parent, os.W_OK):
    return f"cannot be made: {parent} is not writable; give a path you can write"
  return None


def config_loaded(name):
  """--name (a config file flag) must have loaded, and its get_config() returned a mapping:
  ml_collections keeps a file it could not read as a placeholder that raises OSError on first use,
  after the command has started, and keeps a number or a list as it is."""

  def check(config):
    try:
      config.get("model_type")
    except OSError as error:
      path = config_flags.get_config_filename(flags.FLAGS[name])
      raise flags.ValidationError(messages.config_load_error(path, error)) from None
    except AttributeError:  # get_config() returned no mapping (a number, a list)
      raise flags.ValidationError(messages.not_a_config_dict(config)) from None
    return True

  flags.register_validator(name, check)  # not _register: a list is the config's value here
