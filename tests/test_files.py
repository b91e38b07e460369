"""relive_tf.files: atomic JSON, and folders that one job at a time may write."""

import json
import os
import subprocess
import sys

import pytest

from relive_tf import files
from relive_tf.errors import UserError


def test_write_json_replaces_the_file_whole(tmp_path):
  path = tmp_path / "report.json"
  files.write_json(str(path), {"step": 1})
  files.write_json(str(path), {"step": 2})
  assert json.loads(path.read_text()) == {"step": 2}
  assert os.listdir(tmp_path) == ["report.json"]


def test_a_held_folder_is_refused_naming_its_holder_then_free_again(tmp_path):
  with files.exclusive_use(str(tmp_path), "relive train"):
    with pytest.raises(UserError, match=rf"in use by relive train \(process {os.getpid()}\)"):
      with files.exclusive_use(str(tmp_path), "relive prepare"):
        pass
  with files.exclusive_use(str(tmp_path), "relive prepare"):
    pass


def test_a_killed_holder_leaves_the_folder_free(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time\nfrom relive_tf import files\n"
       "with files.exclusive_use(sys.argv[1], 'relive train'):\n"
       "  print('held', flush=True)\n  time.sleep(600)\n", str(tmp_path)],
      stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UserError, match=rf"process {holder.pid}\)"):
      with files.exclusive_use(str(tmp_path), "relive train"):
        pass
  finally:
    holder.kill()
    holder.wait()
  with files.exclusive_use(str(tmp_path), "relive train"):
    pass


def test_a_file_or_unwritable_place_is_refused(tmp_path):
  (tmp_path / "a_file").write_text("")
  with pytest.raises(UserError, match="a_file' is a file; give a folder for relive prepare"):
    with files.exclusive_use(str(tmp_path / "a_file"), "relive prepare"):
      pass
  with pytest.raises(UserError, match="cannot write to .*a_file/run"):
    with files.exclusive_use(str(tmp_path / "a_file" / "run"), "relive train"):
      pass


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
  path = tmp_path / "report.json"
  files.write_json(str(path), {"step": 1})
  with pytest.raises(TypeError):
    files.write_json(str(path), {"step": object()})  # fails halfway through the dump
  assert json.loads(path.read_text()) == {"step": 1}
  assert os.listdir(tmp_path) == ["report.json"]


def test_atomic_path_keeps_the_extension_and_renames_on_success(tmp_path):
  with files.atomic_path(str(tmp_path / "clip.mp4")) as temporary:
    assert temporary.endswith(".mp4") and os.path.dirname(temporary) == str(tmp_path)
    with open(temporary, "wb") as f:
      f.write(b"data")
    assert not (tmp_path / "clip.mp4").exists()
  assert (tmp_path / "clip.mp4").read_bytes() == b"data"
  assert os.listdir(tmp_path) == ["clip.mp4"]


def test_json_keeps_undecodable_file_names(tmp_path):
  name = os.fsdecode(b"caf\xe9.mp4")  # a Latin-1 name, as os.listdir gives it
  files.write_json(str(tmp_path / "m.json"), {"path": name})
  text = (tmp_path / "m.json").read_text(encoding="utf-8")
  assert "\\udce9" in text
  assert os.fsencode(json.loads(text)["path"]) == b"caf\xe9.mp4"
