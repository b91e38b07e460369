"""The path checks of the flags: the output folder check looks at the folder written into (the
folder itself when it exists, else the nearest folder above it that does; the tests run as root,
for whom every folder is writable, so os.access is replaced by one that says which are), and a
missing path that starts with a ~ the shell did not expand names the path it meant."""

import os

import pytest

from relive_tf.cli import checks


@pytest.fixture(name="read_only")
def read_only_fixture(tmp_path, monkeypatch):
  """tmp_path/ro is read-only, tmp_path/ro/rw inside it writable."""
  (tmp_path / "ro" / "rw").mkdir(parents=True)
  access = os.access
  monkeypatch.setattr(
    checks.os,
    "access",
    lambda path, mode: access(path, mode) and os.path.abspath(path) != str(tmp_path / "ro"),
  )
  return tmp_path / "ro"


def test_a_writable_folder_in_a_read_only_one_is_accepted(read_only):
  assert checks.output_folder_problem(str(read_only / "rw"), "the videos") is None


def test_an_existing_read_only_folder_is_refused(read_only):
  problem = checks.output_folder_problem(str(read_only), "the videos")
  assert problem == "is not writable; give a folder you can write"


def test_a_new_folder_in_a_read_only_one_is_refused_naming_it(read_only):
  problem = checks.output_folder_problem(str(read_only / "new" / "deeper"), "the videos")
  assert problem == f"cannot be made: {read_only} is not writable; give a path you can write"


def test_a_missing_path_with_a_tilde_the_shell_left_names_the_expanded_one(tmp_path, monkeypatch):
  monkeypatch.setenv("HOME", str(tmp_path))
  (tmp_path / "cat.jpg").write_bytes(b"")
  assert checks._missing("~/cat.jpg", "a photo") == (
    f"does not exist: the shell left ~ as it was; give {tmp_path}/cat.jpg"
  )
  assert checks._missing("~/dog.jpg", "a photo") == "does not exist; give a photo"
