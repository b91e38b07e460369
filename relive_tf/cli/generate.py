"""`relive generate`: writes videos sampled from a trained video WGAN."""

from absl import flags

from relive_tf.inference import generate

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("workdir", None, "a video WGAN workdir written by `relive train`")
  flags.DEFINE_integer("num", 8, "number of videos")
  flags.DEFINE_string("out", None, "folder for the videos")
  flags.DEFINE_integer("seed", 0, "noise seed: the same seed gives the same videos")
  flags.DEFINE_enum("format", "gif", ["gif", "mp4"], "gif, or mp4 (H.264)")
  flags.mark_flags_as_required(["workdir", "out"])


def main():
  paths = generate.generate(FLAGS.workdir, FLAGS.num, FLAGS.out, FLAGS.seed, FLAGS.format)
  print(f"wrote {len(paths)} videos to {FLAGS.out}")
