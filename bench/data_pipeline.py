"""Real-video data: decode rates, clip storage (JPEG, PNG, raw) and tf.data against the trainer.

  python bench/data_pipeline.py [--videos=32] [--train_config=configs/vgan.py:default]

Writes UCF-101-like fixture videos (XviD .avi, 320x240, 25 fps: a textured scene with 1/f
statistics panning under a moving object, plus sensor noise), then measures, on this machine:
  1. decoding: frames/s of one process (video_read.read_video), and of `prepare` with all cores;
  2. storage: bytes per 32x64x64 clip, read speed and error of each --encoding;
  3. feeding: clips/s out of pipeline.training_batches on the shards, against the clips/s the
     train step of --train_config consumes (batch_size x critic_steps per step).
Prints Markdown tables for docs/benchmarks.md.
"""

import relive_tf  # noqa: F401, I001 (sets TensorFlow's environment before its import)

import functools
import importlib.util
import os
import platform
import tempfile
import time

from absl import app
from absl import flags
import cv2
import numpy as np

from relive_tf.data import prepare
from relive_tf.data import video_read

# TensorFlow is imported inside the functions below, not here: `prepare` spawns decoding
# processes, which import this script again and should load OpenCV only.

_VIDEOS = flags.DEFINE_integer("videos", 32, "fixture videos to write and decode")
_VIDEO_FRAMES = flags.DEFINE_integer("video_frames", 100, "frames per fixture video (4 s)")
_READ_CLIPS = flags.DEFINE_integer("read_clips", 2000, "clips read per tf.data measurement")
_TRAIN_CONFIG = flags.DEFINE_string(
  "train_config", "configs/vgan.py:default", "config whose train step sets the demand, FILE:VARIANT"
)
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 3, "timed train steps (after one warm-up)")
_REPEATS = flags.DEFINE_integer(
  "repeats", 3, "each rate is the best of this many runs (the machine may be shared)"
)
_WORKDIR = flags.DEFINE_string("workdir", None, "scratch folder (default: a temporary one)")

FRAMES, SIZE = 32, 64
WIDTH, HEIGHT, FPS = 320, 240, 25
_PAN_PIXELS_PER_FRAME = 2
_LAYOUT_CLIPS = 128  # clips encoded both ways for the per-frame / strip comparison


def _scene(rng, height, width):
  """A float32 RGB picture with natural images' 1/f amplitude spectrum; smoother color."""

  def field(falloff):
    fy, fx = np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    frequency = np.maximum(np.hypot(fy, fx), 1 / max(height, width))
    spectrum = rng.normal(size=(height, width)) + 1j * rng.normal(size=(height, width))
    picture = np.real(np.fft.ifft2(spectrum / frequency**falloff))
    return (picture - picture.mean()) / picture.std()

  luma, blue, red = 45 * field(1.0), 15 * field(1.5), 15 * field(1.5)
  return 128 + np.stack([luma + red, luma - 0.3 * blue - 0.5 * red, luma + blue], axis=-1)


def _write_fixtures(folder, count, frames, seed=0):
  """Writes `count` XviD videos; returns their paths."""
  rng = np.random.default_rng(seed)
  margin = _PAN_PIXELS_PER_FRAME * frames  # the camera never pans off the scene
  paths = []
  for number in range(count):
    scene = _scene(rng, HEIGHT + 2 * margin + 1, WIDTH + 2 * margin + 1)
    path = os.path.join(folder, f"video{number:03d}.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"XVID"), FPS, (WIDTH, HEIGHT))
    top, left = margin, margin
    pan = rng.uniform(-_PAN_PIXELS_PER_FRAME, _PAN_PIXELS_PER_FRAME, 2)
    ball = rng.uniform([40, 40], [HEIGHT - 40, WIDTH - 40])
    ball_speed = rng.uniform(-4, 4, 2)
    for t in range(frames):
      y, x = int(top + pan[0] * t), int(left + pan[1] * t)
      frame = scene[y : y + HEIGHT, x : x + WIDTH].copy()
      center = np.round(ball + ball_speed * t).astype(int)
      cv2.circle(frame, (int(center[1]), int(center[0])), 18, (230, 60, 40), -1, cv2.LINE_AA)
      frame += rng.normal(0, 2, frame.shape)
      writer.write(np.clip(frame, 0, 255).astype(np.uint8)[..., ::-1])
    writer.release()
    paths.append(path)
  return paths


def _decode_rate(paths):
  """Source frames decoded per second by one process."""
  start = time.perf_counter()
  frames = sum(len(video_read.read_video(path, size=SIZE).frames) for path in paths)
  return frames / (time.perf_counter() - start)


def _prepare(source, out, encoding, workers):
  """Runs prepare; returns (manifest, seconds)."""
  start = time.perf_counter()
  manifest = prepare.prepare(
    layout="folder",
    source=source,
    out=out,
    frames=FRAMES,
    size=SIZE,
    clip_stride=FRAMES,
    encoding=encoding,
    test_fraction=0.0,
    workers=workers,
    overwrite=True,
  )
  return manifest, time.perf_counter() - start


def _read_rate(out, count, threads):
  """Clips/s decoded by shards.indexed_clips with `threads` tf.data threads (0: all)."""
  import tensorflow as tf  # noqa: PLC0415 (spawned decoders skip it)

  from relive_tf.data import shards  # noqa: PLC0415 (spawned decoders skip it)

  dataset = shards.indexed_clips(out, split="train", seed=0, frames=FRAMES, size=SIZE)
  if threads:
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    dataset = dataset.with_options(options)
  iterator = iter(dataset.prefetch(tf.data.AUTOTUNE))
  for _ in range(50):  # warm-up: function tracing, first file reads
    next(iterator)
  start = time.perf_counter()
  for _ in range(count):
    next(iterator)
  return count / (time.perf_counter() - start)


def _one_thread_rate(elements, decode, count):
  """Clips/s of `decode` mapped over `elements` (repeated) by one tf.data thread."""
  import tensorflow as tf  # noqa: PLC0415 (spawned decoders skip it)

  options = tf.data.Options()
  options.threading.private_threadpool_size = 1
  dataset = tf.data.Dataset.from_tensor_slices(elements).repeat().map(decode).with_options(options)
  iterator = iter(dataset)
  for _ in range(20):
    next(iterator)
  start = time.perf_counter()
  for _ in range(count):
    next(iterator)
  return count / (time.perf_counter() - start)


def _jpeg_layouts(raw_folder, count):
  """{layout: (bytes/clip, clips/s)}: a JPEG per frame, against one JPEG strip per clip (ours)."""
  import tensorflow as tf  # noqa: PLC0415 (spawned decoders skip it)

  from relive_tf.data import shards  # noqa: PLC0415 (spawned decoders skip it)

  clips = [
    record["clip"].numpy()
    for record in shards.clip_records(raw_folder, split="train", frames=FRAMES, size=SIZE).take(
      count
    )
  ]
  params = [
    cv2.IMWRITE_JPEG_QUALITY,
    90,
    cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
    cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
  ]
  per_frame = [
    [cv2.imencode(".jpg", frame[..., ::-1], params)[1].tobytes() for frame in clip]
    for clip in clips
  ]
  strips = [video_read.encode_clip(clip, "jpeg") for clip in clips]
  frame_spec = tf.TensorSpec([SIZE, SIZE, 3], tf.uint8)
  decode_frames = lambda frames: tf.map_fn(
    lambda frame: tf.io.decode_jpeg(frame, channels=3), frames, fn_output_signature=frame_spec
  )
  decode_strip = lambda strip: tf.reshape(
    tf.io.decode_jpeg(strip, channels=3), [FRAMES, SIZE, SIZE, 3]
  )
  return {
    "a JPEG per frame": (
      np.mean([sum(map(len, frames)) for frames in per_frame]),
      _one_thread_rate(tf.constant(per_frame), decode_frames, count),
    ),
    "one JPEG strip per clip": (
      np.mean([len(strip) for strip in strips]),
      _one_thread_rate(tf.constant(strips), decode_strip, count),
    ),
  }


def _mean_error(out, reference):
  """Mean absolute error (0..255 levels) of one folder's clips against the raw folder's."""
  from relive_tf.data import shards  # noqa: PLC0415 (spawned decoders skip it)

  clips = lambda path: shards.clip_records(path, split="train", frames=FRAMES, size=SIZE)
  errors = [
    np.mean(np.abs(a["clip"].numpy().astype(np.float32) - b["clip"].numpy()))
    for a, b in zip(clips(out), clips(reference))
  ]
  return float(np.mean(errors))


def _feed_rate(out, config, count):
  """Clips/s out of pipeline.training_batches on the shards, shaped as the trainer asks."""
  from relive_tf.data import pipeline  # noqa: PLC0415 (spawned decoders skip it)

  batch_size = config.train.batch_size
  iterator = iter(
    pipeline.training_batches(
      source="shards",
      path=out,
      seed=0,
      frames=FRAMES,
      size=SIZE,
      batch_size=batch_size,
      noise_dim=config.model.noise_dim,
    )
  )
  for _ in range(3):
    next(iterator)
  batches = max(count // batch_size, 3)
  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return batches * batch_size / (time.perf_counter() - start)


def _train_demand(config, steps):
  """(steps/s, clips/s) of the config's train step fed from memory (synthetic clips)."""
  import tensorflow as tf  # noqa: PLC0415 (spawned decoders skip it)

  from relive_tf import families  # noqa: PLC0415 (spawned decoders skip it)
  from relive_tf.data import pipeline  # noqa: PLC0415 (spawned decoders skip it)
  from relive_tf.training import distribution  # noqa: PLC0415 (spawned decoders skip it)
  from relive_tf.training import trainer as trainer_lib  # noqa: PLC0415 (likewise)

  strategy = distribution.pick_strategy()
  batch = next(
    iter(
      pipeline.training_batches(
        source="synthetic",
        path="",
        seed=0,
        frames=FRAMES,
        size=SIZE,
        batch_size=config.train.batch_size,
        noise_dim=config.model.noise_dim,
      )
    )
  )
  trainer = trainer_lib.build(families.get(config.model_type), config, strategy, batch)
  cached = tf.data.Dataset.from_tensors(batch).repeat()  # no input cost in the timing
  iterator = iter(strategy.experimental_distribute_dataset(cached))
  trainer.train_step(iterator)  # compilation
  start = time.perf_counter()
  for _ in range(steps):
    metrics = trainer.train_step(iterator)
  float(next(iter(metrics.values())))  # waits for the last step
  steps_per_second = steps / (time.perf_counter() - start)
  return steps_per_second, steps_per_second * config.train.batch_size * trainer.batches_per_step


def _load_config(spec):
  """get_config(VARIANT) of FILE, from "FILE:VARIANT"."""
  path, _, variant = spec.partition(":")
  module_spec = importlib.util.spec_from_file_location("bench_config", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(variant or "default")


def _cpu_name():
  with open("/proc/cpuinfo", encoding="utf-8") as f:
    names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
  return names[0] if names else platform.machine()


def main(argv):
  del argv
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix="relive_bench_data_")
  source = os.path.join(workdir, "videos")
  os.makedirs(source, exist_ok=True)
  cores = len(os.sched_getaffinity(0))
  print(
    f"machine: {_cpu_name()}, {cores} cores available; "
    f"{_VIDEOS.value} XviD videos of {_VIDEO_FRAMES.value} frames {WIDTH}x{HEIGHT}"
  )
  paths = _write_fixtures(source, _VIDEOS.value, _VIDEO_FRAMES.value)
  source_frames = _VIDEOS.value * _VIDEO_FRAMES.value

  # prepare imports TensorFlow on first use; import it now so that no timing includes it.
  import tensorflow as tf  # noqa: PLC0415, F401 (loads what the timings leave out)

  from relive_tf.data import shards  # noqa: PLC0415, F401 (loads what the timings leave out)

  best = lambda measure: max(measure() for _ in range(_REPEATS.value))

  single = best(lambda: _decode_rate(paths))
  results = {
    encoding: _prepare(source, os.path.join(workdir, encoding), encoding, cores)
    for encoding in video_read.ENCODINGS
  }
  rates = {
    workers: source_frames
    / min(
      _prepare(source, os.path.join(workdir, "jpeg"), "jpeg", workers)[1]
      for _ in range(_REPEATS.value)
    )
    for workers in (1, cores)
  }
  print("\n| decoding to 64x64 | frames/s | vs read_video |\n|---|---|---|")
  print(f"| read_video in one process | {single:,.0f} | 1.00 |")
  for workers, rate in rates.items():
    print(
      f"| prepare, {workers} worker(s), whole run (start-up, JPEG encoding, writing) | "
      f"{rate:,.0f} | {rate / single:.2f} |"
    )
  print(
    f"\nprepare with {cores} workers / with 1 worker: {rates[cores] / rates[1]:.2f} on "
    f"{cores} cores ({rates[cores] / rates[1] / cores:.2f} of linear scaling)"
  )

  print(
    "\n| encoding | bytes/clip | vs raw | read clips/s, 1 thread | read clips/s, all cores "
    "| mean abs error (0-255) |\n|---|---|---|---|---|---|"
  )
  raw_bytes = None
  for encoding in ("raw", "png", "jpeg"):
    manifest, _ = results[encoding]
    out = os.path.join(workdir, encoding)
    per_clip = sum(shard["bytes"] for shard in manifest["shards"]) / manifest["clips"]
    raw_bytes = raw_bytes or per_clip
    error = _mean_error(out, os.path.join(workdir, "raw"))
    one_thread = best(functools.partial(_read_rate, out, _READ_CLIPS.value, threads=1))
    all_cores = best(functools.partial(_read_rate, out, _READ_CLIPS.value, threads=0))
    print(
      f"| {encoding} | {per_clip:,.0f} | {per_clip / raw_bytes:.2f} | {one_thread:,.0f} | "
      f"{all_cores:,.0f} | {error:.2f} |"
    )

  print("\n| JPEG q90 4:4:4 layout | bytes/clip | decode clips/s, 1 thread |\n|---|---|---|")
  runs = [_jpeg_layouts(os.path.join(workdir, "raw"), _LAYOUT_CLIPS) for _ in range(_REPEATS.value)]
  for name, (per_clip, _) in runs[0].items():
    print(f"| {name} | {per_clip:,.0f} | {max(run[name][1] for run in runs):,.0f} |")

  config = _load_config(_TRAIN_CONFIG.value)
  steps_per_second, demand = _train_demand(config, _TRAIN_STEPS.value)
  supply = best(lambda: _feed_rate(os.path.join(workdir, "jpeg"), config, _READ_CLIPS.value))
  print(
    f"\n| {_TRAIN_CONFIG.value} (batch {config.train.batch_size} x critic_steps "
    f"{config.train.critic_steps}) | clips/s |\n|---|---|"
  )
  print(f"| train step consumes ({steps_per_second:.3f} steps/s) | {demand:,.1f} |")
  print(f"| training_batches on JPEG shards supplies | {supply:,.0f} |")
  print(f"| supply / demand | {supply / demand:,.1f} |")


if __name__ == "__main__":
  app.run(main)
