"""Fuzzing the readers (videos, photos, list files, shards): a correct result or a clear error."""

import collections
import io
import os
import shutil
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from test_shards import numbered_clip
from test_shards import write_folder

from relive_tf import errors
from relive_tf.data import layouts
from relive_tf.data import photos
from relive_tf.data import shards
from relive_tf.data import video_read
from relive_tf.data import workers

from helpers import ffmpeg_video
from helpers import smooth_video
from helpers import write_avi
from helpers import write_strip

# Every case is a good file or a copy with random bytes, a truncation or flipped bits, read the way
# the command line reads it. Each must end in a correct result or a clear error (one line, no
# traceback), never an unexpected exception, a hang or a crash. The cases run in worker processes
# (DecodingPool), so a crash or hang shows up as an outcome instead of ending the test run; each
# test prints how many cases it ran.
SEED = 14
MUTATIONS_PER_FILE = 15
SIZE = 16
TIMEOUT_S = 60  # a case still running after this is a hang


def mutations(data, rng):
  """(name, bytes): the file itself, then MUTATIONS_PER_FILE copies: bit flips, truncations and
  random bytes of the same length, in turn."""
  yield "original", data
  for number in range(MUTATIONS_PER_FILE):
    kind = ("flips", "truncation", "random")[number % 3]
    if kind == "flips" and data:
      damaged = bytearray(data)
      for position in rng.integers(0, 8 * len(data), rng.integers(1, 9)):
        damaged[position // 8] ^= 1 << (position % 8)
      yield f"flips{number}", bytes(damaged)
    elif kind == "truncation":
      yield f"truncation{number}", data[: rng.integers(0, len(data))]
    else:
      yield f"random{number}", rng.integers(0, 256, len(data), np.uint8).tobytes()


def run_cases(cases):
  """Runs (name, function, args) cases in worker processes; returns {name: (result, reason)}.

  The reason is None when the function returned; else the worker's: "decoding failed: ..." for
  an exception the function let through, "the decoder crashed ...", "timed out ...".
  """
  pool = workers.DecodingPool(2, TIMEOUT_S)
  outcomes = {}
  pending = list(enumerate(cases))
  try:
    while len(outcomes) < len(cases):
      while pool.has_idle() and pending:
        position, (_, function, args) = pending.pop(0)
        pool.submit(position, function, *args)
      for position, result, reason in pool.results():
        outcomes[cases[position][0]] = (result, reason)
  finally:
    pool.close()
  return outcomes


def raised_by_relive_tf(error):
  """Whether relive_tf raised `error` about its input (the innermost frame is relive_tf's): what
  the command line prints as one line. Any other exception is a fault."""
  traceback = error.__traceback__
  while traceback.tb_next is not None:
    traceback = traceback.tb_next
  return traceback.tb_frame.f_globals.get("__name__", "").startswith("relive_tf.")


def is_clear(message):
  return bool(message) and "\n" not in message and "Traceback" not in message


def report(capsys, what, outcomes, is_error=lambda result: result[0] == "error"):
  """Prints how many cases ran and how they ended, past pytest's capture.

  Args:
    capsys: pytest's fixture.
    what: the kind of input.
    outcomes: run_cases' {name: (result, reason)}.
    is_error: whether a returned result is an error message rather than a correct result.
  """
  ends = collections.Counter(
    "error" if reason or is_error(result) else "result" for result, reason in outcomes.values()
  )
  with capsys.disabled():
    print(
      f"\nfuzz {what}: {len(outcomes)} cases (seed {SEED}): {ends['result']} correct results, "
      f"{ends['error']} clear errors"
    )


# Videos: read as `relive prepare` and `relive predict` read them.


def read_video_case(data, extension):
  with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "case" + extension)
    with open(path, "wb") as f:
      f.write(data)
    decoded = video_read.read_video(path, size=SIZE)  # UnusableVideoError: the worker's reason
  return decoded.frames.shape, decoded.frames.dtype, decoded.warning


def test_fuzzed_videos_give_frames_or_a_reason(tmp_path, capsys):
  rng = np.random.default_rng(SEED)
  source = smooth_video(12, 24, 32)
  seeds = {
    ".avi": write_avi(tmp_path / "a.avi", source),
    ".mp4": ffmpeg_video(tmp_path / "a.mp4", source),
    ".webm": ffmpeg_video(
      tmp_path / "a.webm", source, output=("-c:v", "libvpx-vp9", "-deadline", "realtime")
    ),
  }
  cases = []
  for extension, path in seeds.items():
    with open(path, "rb") as f:
      for name, data in mutations(f.read(), rng):
        cases.append((f"{extension} {name}", read_video_case, (data, extension)))
  outcomes = run_cases(cases)
  report(capsys, "videos", outcomes)
  for name, (result, reason) in outcomes.items():
    if name.endswith("original"):
      assert reason is None and result == ((12, SIZE, SIZE, 3), np.uint8, None), name
    elif reason is None:
      shape, dtype, warning = result
      assert shape[0] >= 1 and shape[1:] == (SIZE, SIZE, 3) and dtype == np.uint8, name
      assert warning is None or is_clear(warning), name
    else:
      # A crash is caught by the worker and listed as the file's reason, which is what `relive
      # prepare` and `relive predict` show; an exception or a hang is a fault.
      assert not reason.startswith(("decoding failed", "timed out")), (name, reason)
      assert is_clear(reason), (name, reason)


# Photos: read as `relive relive` reads them (the served signature runs the same TF function).


def load_photo_case(data):
  with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "photo")
    with open(path, "wb") as f:
      f.write(data)
    try:
      photo = photos.load_photo(path, SIZE)
    except ValueError as error:
      if not raised_by_relive_tf(error):
        raise
      return "error", str(error)
  return "photo", photo


def _photo_seeds():
  def encode(image, image_format, **options):
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()

  scene = Image.fromarray(smooth_video(1, 40, 56)[0])
  exif = Image.Exif()
  exif[0x0112] = 6
  palette = scene.convert("P")
  frames = [scene, scene.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
  return {
    "jpeg_exif": encode(scene, "JPEG", quality=90, exif=exif.tobytes()),
    "png16": encode(
      Image.fromarray(np.tile(np.linspace(0, 65535, 56).astype(np.uint16), (40, 1))), "PNG"
    ),
    "png_palette_alpha": encode(palette, "PNG", transparency=0),
    "gif_animated": encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
    "bmp": encode(scene, "BMP"),
    "webp_alpha": encode(scene.convert("RGBA"), "WEBP", lossless=True),
  }


def test_fuzzed_photos_give_a_photo_or_a_clear_error(capsys):
  rng = np.random.default_rng(SEED)
  cases = []
  for seed_name, data in _photo_seeds().items():
    for name, mutated in mutations(data, rng):
      cases.append((f"{seed_name} {name}", load_photo_case, (mutated,)))
  outcomes = run_cases(cases)
  report(capsys, "photos", outcomes)
  for name, (result, reason) in outcomes.items():
    assert reason is None, (name, reason)  # no exception but ValueError, no crash, no hang
    kind, value = result
    if kind == "photo":
      assert value.shape == (SIZE, SIZE, 3) and value.dtype == np.uint8, name
    else:
      assert not name.endswith("original"), (name, value)
      fix = "give a JPEG, PNG, GIF, BMP or WebP photo" in value or (
        "is cut short: " in value and value.endswith("give the whole file")  # a cut JPEG
      )
      assert is_clear(value) and fix, (name, value)


# List files: an index of JPEG strips and UCF-101 split lists, found and read as `relive prepare`.


def discover_case(layout, source, list_name, data):
  with tempfile.TemporaryDirectory() as folder:
    list_path = os.path.join(folder, list_name)
    with open(list_path, "wb") as f:
      f.write(data)
    lists = {"index_file": list_path} if layout == "vgan" else {"split_files": [list_path]}
    try:
      items, skipped = layouts.discover(layout, source, test_fraction=0.0, **lists)
    except ValueError as error:
      if not raised_by_relive_tf(error):
        raise
      return "error", str(error)
  return "items", sorted((item.id, item.split) for item in items), len(skipped)


def test_fuzzed_list_files_give_the_listed_files_or_a_clear_error(tmp_path, capsys):
  rng = np.random.default_rng(SEED)
  strips = tmp_path / "strips"
  os.makedirs(strips / "golf")
  for number in range(3):
    write_strip(strips / "golf" / f"{number}.jpg", smooth_video(4, 16, 16, seed=number))
  ucf = tmp_path / "UCF-101"
  os.makedirs(ucf / "YoYo")
  for group in (1, 2):
    (ucf / "YoYo" / f"v_YoYo_g{group:02d}_c01.avi").write_bytes(b"")  # listing only: not decoded
  seeds = {
    ("vgan", str(strips), "golf.txt"): (
      b"\xef\xbb\xbf" + b"".join(f"golf/{number}.jpg 4\r\n".encode() for number in range(3)),
      [(f"golf/{number}.jpg", "train") for number in range(3)],
    ),
    ("ucf101", str(ucf), "trainlist01.txt"): (
      b"YoYo/v_YoYo_g01_c01.avi 1\r\nYoYo/v_YoYo_g02_c01.avi 1\r\n",
      [("YoYo/v_YoYo_g01_c01.avi", "train"), ("YoYo/v_YoYo_g02_c01.avi", "train")],
    ),
  }
  cases, expected = [], {}
  for (layout, source, list_name), (data, items) in seeds.items():
    for name, mutated in mutations(data, rng):
      cases.append((f"{layout} {name}", discover_case, (layout, source, list_name, mutated)))
      expected[f"{layout} {name}"] = items
  outcomes = run_cases(cases)
  report(capsys, "list files", outcomes)
  for name, (result, reason) in outcomes.items():
    assert reason is None, (name, reason)
    if name.endswith("original"):
      assert result == ("items", expected[name], 0), name
    elif result[0] == "items":  # a damaged list names fewer files, never others
      assert set(result[1]) <= set(expected[name]), (name, result)
    else:
      assert is_clear(result[1]), (name, result)


# Shards: a prepared folder with one shard or the manifest damaged, read by the trainer's reader
# (strict, and with skip_corrupt) and by `relive prepare --verify`.


def read_shards_case(contents):
  """Reads a prepared folder given as {file name: bytes}: (strict, skip_corrupt, verify) outcomes,
  each ("clips", [clip numbers]) or ("error", message)."""
  with tempfile.TemporaryDirectory() as folder:
    for name, data in contents.items():
      with open(os.path.join(folder, name), "wb") as f:
        f.write(data)

    def clear(read):
      try:
        return read()
      except ValueError as error:
        if not raised_by_relive_tf(error):
          raise
        return "error", str(error)
      except tf.errors.OpError as error:
        message = errors.data_check_message(error)
        if message is None:
          raise
        return "error", message

    def clips(skip_corrupt):
      records = shards.clip_records(
        folder, split="train", frames=2, size=4, skip_corrupt=skip_corrupt
      )
      return "clips", [int(record["clip"][0, 0, 0, 0]) for record in records]

    return (
      clear(lambda: clips(False)),
      clear(lambda: clips(True)),
      clear(
        lambda: (
          "verify",
          [
            (result["file"], result["clips"], result["problem"]) for result in shards.verify(folder)
          ],
        )
      ),
    )


def test_fuzzed_shards_give_their_clips_or_an_error_naming_the_damage(tmp_path, capsys):
  rng = np.random.default_rng(SEED)
  write_folder(tmp_path, {"train": 6}, clips_per_file=3)  # two shards of clips 0..2 and 3..5
  assert numbered_clip(0).shape == (2, 4, 4, 3)
  contents = {
    name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path) if name != ".lock"
  }
  cases = []
  for target in ("train-00001.tfrecord", shards.MANIFEST):
    for name, mutated in mutations(contents[target], rng):
      cases.append((f"{target} {name}", read_shards_case, (dict(contents, **{target: mutated}),)))
  outcomes = run_cases(cases)
  report(
    capsys,
    "shards (the trainer's strict reading)",
    outcomes,
    lambda result: result[0][0] == "error",
  )
  everything = list(range(6))
  for name, (result, reason) in outcomes.items():
    assert reason is None, (name, reason)
    strict, skipping, verified = result
    if name.endswith("original"):
      assert strict == skipping == ("clips", everything), name
      assert verified == (
        "verify",
        [("train-00000.tfrecord", 3, None), ("train-00001.tfrecord", 3, None)],
      ), name
      continue
    for outcome in result:
      if outcome[0] == "error":
        assert is_clear(outcome[1]), (name, outcome)
    if strict[0] == "clips":  # undetected damage would be wrong clips
      assert strict[1] == everything, (name, strict)
    if skipping[0] == "clips":  # the first shard, then what can be read of the second, in order
      assert skipping[1] == everything[: len(skipping[1])] and len(skipping[1]) >= 3, (
        name,
        skipping,
      )
    if name.startswith("train-00001") and strict[0] == "clips":
      pytest.fail(f"{name}: damage to a shard went unnoticed")


def test_the_fuzz_harness_sees_a_crash_and_an_exception():
  outcomes = run_cases(
    [("crash", os.abort, ()), ("exception", shutil.copyfile, ("/nonexistent", "/nonexistent"))]
  )
  assert outcomes["crash"] == (None, "the decoder crashed (signal SIGABRT) on this file")
  assert outcomes["exception"][1].startswith("decoding failed: FileNotFoundError")
