"""`relive relive`: writes the video a trained conditional WGAN makes around a photo."""

from absl import flags

from relive_tf import limits
from relive_tf.cli import checks

FLAGS = flags.FLAGS
REQUIRED = ("workdir", "photo", "out")


def define_flags():
  flags.DEFINE_string(
    "workdir", None, "a conditional WGAN workdir (relive train --config=configs/cvgan.py)"
  )
  flags.DEFINE_string(
    "photo",
    None,
    "a JPEG, PNG, GIF, BMP or WebP image, any size (an animated GIF or PNG: its first frame)",
  )
  flags.DEFINE_string("out", None, "the video to write: .gif or .mp4 (H.264)")
  flags.DEFINE_integer(
    "num",
    1,
    "videos to make from the photo, side by side in one file",
    lower_bound=1,
    upper_bound=limits.RELIVED_VIDEOS,
  )
  flags.DEFINE_integer(
    "seed", 0, "noise seed: the same seed gives the same videos", **checks.SEED_BOUNDS
  )
  flags.DEFINE_boolean("side_by_side", False, "put the photo, held still, left of the video(s)")
  flags.mark_flags_as_required(REQUIRED)
  checks.existing_workdir("workdir", "a conditional WGAN workdir written by `relive train`")
  checks.utf8_name("workdir")
  checks.existing_file("photo", "a JPEG, PNG, GIF, BMP or WebP photo")
  checks.output_file("out", checks.VIDEO_EXTENSIONS, "the video")
  checks.outside_package("out", "runs/relived.gif")


def main():
  from relive_tf.inference import relive  # noqa: PLC0415 (loads TensorFlow: see cli)

  path = relive.relive(
    FLAGS.workdir,
    FLAGS.photo,
    FLAGS.out,
    num=FLAGS.num,
    seed=FLAGS.seed,
    side_by_side=FLAGS.side_by_side,
  )
  print(f"wrote {path}")
