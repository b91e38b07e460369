"""CPU time the built-in moving digits cost per clip in the pipeline `relive train` reads.

  python bench/builtin_data.py                  # 250 batches of 8 clips, 32 frames of 64x64
  python bench/builtin_data.py --batches=500

The clips are drawn on the cores the train step runs on, so what their drawing costs is taken
from the step (docs/benchmarks.md, "The loop around the step"). Prints the process's CPU
milliseconds per clip (time.process_time, every thread) and clips/s, after a few warm-up batches;
first, the CPU milliseconds the drawing alone takes per clip (synthetic.moving_digits_clip called
in this thread, as many clips, before TensorFlow starts its threads).
"""

import os
import pathlib
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for bench/
from bench import harness  # noqa: E402

flags.DEFINE_integer("batches", 250, "timed batches")
flags.DEFINE_integer("warmup", 5, "untimed batches first")
flags.DEFINE_integer("batch_size", 8, "clips per batch")
flags.DEFINE_integer("frames", 32, "frames per clip")
flags.DEFINE_integer("size", 64, "frame height and width")
FLAGS = flags.FLAGS


def main(_):
  import relive_tf  # noqa: F401, PLC0415 (sets TensorFlow's environment before its import)
  from relive_tf.data import synthetic  # noqa: PLC0415

  clips = FLAGS.batches * FLAGS.batch_size
  synthetic.moving_digits_clip(0, 0, frames=FLAGS.frames, size=FLAGS.size)
  cpu = time.process_time()
  for index in range(clips):
    synthetic.moving_digits_clip(0, index, frames=FLAGS.frames, size=FLAGS.size)
  cpu = time.process_time() - cpu
  print(f"drawing alone: {cpu / clips * 1e3:.2f} ms of CPU a clip", flush=True)

  from relive_tf.data import pipeline  # noqa: PLC0415

  batches = iter(
    pipeline.training_batches(
      source="synthetic",
      path="",
      seed=0,
      frames=FLAGS.frames,
      size=FLAGS.size,
      batch_size=FLAGS.batch_size,
      noise_dim=100,
    )
  )
  for _ in range(FLAGS.warmup):
    next(batches)
  cpu, wall = time.process_time(), time.perf_counter()
  for _ in range(FLAGS.batches):
    next(batches)
  cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
  print(
    f"pipeline, {clips} clips: {cpu / clips * 1e3:.2f} ms of CPU a clip, "
    f"{clips / wall:.0f} clips/s; load average {harness.load_average():.2f} at the end",
    flush=True,
  )
  # The endless dataset's drawing threads can keep the interpreter from exiting.
  os._exit(0)


if __name__ == "__main__":
  app.run(main)
