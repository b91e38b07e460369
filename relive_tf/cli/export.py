"""`relive export`: writes a trained model as a versioned TF Serving SavedModel."""

from absl import flags

from relive_tf.cli import checks

FLAGS = flags.FLAGS
REQUIRED = ("workdir", "export_dir")


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
    "version number, at most 2**63 - 1 (TF Serving reads an int64); by default one past the "
    "highest there. An existing version is never overwritten; one below the highest is written "
    "with a warning, since TF Serving serves the highest",
    lower_bound=1,
    upper_bound=2**63 - 1,
  )
  flags.DEFINE_bool(
    "check",
    False,
    "before publishing, run every signature in a fresh Python "
    "process on the warm-up requests and compare with the trained model",
  )
  flags.mark_flags_as_required(REQUIRED)
  checks.existing_workdir("workdir", "a workdir written by `relive train`")
  checks.output_folder("export_dir", "the model's versions")
  checks.outside_package("export_dir", "export/NAME")
  for name in ("workdir", "export_dir"):
    checks.utf8_name(name)


def main():
  from relive_tf import families  # noqa: PLC0415 (loads TensorFlow: see cli)
  from relive_tf.serving import publish  # noqa: PLC0415

  path = publish.export(
    FLAGS.workdir,
    FLAGS.export_dir,
    families.FAMILIES.values(),
    version=FLAGS.version,
    check=FLAGS.check,
  )
  print(f"exported {path}")
