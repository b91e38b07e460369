"""`relive gallery`: builds a static web page of trained workdirs' videos, curves and metrics."""

from absl import flags

from relive_tf import limits
from relive_tf.cli import checks

FLAGS = flags.FLAGS
REQUIRED = ("workdir", "out")


def define_flags():
  flags.DEFINE_multi_string("workdir", None, "a workdir written by `relive train`")
  flags.DEFINE_string(
    "out",
    None,
    "the site folder for index.html and its media: new, empty or a gallery built before",
  )
  flags.DEFINE_integer(
    "num",
    8,
    "per workdir: videos sampled (vgan), photos relived (cvgan) or clips continued (lstm)",
    lower_bound=1,
    upper_bound=limits.GALLERY_VIDEOS,
  )
  flags.DEFINE_integer("seed", 0, "noise seed of the sampled videos", **checks.SEED_BOUNDS)
  flags.mark_flags_as_required(REQUIRED)
  checks.existing_workdir("workdir", "a workdir written by `relive train`")
  checks.output_folder("out", "the gallery")
  checks.outside_package("out", "runs/site")
  for name in ("workdir", "out"):
    checks.utf8_name(name)


def main():
  from relive_tf import families  # noqa: PLC0415 (loads TensorFlow: see cli)
  from relive_tf.gallery import build  # noqa: PLC0415

  path = build.build_gallery(
    FLAGS.workdir, FLAGS.out, families.FAMILIES.values(), num_videos=FLAGS.num, seed=FLAGS.seed
  )
  print(f"gallery: {path}")
