"""The input cases of issue 14 (../shared/cases), made here: each test checks its case's row."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from test_shards import cut
from test_shards import flip_middle

from relive_tf.data import prepare
from relive_tf.data import shards
from relive_tf.data import workers

import helpers
from helpers import ffmpeg_video
from helpers import smooth_video
from helpers import trim_copy
from helpers import write_avi

# Photos (cases 17, 18) are in test_photos.py and test_export.py; the shard reader's handling of
# damage (case 24) is in test_shards.py, training on damaged shards here.
FRAMES, SIZE = 8, 16


def run(source, out, layout="folder", **settings):
  settings = dict(dict(frames=FRAMES, size=SIZE, test_fraction=0.0, workers=2), **settings)
  return prepare.prepare(layout=layout, source=str(source), out=str(out), **settings)


def video_ids(out, split="train"):
  return sorted(
    record["video_id"].numpy()
    for record in shards.clip_records(str(out), split=split, frames=FRAMES, size=SIZE)
  )


def test_03_a_stream_copy_trim_is_used_whole_by_prepare_and_predicts_reader(tmp_path):
  os.makedirs(tmp_path / "src")
  path = trim_copy(tmp_path / "src" / "trim_copy.mp4", smooth_video(100, 48, 64))
  manifest = run(tmp_path / "src", tmp_path / "out", frames=60)
  assert (manifest["clips"], manifest["skipped"], manifest["warnings"]) == (1, [], [])
  decoded = workers.read_video(path, size=SIZE)  # what `relive predict` reads
  assert len(decoded.frames) == 60 and decoded.warning is None


def test_08_variable_frame_rate_and_long_audio_videos_give_all_40_frames(tmp_path):
  os.makedirs(tmp_path / "src")
  video = smooth_video(40, 48, 64)
  vfr = ("-vf", "setpts='if(lt(N,20),N/30,20/30+(N-20)*0.2)/TB'", "-fps_mode", "vfr")
  sine = ("-f", "lavfi", "-i", "sine=frequency=440:duration=4")
  ffmpeg_video(
    tmp_path / "src" / "vfr_h264.mkv",
    video,
    fps=30,
    output=vfr + ("-c:v", "libx264", "-pix_fmt", "yuv420p"),
  )
  ffmpeg_video(
    tmp_path / "src" / "vfr_vp9.webm",
    video,
    fps=30,
    output=vfr + ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"),
  )
  ffmpeg_video(
    tmp_path / "src" / "audio_longer.mkv",
    video,
    inputs=sine,
    output=("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "libvorbis"),
  )
  manifest = run(tmp_path / "src", tmp_path / "out", frames=40)
  assert manifest["files"] == {"seen": 3, "used": 3, "skipped": 0, "warned": 0}
  assert manifest["clips"] == 3


def ucf101_case(root, list_prefix=b""):
  """Case 05: a miniature UCF-101 with official-style CRLF lists (and a class folder whose files
  differ in case from it), the lists starting with `list_prefix` (case 15: a UTF-8 BOM)."""
  classes = [
    ("ApplyEyeMakeup", "ApplyEyeMakeup"),
    ("HandstandPushups", "HandStandPushups"),
    ("YoYo", "YoYo"),
  ]
  train, test = [], []
  for index, (folder, stem) in enumerate(classes, 1):
    os.makedirs(root / "UCF-101" / folder)
    for group in (1, 8, 9):
      name = f"v_{stem}_g{group:02d}_c01.avi"
      write_avi(root / "UCF-101" / folder / name, smooth_video(10, 24, 32, seed=group))
      (test if group <= 7 else train).append((f"{folder}/{name}", index))
  os.makedirs(root / "lists")
  (root / "lists" / "trainlist01.txt").write_bytes(
    list_prefix + b"".join(f"{path} {index}\r\n".encode() for path, index in train)
  )
  (root / "lists" / "testlist01.txt").write_bytes(
    list_prefix + b"".join(f"{path}\r\n".encode() for path, _ in test)
  )
  return train, test


@pytest.mark.parametrize("list_prefix", [b"", b"\xef\xbb\xbf"], ids=["crlf", "bom_and_crlf"])
def test_05_15_every_entry_of_split_lists_saved_by_windows_editors_is_used(tmp_path, list_prefix):
  train, test = ucf101_case(tmp_path, list_prefix)
  manifest = run(
    tmp_path / "UCF-101",
    tmp_path / "out",
    "ucf101",
    split_files=[str(tmp_path / "lists" / "trainlist01.txt")],
  )
  assert manifest["skipped"] == []
  assert manifest["splits"]["train"]["videos"] == len(train) == 6
  assert manifest["splits"]["test"]["videos"] == len(test) == 3
  assert video_ids(tmp_path / "out", "test") == sorted(path.encode() for path, _ in test)
  assert manifest["labels"] == ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]


def strip(frames, size=32):
  """A strip of `frames` square frames: an orange sky and a green patch moving right."""
  video = np.zeros((frames, size, size, 3), np.uint8)
  video[...] = (200, 120, 40)
  for i in range(frames):
    video[i, 20:28, 2 + i % 20 : 6 + i % 20] = (20, 160, 60)
  return Image.fromarray(video.reshape(frames * size, size, 3))


@pytest.mark.parametrize("list_prefix", [b"", b"\xef\xbb\xbf"], ids=["crlf", "bom_and_crlf"])
def test_14_15_odd_jpeg_strips_and_an_index_with_a_bom(tmp_path, list_prefix):
  root = tmp_path / "golf_root"
  members = {
    "0000/a.jpg": (strip(FRAMES), {}),
    "0000/short.jpg": (strip(FRAMES - 3), {}),
    "0001/gray.jpg": (strip(FRAMES).convert("L"), {}),
    "0001/cmyk.jpg": (strip(FRAMES).convert("CMYK"), {}),
    "0002/progressive.jpg": (strip(FRAMES), {"progressive": True}),
    "0002/cut.jpg": (strip(FRAMES), {}),
  }
  for name, (image, options) in members.items():
    os.makedirs(os.path.dirname(root / name), exist_ok=True)
    image.save(root / name, quality=95, **options)
  data = (root / "0002/cut.jpg").read_bytes()
  (root / "0002/cut.jpg").write_bytes(data[: len(data) // 2])
  (tmp_path / "golf.txt").write_bytes(
    list_prefix + b"".join(f"{name} {FRAMES}\r\n".encode() for name in members)
  )
  manifest = run(root, tmp_path / "out", "vgan", index_file=str(tmp_path / "golf.txt"))
  assert video_ids(tmp_path / "out") == [
    b"0000/a.jpg",
    b"0001/cmyk.jpg",
    b"0001/gray.jpg",
    b"0002/progressive.jpg",
  ]
  reasons = {os.path.relpath(entry["path"], root): entry["reason"] for entry in manifest["skipped"]}
  assert reasons == {
    "0000/short.jpg": f"too short: {FRAMES - 3} frames, a clip needs {FRAMES}",
    "0002/cut.jpg": "truncated: the JPEG has no end-of-image marker",
  }
  clips = {
    record["video_id"].numpy(): record["clip"].numpy()
    for record in shards.clip_records(
      str(tmp_path / "out"), split="train", frames=FRAMES, size=SIZE
    )
  }
  sky = (200, 120, 40)
  for name in (b"0000/a.jpg", b"0001/cmyk.jpg", b"0002/progressive.jpg"):
    assert np.abs(clips[name][0, 0, 0].astype(int) - sky).max() <= 8, name  # colors kept
  assert np.ptp(clips[b"0001/gray.jpg"][0, 0, 0]) <= 1  # gray stays gray


def test_06_linked_folders_and_files_are_followed_once_without_loops(tmp_path):
  os.makedirs(tmp_path / "elsewhere")
  os.makedirs(tmp_path / "dataset" / "own")
  for i in range(2):
    write_avi(tmp_path / "elsewhere" / f"shared_{i}.avi", smooth_video(10, 24, 32, seed=i))
    write_avi(tmp_path / "dataset" / "own" / f"own_{i}.avi", smooth_video(10, 24, 32, seed=2 + i))
  os.symlink(tmp_path / "elsewhere", tmp_path / "dataset" / "shared_clips")
  os.symlink(tmp_path / "elsewhere" / "shared_0.avi", tmp_path / "dataset" / "linked_file.avi")
  os.symlink(tmp_path / "dataset", tmp_path / "dataset" / "own" / "loop")  # a link to an ancestor
  os.symlink(tmp_path / "gone.avi", tmp_path / "dataset" / "broken.avi")
  manifest = run(tmp_path / "dataset", tmp_path / "out")
  assert video_ids(tmp_path / "out") == [
    b"linked_file.avi",
    b"own/own_0.avi",
    b"own/own_1.avi",
    b"shared_clips/shared_1.avi",
  ]
  reasons = {
    os.path.relpath(entry["path"], tmp_path / "dataset"): entry["reason"]
    for entry in manifest["skipped"]
  }
  assert reasons == {
    "broken.avi": "broken symbolic link: its target does not exist",
    "own/loop": f"the same folder as {tmp_path / 'dataset'} (a symbolic link): read once",
    "shared_clips/shared_0.avi": f"the same file as {tmp_path / 'dataset' / 'linked_file.avi'} "
    "(a symbolic link): read once",
  }
  assert manifest["files"] == {"seen": 7, "used": 4, "skipped": 3, "warned": 0}


def latin1_source(root):
  """Case 10: a good video and one whose name is Latin-1 bytes, not UTF-8 (b'caf\\xe9.avi')."""
  os.makedirs(root)
  write_avi(root / "good.avi", smooth_video(10, 24, 32))
  write_avi(root / "latin1.avi", smooth_video(10, 24, 32, seed=1))
  latin1 = os.path.join(os.fsencode(root), b"caf\xe9.avi")
  os.rename(os.fsencode(root / "latin1.avi"), latin1)
  return latin1


def test_10_a_name_that_is_not_utf8_is_used_and_kept_as_bytes(tmp_path):
  latin1 = latin1_source(tmp_path / "src")
  manifest = run(tmp_path / "src", tmp_path / "out")
  assert manifest["files"] == {"seen": 2, "used": 2, "skipped": 0, "warned": 0}
  assert video_ids(tmp_path / "out") == [b"caf\xe9.avi", b"good.avi"]
  assert len(workers.read_video(latin1, size=SIZE).frames) == 10  # what `relive predict` reads
  # The same run again finds the same files: the manifest's escaped name reads back.
  assert run(tmp_path / "src", tmp_path / "out") == manifest


def test_10_the_cli_prepares_a_tree_with_a_latin1_name_without_a_traceback(tmp_path):
  latin1_source(tmp_path / "src")
  result = helpers.run_cli(
    "prepare",
    "--format=folder",
    f"--source={tmp_path / 'src'}",
    f"--out={tmp_path / 'out'}",
    "--frames=8",
    "--size=16",
    "--workers=1",
  )
  assert result.returncode == 0, result.stderr
  assert "prepared 2 clips from 2 of the 2 files seen" in result.stdout
  assert "Traceback" not in result.stderr


@pytest.fixture(name="prepared", scope="module")
def prepared_fixture(tmp_path_factory):
  """Case 24: shards of 4 clips of 32 frames of 64x64 prepared by `relive prepare` (read only)."""
  root = tmp_path_factory.mktemp("case24")
  os.makedirs(root / "src")
  for number in range(4):
    write_avi(root / "src" / f"clip_{number}.avi", smooth_video(34, 64, 80, seed=number))
  run(root / "src", root / "shards", frames=32, size=64)
  return root / "shards"


def damaged_copy(prepared, folder, damage):
  shutil.copytree(prepared, folder)
  damage(folder / "train-00000.tfrecord")
  return folder


def tiny_training(make_config, data_path, **overrides):
  return make_config(
    "vgan",
    "tiny",
    data__source="shards",
    data__path=str(data_path),
    train__num_steps=2,
    train__batch_size=2,
    train__critic_steps=1,
    train__num_samples=1,
    train__log_every=1,
    train__summary_every=2,
    **overrides,
  )


@pytest.mark.parametrize(
  "damage, problem",
  [
    (flip_middle, r"only \d of its 4 records can be read \(a bad checksum, or a cut\)"),
    (cut, r"[\d,]+ bytes where manifest\.json lists [\d,]+ \(cut by an interrupted copy\?\)"),
  ],
  ids=["flipped_bytes", "cut"],
)
def test_24_training_on_a_damaged_shard_stops_naming_it_and_the_fix(
  prepared, tmp_path, make_config, damage, problem
):
  data = damaged_copy(prepared, tmp_path / "shards", damage)
  message = (
    rf"^shard {data}/train-00000\.tfrecord is damaged: {problem}; copy the folder .* "
    r"--config\.data\.skip_corrupt=True$"
  )
  with pytest.raises(ValueError, match=message):
    helpers.train(tiny_training(make_config, data), tmp_path / "workdir")


@pytest.mark.parametrize("damage", [flip_middle, cut], ids=["flipped_bytes", "cut"])
def test_24_skip_corrupt_trains_on_and_logs_the_skipped_records(
  prepared, tmp_path, make_config, damage
):
  data = damaged_copy(prepared, tmp_path / "shards", damage)
  skipped = shards.skipped_records(str(data), split="train", frames=32, size=64)
  assert 0 < skipped < 4
  workdir = tmp_path / "workdir"
  helpers.train(tiny_training(make_config, data, data__skip_corrupt=True), workdir)
  assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("-2")
  assert helpers.summary_values(workdir)["data/skipped_records"] == [(1, skipped), (2, skipped)]


def test_24_the_cli_prints_a_damaged_shard_as_one_line(prepared, tmp_path):
  data = damaged_copy(prepared, tmp_path / "shards", flip_middle)
  result = helpers.run_cli(
    "train",
    f"--config={helpers.REPO / 'configs' / 'vgan.py'}:tiny",
    f"--workdir={tmp_path / 'workdir'}",
    "--config.data.source=shards",
    f"--config.data.path={data}",
    "--config.train.batch_size=2",
    "--config.train.num_steps=1",
    "--config.train.num_samples=1",
    "--config.train.critic_steps=1",
  )
  assert result.returncode == 1, result.stderr[-2000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("relive train:")]
  assert errors == [
    f"relive train: error: shard {data}/train-00000.tfrecord is damaged: only "
    f"{4 - shards.skipped_records(str(data), split='train', frames=32, size=64)} "
    "of its 4 records can be read (a bad checksum, or a cut); copy the folder "
    f"{data} again, or rebuild it with `relive prepare ... --out={data} "
    f"--overwrite` (`relive prepare --verify={data}` checks every shard); or train "
    "past the damage with --config.data.skip_corrupt=True"
  ]
  assert "Traceback" not in result.stderr
