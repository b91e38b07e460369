"""`relive export`: writes a trained model as a versioned TF Serving SavedModel."""

from absl import flags

from relive_tf import families
from relive_tf.serving import publish

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("workdir", None, "a workdir written by `relive train`")
  flags.DEFINE_string(
    "export_dir",
    None,
    "the model's folder, e.g. export/vgan: its last part "
    "names the model in TF Serving; each export adds a version folder inside it",
  )
  flags.DEFINE_integer(
    "version",
    None,
    "version number; by default one past the highest there. "
    "An existing version is never overwritten",
  )
  flags.DEFINE_bool(
    "check",
    False,
    "before publishing, run every signature in a fresh Python "
    "process on the warm-up requests and compare with the trained model",
  )
  flags.mark_flags_as_required(["workdir", "export_dir"])


def main():
  path = publish.export(
    FLAGS.workdir,
    FLAGS.export_dir,
    families.FAMILIES.values(),
    version=FLAGS.version,
    check=FLAGS.check,
  )
  print(f"exported {path}")
