"""`relive evaluate`: measures a trained workdir with the evaluation of its model family."""

from absl import flags

from relive_tf import evaluate_gan
from relive_tf import evaluate_predictor
from relive_tf.errors import UserError
from relive_tf.training import workdir as workdir_lib

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("workdir", None, "a workdir written by `relive train`")
  flags.DEFINE_string("data", None, "real clips: 'synthetic' (held-out clips) or a folder of prepared "
                      "shards (its test split); default: the data the workdir was trained on")
  flags.DEFINE_integer("num_samples", 256, "GANs: clips per compared set (the real data must give "
                       "twice as many); predictor: held-out clips")
  flags.DEFINE_string("i3d", None, "GANs: SavedModel directory of an I3D network, to report FVD "
                      "instead of the built-in features' distance (docs/metrics.md)")
  flags.DEFINE_string("feature_network", None, "GANs: directory of the built-in feature network, "
                      "trained there when missing; default WORKDIR/feature_network")
  flags.DEFINE_integer("context", None, "predictor: frames given; default the config's "
                       "train.context_frames")
  flags.DEFINE_integer("future", 10, "predictor: frames predicted after the context")
  flags.DEFINE_string("report", None, "JSON report path; default WORKDIR/evaluation_*_step<step>.json")
  flags.DEFINE_integer("batch_size", 16, "clips per model call")
  flags.mark_flags_as_required(["workdir"])


def _reject(names, family):
  """A UserError for flags of the other model family that were given anyway."""
  given = [f"--{name}" for name in names if FLAGS[name].present]
  if given:
    raise UserError(f"{', '.join(given)} does not apply to {family} workdir {FLAGS.workdir!r}; "
                    f"leave it out")


def _evaluate_gan():
  _reject(("context", "future"), "the GAN")
  report = evaluate_gan.evaluate_gan(
      FLAGS.workdir, data=FLAGS.data, num_samples=FLAGS.num_samples, i3d=FLAGS.i3d,
      feature_network=FLAGS.feature_network, report_path=FLAGS.report, batch_size=FLAGS.batch_size)
  print(evaluate_gan.format_table(report))
  print(f"report: {report['path']}")


def _evaluate_predictor():
  _reject(("i3d", "feature_network"), "the predictor")
  report = evaluate_predictor.evaluate_predictor(
      FLAGS.workdir, data=FLAGS.data, context=FLAGS.context, future=FLAGS.future,
      num_clips=FLAGS.num_samples, batch_size=FLAGS.batch_size, report_path=FLAGS.report)
  print(evaluate_predictor.format_table(report))
  print(f"report: {report['path']}; plots: {', '.join(report['plots'].values())}")


# config.json's model_type -> the evaluation of that model family.
EVALUATIONS = {"vgan": _evaluate_gan, "cvgan": _evaluate_gan, "lstm": _evaluate_predictor}


def main():
  model_type = workdir_lib.load_config(FLAGS.workdir).model_type
  if model_type not in EVALUATIONS:
    raise UserError(f"{FLAGS.workdir!r} holds a {model_type!r} model; `relive evaluate` knows "
                    f"{sorted(EVALUATIONS)}")
  EVALUATIONS[model_type]()
