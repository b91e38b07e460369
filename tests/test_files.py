"""relive_tf.files: atomic JSON, and folders that one job at a time may write."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from relive_tf import files


def test_write_json_replaces_the_file_whole(tmp_path):
  path = tmp_path / "report.json"
  files.write_json(str(path), {"step": 1})
  files.write_json(str(path), {"step": 2})
  assert json.loads(path.read_text()) == {"step": 2}
  assert os.listdir(tmp_path) == ["report.json"]


def test_atomic_write_keeps_the_old_file_and_no_temporary_when_the_writer_fails(tmp_path):
  path = tmp_path / "video.gif"
  path.write_bytes(b"old")
  with pytest.raises(RuntimeError, match="encoder crashed"):
    with files.atomic_write(str(path), suffix=".gif") as temporary:
      assert temporary.endswith(".gif") and os.path.dirname(temporary) == str(tmp_path)
      with open(temporary, "wb") as f:
        f.write(b"half")
      raise RuntimeError("encoder crashed")
  assert path.read_bytes() == b"old"
  assert os.listdir(tmp_path) == ["video.gif"]


def test_a_write_that_cannot_start_names_the_path_given_not_its_temporary(tmp_path):
  path = str(tmp_path / "no_such_folder" / "video.gif")
  with pytest.raises(FileNotFoundError) as failed:
    files.write_text(path, "x")
  assert failed.value.filename == path and ".partial-" not in str(failed.value)


def test_a_folder_that_cannot_be_made_is_one_line_naming_it(tmp_path):
  # generate, relive and predict: as root every parent passes os.access, and makedirs raised.
  (tmp_path / "a_file").write_text("")
  with pytest.raises(ValueError, match=r"cannot create the folder .*a_file/out \(.*\); give a"):
    files.make_folder(str(tmp_path / "a_file" / "out"))
  files.make_folder(str(tmp_path / "new" / "folder"))
  assert (tmp_path / "new" / "folder").is_dir()


def test_a_held_folder_is_refused_naming_its_holder_then_free_again(tmp_path):
  with files.exclusive_use(str(tmp_path), "relive train"):
    with pytest.raises(ValueError, match=rf"in use by relive train \(process {os.getpid()}\)"):
      with files.exclusive_use(str(tmp_path), "relive prepare"):
        pass
  with files.exclusive_use(str(tmp_path), "relive prepare"):
    pass


def test_a_killed_holder_leaves_the_folder_free(tmp_path):
  holder = subprocess.Popen(
    [
      sys.executable,
      "-c",
      "import sys, time\nfrom relive_tf import files\n"
      "with files.exclusive_use(sys.argv[1], 'relive train'):\n"
      "  print('held', flush=True)\n  time.sleep(600)\n",
      str(tmp_path),
    ],
    stdout=subprocess.PIPE,
    text=True,
  )
  try:
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ValueError, match=rf"process {holder.pid}\)"):
      with files.exclusive_use(str(tmp_path), "relive train"):
        pass
  finally:
    holder.kill()
    holder.wait()
  with files.exclusive_use(str(tmp_path), "relive train"):
    pass


def test_a_folder_it_made_is_removed_when_the_run_wrote_nothing(tmp_path):
  refused, written, existing = tmp_path / "refused", tmp_path / "written", tmp_path / "existing"
  with pytest.raises(ValueError, match="bad config"):
    with files.exclusive_use(str(refused / "a" / "b"), "relive train"):
      raise ValueError("bad config")
  assert not refused.exists()  # nor the folders above, which it made too
  with files.exclusive_use(str(written), "relive train"):
    (written / "config.json").write_text("{}")
  assert sorted(os.listdir(written)) == [files.LOCK_FILE, "config.json"]
  existing.mkdir()
  with files.exclusive_use(str(existing), "relive train"):
    pass
  assert os.listdir(existing) == [files.LOCK_FILE]


def test_a_lock_on_a_folder_removed_meanwhile_is_taken_again(tmp_path, monkeypatch):
  folder = tmp_path / "run"
  flocked, removed = files._flocked, []

  def removed_meanwhile(lock, where):  # the run before removed the folder it made, lock and all
    if not removed:
      shutil.rmtree(folder)
      removed.append(where)
    return flocked(lock, where)

  monkeypatch.setattr(files, "_flocked", removed_meanwhile)
  with files.exclusive_use(str(folder), "relive train"):
    (folder / "config.json").write_text("{}")  # the folder was made again
  assert removed and sorted(os.listdir(folder)) == [files.LOCK_FILE, "config.json"]


def test_a_file_or_unwritable_place_is_refused(tmp_path):
  (tmp_path / "a_file").write_text("")
  with pytest.raises(ValueError, match="a_file' is a file; give a folder for relive prepare"):
    with files.exclusive_use(str(tmp_path / "a_file"), "relive prepare"):
      pass
  with pytest.raises(ValueError, match="cannot write to .*a_file/run"):
    with files.exclusive_use(str(tmp_path / "a_file" / "run"), "relive train"):
      pass


def test_json_keeps_undecodable_file_names(tmp_path):
  name = os.fsdecode(b"caf\xe9.mp4")  # a Latin-1 name, as os.listdir gives it
  files.write_json(str(tmp_path / "m.json"), {"path": name})
  text = (tmp_path / "m.json").read_text(encoding="utf-8")
  assert "\\udce9" in text
  assert os.fsencode(json.loads(text)["path"]) == b"caf\xe9.mp4"
