"""`relive evaluate`: measures a trained workdir with the evaluation of its model family."""

from absl import flags

from relive_tf.cli import checks

FLAGS = flags.FLAGS
REQUIRED = ("workdir",)
# Flags handed to the family's evaluation when given; one it does not take is refused.
OPTIONS = (
  "data",
  "num_samples",
  "i3d",
  "feature_network",
  "digit_recognizer",
  "context",
  "future",
  "report",
  "batch_size",
)


def define_flags():
  flags.DEFINE_string("workdir", None, "a workdir written by `relive train`")
  flags.DEFINE_string(
    "data",
    None,
    "real clips: 'synthetic' (held-out clips) or a folder of prepared "
    "shards (its test split); default: the data the workdir was trained on",
  )
  flags.DEFINE_integer(
    "num_samples",
    256,
    "GANs: clips per compared set (the real data must give "
    "twice as many); predictor: held-out clips",
    lower_bound=1,
  )
  flags.DEFINE_string(
    "i3d",
    None,
    "GANs: SavedModel directory of an I3D network, to report FVD "
    "instead of the built-in features' distance (docs/metrics.md)",
  )
  flags.DEFINE_string(
    "feature_network",
    None,
    "GANs: directory of a built-in feature network that `python -m relive_tf.metrics.shipped` "
    "trained; default: the one shipped with the package",
  )
  flags.DEFINE_string(
    "digit_recognizer",
    None,
    "directory of a digit recogniser that `python -m relive_tf.metrics.shipped` trained, for "
    "the sample scores; default: the one shipped with the package",
  )
  flags.DEFINE_integer(
    "context",
    None,
    "predictor: frames given; default the config's train.context_frames",
    lower_bound=1,
  )
  flags.DEFINE_integer(
    "future",
    None,
    "predictor: frames predicted after the context; default 10, or as many as the training clips "
    "hold after the context if fewer",
    lower_bound=1,
  )
  flags.DEFINE_string(
    "report", None, "JSON report path; default WORKDIR/evaluation_*_step<step>.json"
  )
  flags.DEFINE_integer("batch_size", 16, "clips per model call", lower_bound=1)
  flags.mark_flags_as_required(REQUIRED)
  checks.existing_workdir("workdir", "a workdir written by `relive train`")
  checks.not_in_memory("report")
  for name in ("workdir", "report", "data"):
    checks.utf8_name(name)


def main():
  from relive_tf import families  # noqa: PLC0415 (loads TensorFlow: see cli)
  from relive_tf.evaluation import evaluator  # noqa: PLC0415

  options = {name: FLAGS[name].value for name in OPTIONS if FLAGS[name].present}
  report, table = evaluator.evaluate(FLAGS.workdir, families.FAMILIES.values(), **options)
  print(table)
  print(f"report: {report['path']}")
