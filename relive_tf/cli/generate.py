"""`relive generate`: writes videos sampled from a trained video WGAN."""

from absl import flags

from relive_tf import limits
from relive_tf import progress
from relive_tf.cli import checks
from relive_tf.data import video_io

FLAGS = flags.FLAGS
REQUIRED = ("workdir", "out")


def define_flags():
  flags.DEFINE_string("workdir", None, "a video WGAN workdir written by `relive train`")
  flags.DEFINE_integer(
    "num", 8, "number of videos", lower_bound=1, upper_bound=limits.GENERATED_VIDEOS
  )
  flags.DEFINE_string("out", None, "folder for the videos")
  flags.DEFINE_integer(
    "seed", 0, "noise seed: the same seed gives the same videos", **checks.SEED_BOUNDS
  )
  flags.DEFINE_enum("format", "gif", video_io.VIDEO_FORMATS, "gif, or mp4 (H.264)")
  flags.mark_flags_as_required(REQUIRED)
  checks.existing_workdir("workdir", "a video WGAN workdir written by `relive train`")
  checks.output_folder("out", "the videos")
  checks.outside_package("out", "runs/samples")
  for name in ("workdir", "out"):
    checks.utf8_name(name)


def main():
  from relive_tf.inference import generate  # noqa: PLC0415 (loads TensorFlow: see cli)

  paths = generate.generate(FLAGS.workdir, FLAGS.num, FLAGS.out, FLAGS.seed, FLAGS.format)
  print(f"wrote {progress.counted(len(paths), 'video')} to {FLAGS.out}")
