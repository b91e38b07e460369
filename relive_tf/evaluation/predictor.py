"""Per-horizon MSE, PSNR and SSIM of a next-frame predictor's rollouts beside two baselines."""

import os

import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf import files
from relive_tf import progress
from relive_tf.data import held_out
from relive_tf.data import pipeline
from relive_tf.data import shards
from relive_tf.evaluation import evaluator
from relive_tf.evaluation import scores as scores_lib
from relive_tf.metrics import image_quality
from relive_tf.metrics import sample_scores
from relive_tf.training import inputs
from relive_tf.training import lstm as lstm_training

# Report keys and table labels of the predictions compared, the model first.
METHODS = (("model", "model"), ("copy_last_frame", "copy-last"), ("linear_extrapolation", "linear"))
# The sample scores also take the real future frames: the ceiling at each horizon.
SCORED = (METHODS[0], ("real_future", "real"), *METHODS[1:])
METRICS = (("mse", "MSE (pixels in [0, 1])"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM"))
# Averaged over the clips frame by frame. PSNR comes from each horizon's mean MSE: one frame
# reproduced exactly (a still clip's copy-last-frame) has an infinite PSNR, which made its
# horizon's mean infinite, and a cap on it would weigh one clip over all the others.
_FRAME_METRICS = {"mse": image_quality.frame_mse, "ssim": image_quality.frame_ssim}
# Frames `relive evaluate` predicts unless told (fewer where the training clips end sooner).
DEFAULT_FUTURE = 10
_CELL = 10  # table column width


def copy_last_frame(context, future):
  """The last context frame, repeated.

  Args:
    context: [batch, k, height, width, 3], k >= 1.
    future: frames to predict.

  Returns:
    [batch, future, height, width, 3].
  """
  return tf.repeat(context[:, -1:], future, axis=1)


def linear_extrapolation(context, future):
  """Each pixel continues its last change: frame k - 1 + h is last + h * (last - previous).

  Clipped to [-1, 1]. With a single context frame there is no change to continue and the last
  frame is repeated.

  Args:
    context: [batch, k, height, width, 3] in [-1, 1], k >= 1.
    future: frames to predict.

  Returns:
    [batch, future, height, width, 3].
  """
  last = context[:, -1:]
  if context.shape[1] < 2:
    return copy_last_frame(context, future)
  steps = tf.reshape(tf.range(1, future + 1, dtype=last.dtype), [1, future, 1, 1, 1])
  return tf.clip_by_value(last + steps * (last - context[:, -2:-1]), -1.0, 1.0)


class HorizonEvaluator:
  """Every metric of a predictor's rollouts and of both baselines at each horizon (an Evaluator).

  Each clip's first `context` frames are given; the model predicts the next `future` frames by
  feeding its predictions back, copy-last-frame repeats the last given frame and linear
  extrapolation continues each pixel's last change. With a digit recogniser, the sample scores of
  each, and of the real future frames, are measured at each horizon too: the digit score of the
  frame at horizon h, its identity consistency with the last given frame (does it show the digits
  the context showed?) and the motion of the step from horizon h - 1 to h (from the last given
  frame at h = 1).
  """

  def __init__(self, videos, *, context, future, num_clips, recognizer=None, show_progress=False):
    """Prepares to measure.

    Args:
      videos: fn() -> a fresh iterable of float video batches [b, >= context + future, h, w, 3]
        in [-1, 1].
      context, future: frames given and frames predicted.
      num_clips: clips to average over; fewer when `videos` runs out first.
      recognizer: a metrics.digit_recognizer.DigitRecognizer for the sample scores, or None.
      show_progress: show a bar of the clips evaluated (a command; not during training).
    """
    self._videos = videos
    self._context = context
    self._future = future
    self._num_clips = num_clips
    self._recognizer = recognizer
    self._show_progress = show_progress

  def run(self, trainer):
    """Yields ("<method>/<metric>", float64 [future]) for the methods of METHODS and the metrics
    of METRICS: MSE and SSIM averaged over the clips, PSNR that of the mean MSE; with a
    recogniser, ("<method>/<score>", float64 [future]) for the methods of SCORED and the scores
    digit_score, identity_consistency (NaN at a horizon where no digit is seen) and motion; then
    ("clips", the number of clips used).

    Raises:
      ValueError: the held-out data gave no clips.
    """
    # The rollout's loop is Python over a Python int: nothing for AutoGraph to convert. With
    # AutoGraph, a test session that had run tests/test_readme_strip.py first traced the
    # predictor's step() in place of rollout() (a Conv2D given the 5-D context).
    rollout = tf.function(trainer.predictor.rollout, reduce_retracing=True, autograph=False)
    predict_fns = {
      "model": rollout,
      "copy_last_frame": copy_last_frame,
      "linear_extrapolation": linear_extrapolation,
    }
    context, future = self._context, self._future
    totals = {name: {metric: np.zeros(future) for metric in _FRAME_METRICS} for name in predict_fns}
    scored = {name: [] for name, _ in SCORED}
    count = 0
    with progress.bar(
      total=self._num_clips, desc="evaluating", unit="clip", disable=not self._show_progress
    ) as bar:
      for videos in self._videos():
        videos = videos[: self._num_clips - count]
        given, truth = videos[:, :context], videos[:, context : context + future]
        predictions = {name: predict(given, future) for name, predict in predict_fns.items()}
        for name, predicted in predictions.items():
          for metric, frame_metric in _FRAME_METRICS.items():
            totals[name][metric] += tf.reduce_sum(frame_metric(predicted, truth), axis=0).numpy()
        if self._recognizer is not None:
          for name, predicted in {**predictions, "real_future": truth}.items():
            # From the last given frame on, so that horizon 1 has a frame before it.
            clips = pipeline.to_uint8_video(tf.concat([given[:, -1:], predicted], axis=1)).numpy()
            probabilities = self._recognizer.probabilities(clips)
            scored[name].append(sample_scores.FrameScores.of(probabilities, clips))
        count += int(videos.shape[0])
        bar.update(int(videos.shape[0]))
        if count >= self._num_clips:
          break
    if not count:
      raise ValueError("the held-out data gave no clips; check data")
    for name, by_metric in totals.items():
      mse = by_metric["mse"] / count
      yield f"{name}/mse", mse
      yield f"{name}/psnr", image_quality.psnr_of_mse(mse)
      yield f"{name}/ssim", by_metric["ssim"] / count
    if self._recognizer is not None:
      for name, parts in scored.items():
        frame_scores = sample_scores.FrameScores.concatenate(parts)
        horizons = range(1, future + 1)
        yield f"{name}/digit_score", np.array([frame_scores.digit_score([h]) for h in horizons])
        yield (
          f"{name}/identity_consistency",
          np.array([frame_scores.identity_consistency([(0, h)]) for h in horizons]),
        )
        yield f"{name}/motion", np.array([frame_scores.motion([h - 1]) for h in horizons])
    yield "clips", count


def mse_ratio(model_mse, copy_mse):
  """The model's MSE over copy-last-frame's, each averaged over the horizons; inf where
  copy-last-frame's is 0 (every clip still) and the model's is not, NaN where both are."""
  model, copy = float(np.mean(model_mse)), float(np.mean(copy_mse))
  if copy == 0:
    return float("nan") if model == 0 else float("inf")
  return model / copy


def _mean_of_finite(values):
  """The mean of the finite values (a horizon without a digit has no identity consistency); NaN
  when there are none."""
  finite = values[np.isfinite(values)]
  return float(np.mean(finite)) if finite.size else float("nan")


class HorizonSummaries:
  """A HorizonEvaluator's per-horizon arrays as scalars for the eval/ summaries (an Evaluator)."""

  def __init__(self, horizons):
    """horizons: the HorizonEvaluator to run."""
    self._horizons = horizons

  def run(self, trainer):
    """Yields "mse_ratio_to_copy_last_frame" (the model's MSE over the horizons over
    copy-last-frame's), "<method>/<measure>" averaged over the horizons for every array
    HorizonEvaluator.run gives, and, for the model's and the real future's,
    "<method>/<measure>/horizon_<h>" at each horizon h (two digits)."""
    measured = dict(self._horizons.run(trainer))
    measured.pop("clips")
    yield (
      "mse_ratio_to_copy_last_frame",
      mse_ratio(measured["model/mse"], measured["copy_last_frame/mse"]),
    )
    for name, values in measured.items():
      if name.endswith("/psnr"):
        mse = measured[name.replace("/psnr", "/mse")]
        yield name, float(image_quality.psnr_of_mse(np.mean(mse)))
      else:
        yield name, _mean_of_finite(values)
    for name, values in measured.items():
      if name.split("/")[0] in ("model", "real_future"):
        for horizon, value in enumerate(values, start=1):
          yield f"{name}/horizon_{horizon:02d}", float(value)


def training_evaluators(config):
  """The per-horizon measures during training (Family.training_evaluators): rollouts of
  config.data.frames - train.context_frames frames after train.context_frames given ones, on
  train.eval_samples held-out clips, with the sample scores of the digit recogniser at
  train.digit_recognizer ("" for the one shipped with the package) where the clips are the
  built-in digits of its frame size.

  Raises:
    ValueError: eval_samples below 1, or a folder without a recogniser.
  """
  train, data = config.train, config.data
  if train.eval_samples < 1:
    raise ValueError(f"train.eval_samples is {train.eval_samples}; give at least 1 clip")
  context = train.context_frames
  future = data.frames - context
  lstm_training.check_rollout(context, future, data.frames)
  recognizer, not_measured = scores_lib.digit_recognizer(config, path=train.digit_recognizer)
  if not_measured:
    logging.info("eval/ sample scores %s", not_measured)
  videos, _ = _held_out_videos(config, None, min(16, train.eval_samples), needed=data.frames)
  horizons = HorizonEvaluator(
    videos, context=context, future=future, num_clips=train.eval_samples, recognizer=recognizer
  )
  return [HorizonSummaries(horizons)]


def _held_out_videos(config, data, batch_size, needed):
  """fn() -> float video batches of held-out clips (inputs.held_out_batches: endless synthetic
  clips, or the shards' test split once), and the held_out settings they come from.

  Shards are read at their own clip length, which may differ from the training clips': the
  evaluator takes the `needed` frames (context + future) from each clip.

  Raises:
    ValueError: the shards' clips are shorter than `needed`.
  """
  settings = inputs.held_out_settings(config, data)
  frames = config.data.frames
  if settings["source"] != "synthetic":
    frames = shards.read_manifest(settings["path"])["frames"]
    if frames < needed:
      raise ValueError(
        f"{settings['path']!r} holds clips of {frames} frames, but the rollout needs {needed} "
        f"(context + future): lower --context or --future, or prepare shards with "
        f"--frames={needed} or more"
      )
  batches = inputs.held_out_batches(config, batch_size=batch_size, data=data, frames=frames)
  return lambda: (batch["video"] for batch in batches), settings


def evaluate(
  trained,
  *,
  data=None,
  context=None,
  future=None,
  num_samples=256,
  batch_size=16,
  digit_recognizer=None,
  report=None,
):
  """Rollouts of a predictor's latest checkpoint on held-out clips, against two baselines.

  MSE (pixels in [0, 1]) and SSIM (tf.image) of the model, copy-last-frame and linear
  extrapolation are averaged over the clips at each horizon, and PSNR is that of the horizon's
  mean MSE (HorizonEvaluator); they are written as a
  JSON report, with the sample scores (digit score, identity consistency, motion) of each and of
  the real future frames at each horizon. Those need the built-in digits: on shards they are not
  measured, and the report says so.

  Args:
    trained: a restored predictor workdir (training/checkpoints.restore_trained).
    data: "synthetic" (held-out clips, data/held_out.py) or a folder of prepared shards (its test
      split); by default the data the workdir was trained on.
    context: frames given, >= 1; default the config's train.context_frames.
    future: frames predicted, >= 1; context + future is at most the training clips' data.frames.
      Default: DEFAULT_FUTURE, or the frames the training clips hold after the context if fewer.
    num_samples: held-out clips to average over (fewer when a shards' test split holds fewer).
    batch_size: clips per model call.
    digit_recognizer: directory of a digit recogniser (default: the one shipped with the package).
    report: JSON report path; default
      WORKDIR/evaluation_predictor_context<K>_future<N>[_<data>]_step<step>.json
      (held_out.report_tag: data's name when given).

  Returns:
    The report: workdir, model_type, step, context, future, num_clips, size, data, horizons
    [1..future], metrics {method: {metric: [future] values}} and mean {method: {metric: value}}
    for the methods model, copy_last_frame and linear_extrapolation and the metrics mse, psnr and
    ssim (PSNR from each horizon's mean MSE, the mean's from the mean MSE, null where that MSE is
    0; any value null where the predictions were not finite), mse_ratio_to_copy_last_frame (null
    where copy-last-frame's MSE is 0);
    sample_scores {method: {score: [future] values}} for the methods model, real_future,
    copy_last_frame and linear_extrapolation and the scores digit_score, identity_consistency
    (null where no digit is seen) and motion, with digit_recognizer (its description), or
    sample_scores {"not_measured": why}; report["path"] is where it was written.

  Raises:
    ValueError: bad lengths or counts, an unwritable report folder, or unusable data.
  """
  workdir, config = trained.workdir, trained.config
  context = config.train.context_frames if context is None else context
  if future is None:
    future = max(1, min(DEFAULT_FUTURE, config.data.frames - context))
  lstm_training.check_rollout(context, future, config.data.frames)
  if num_samples < 1 or batch_size < 1:
    raise ValueError(
      f"num_samples is {num_samples} and batch_size {batch_size}; both must be at least 1"
    )
  scores_lib.make_report_folder(report, workdir)
  videos, settings = _held_out_videos(config, data, batch_size, needed=context + future)
  recognizer, not_measured = scores_lib.digit_recognizer(config, data, digit_recognizer)
  clips = num_samples
  if settings["source"] != "synthetic":
    clips = min(num_samples, shards.split_clips(settings["path"], settings["split"]))
  logging.info(
    "predicting %s after %d on %s%s; sample scores %s",
    progress.counted(future, "frame"),
    context,
    progress.counted(clips, "held-out clip"),
    "" if clips == num_samples else f" (all of the {settings['split']} split)",
    f"by the {recognizer.description}" if recognizer else not_measured,
  )
  horizons = HorizonEvaluator(
    videos,
    context=context,
    future=future,
    num_clips=clips,
    recognizer=recognizer,
    show_progress=True,
  )
  measured = dict(horizons.run(trained.trainer))
  metrics = {
    name: {metric: measured[f"{name}/{metric}"] for metric, _ in METRICS} for name, _ in METHODS
  }
  finite = scores_lib.finite_or_none
  result = {
    "workdir": workdir,
    "model_type": config.model_type,
    "step": trained.step,
    "context": context,
    "future": future,
    "num_clips": measured["clips"],
    "size": config.data.size,
    "data": held_out.describe(settings),
    "horizons": list(range(1, future + 1)),
    "metrics": {
      name: {
        metric: [scores_lib.finite_or_none(v) for v in values]
        for metric, values in by_metric.items()
      }
      for name, by_metric in metrics.items()
    },
    "mean": {
      name: {
        "mse": finite(np.mean(by_metric["mse"])),
        "psnr": finite(image_quality.psnr_of_mse(np.mean(by_metric["mse"]))),
        "ssim": finite(np.mean(by_metric["ssim"])),
      }
      for name, by_metric in metrics.items()
    },
    "mse_ratio_to_copy_last_frame": finite(
      mse_ratio(metrics["model"]["mse"], metrics["copy_last_frame"]["mse"])
    ),
  }
  if recognizer is None:
    result["sample_scores"] = {"not_measured": not_measured}
  else:
    result["digit_recognizer"] = recognizer.description
    result["sample_scores"] = {
      name: {
        score: [finite(v) for v in measured[f"{name}/{score}"]] for score, _ in scores_lib.SCORES
      }
      for name, _ in SCORED
    }
  # The lengths are in the name: reports of other --context or --future keep each other.
  name = f"evaluation_predictor_context{context}_future{future}{held_out.report_tag(data)}"
  path = report or os.path.join(workdir, f"{name}_step{trained.step}.json")
  files.write_json(path, result)
  result["path"] = path
  return result


def format_table(report):
  """The console table of a report of `evaluate`: a row per horizon, then the mean."""
  names = [name for name, _ in METHODS]
  group = _CELL * len(names)
  lines = [
    f"{report['workdir']} ({report['model_type']}) at step {report['step']}: "
    f"{report['num_clips']} held-out clips, {report['context']} context frames, "
    f"{report['future']} predicted, {report['size']}x{report['size']}",
    f"{'':>8}" + "".join(f"  {title:<{group}}" for _, title in METRICS).rstrip(),
    f"{'horizon':>8}"
    + "".join(f"  {''.join(f'{label:>{_CELL}}' for _, label in METHODS)}" for _ in METRICS),
  ]

  def row(label, values):
    """values: {method: {metric: value}}."""
    groups = [
      "".join(
        f"{'inf' if metric == 'psnr' else 'n/a':>{_CELL}}"
        if values[name][metric] is None
        else f"{values[name][metric]:>{_CELL}.4g}"
        for name in names
      )
      for metric, _ in METRICS
    ]
    return f"{label:>8}  " + "  ".join(groups)

  for i, horizon in enumerate(report["horizons"]):
    lines.append(
      row(
        str(horizon),
        {
          name: {metric: values[i] for metric, values in by_metric.items()}
          for name, by_metric in report["metrics"].items()
        },
      )
    )
  lines.append(row("mean", report["mean"]))
  ratio = report["mse_ratio_to_copy_last_frame"]
  lines.append(
    f"model MSE averaged over the {report['future']} frames: "
    + (
      f"{ratio:.3f} x copy-last-frame's"
      if ratio is not None
      else "not a multiple of copy-last-frame's, which is 0 (every clip still)"
    )
  )
  lines.extend(_sample_score_rows(report))
  return "\n".join(lines)


def _sample_score_rows(report):
  """The table's rows of sample scores by horizon, or why they are not measured."""
  sample_scores_of = report["sample_scores"]
  if "not_measured" in sample_scores_of:
    return [f"sample scores {sample_scores_of['not_measured']}"]
  group = _CELL * len(SCORED)
  lines = [
    f"sample scores by the {report['digit_recognizer']}:",
    f"{'':>8}" + "".join(f"  {title:<{group}}" for _, title in scores_lib.SCORES).rstrip(),
    f"{'horizon':>8}"
    + "".join(
      f"  {''.join(f'{label:>{_CELL}}' for _, label in SCORED)}" for _ in scores_lib.SCORES
    ),
  ]
  for i, horizon in enumerate(report["horizons"]):
    groups = [
      "".join(
        scores_lib.format_score(sample_scores_of[name][score][i], _CELL) for name, _ in SCORED
      )
      for score, _ in scores_lib.SCORES
    ]
    lines.append(f"{horizon:>8}  " + "  ".join(groups))
  return lines


EVALUATION = evaluator.Evaluation(run=evaluate, table=format_table)
