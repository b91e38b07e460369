"""Per-horizon MSE, PSNR and SSIM of a next-frame predictor's rollouts beside two baselines."""

import math
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
from relive_tf.metrics import image_quality
from relive_tf.training import inputs
from relive_tf.training import lstm as lstm_training

# Report keys and table labels of the predictions compared, the model first.
METHODS = (("model", "model"), ("copy_last_frame", "copy-last"), ("linear_extrapolation", "linear"))
METRICS = (
  ("mse", "MSE (pixels in [0, 1])", image_quality.frame_mse),
  ("psnr", "PSNR (dB)", image_quality.frame_psnr),
  ("ssim", "SSIM", image_quality.frame_ssim),
)
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
  extrapolation continues each pixel's last change.
  """

  def __init__(self, videos, *, context, future, num_clips, show_progress=False):
    """Prepares to measure.

    Args:
      videos: fn() -> a fresh iterable of float video batches [b, >= context + future, h, w, 3]
        in [-1, 1].
      context, future: frames given and frames predicted.
      num_clips: clips to average over; fewer when `videos` runs out first.
      show_progress: show a bar of the clips evaluated (a command; not during training).
    """
    self._videos = videos
    self._context = context
    self._future = future
    self._num_clips = num_clips
    self._show_progress = show_progress

  def run(self, trainer):
    """Yields ("<method>/<metric>", float64 [future]) for the methods of METHODS and the metrics
    of METRICS, averaged over the clips, then ("clips", the number of clips used).

    Raises:
      ValueError: the held-out data gave no clips.
    """
    rollout = tf.function(trainer.predictor.rollout, reduce_retracing=True)
    predict_fns = {
      "model": rollout,
      "copy_last_frame": copy_last_frame,
      "linear_extrapolation": linear_extrapolation,
    }
    context, future = self._context, self._future
    totals = {name: {metric: np.zeros(future) for metric, _, _ in METRICS} for name in predict_fns}
    count = 0
    with progress.bar(
      total=self._num_clips, desc="evaluating", unit="clip", disable=not self._show_progress
    ) as bar:
      for videos in self._videos():
        videos = videos[: self._num_clips - count]
        given, truth = videos[:, :context], videos[:, context : context + future]
        for name, predict in predict_fns.items():
          predicted = predict(given, future)
          for metric, _, frame_metric in METRICS:
            totals[name][metric] += tf.reduce_sum(frame_metric(predicted, truth), axis=0).numpy()
        count += int(videos.shape[0])
        bar.update(int(videos.shape[0]))
        if count >= self._num_clips:
          break
    if not count:
      raise ValueError("the held-out data gave no clips; check data")
    for name, by_metric in totals.items():
      for metric, values in by_metric.items():
        yield f"{name}/{metric}", values / count
    yield "clips", count


def _held_out_videos(config, data, frames, batch_size):
  """fn() -> float video batches of held-out clips, and the held_out settings they come from.

  Synthetic clips are endless; shards give their test split once, in stored order.
  """
  settings = inputs.held_out_settings(config, data)
  if settings["source"] == "synthetic":
    batches = pipeline.training_batches(
      **settings, frames=frames, size=config.data.size, batch_size=batch_size
    )
    return lambda: (batch["video"] for batch in batches), settings
  records = shards.clip_records(
    settings["path"], split=settings["split"], frames=config.data.frames, size=config.data.size
  )
  videos = records.map(lambda record: pipeline.to_float_video(record["clip"])).batch(batch_size)
  return lambda: iter(videos), settings


def _finite_or_none(value):
  """JSON has no infinity (a PSNR of exact copies): such values are written as null."""
  return float(value) if math.isfinite(value) else None


def evaluate(
  trained, *, data=None, context=None, future=10, num_samples=256, batch_size=16, report=None
):
  """Rollouts of a predictor's latest checkpoint on held-out clips, against two baselines.

  MSE (pixels in [0, 1]), PSNR and SSIM (tf.image) of the model, copy-last-frame and linear
  extrapolation are averaged over the clips at each horizon (HorizonEvaluator) and written as a
  JSON report.

  Args:
    trained: a restored predictor workdir (training/checkpoints.restore_trained).
    data: "synthetic" (held-out clips, data/held_out.py) or a folder of prepared shards (its test
      split); by default the data the workdir was trained on.
    context: frames given, >= 1; default the config's train.context_frames.
    future: frames predicted, >= 1; context + future is at most the training clips' data.frames.
    num_samples: held-out clips to average over (fewer when a shards' test split holds fewer).
    batch_size: clips per model call.
    report: JSON report path; default WORKDIR/evaluation_predictor_step<step>.json.

  Returns:
    The report: workdir, model_type, step, context, future, num_clips, size, data, horizons
    [1..future], metrics {method: {metric: [future] values}} and mean {method: {metric: value}}
    for the methods model, copy_last_frame and linear_extrapolation and the metrics mse, psnr and
    ssim (an exact reproduction's infinite PSNR is null), mse_ratio_to_copy_last_frame;
    report["path"] is where it was written.

  Raises:
    ValueError: bad lengths or counts, an unwritable report folder, or unusable data.
  """
  workdir, config = trained.workdir, trained.config
  context = config.train.context_frames if context is None else context
  lstm_training.check_rollout(context, future, config.data.frames)
  if num_samples < 1 or batch_size < 1:
    raise ValueError(
      f"num_samples is {num_samples} and batch_size {batch_size}; both must be at least 1"
    )
  if report:
    try:
      tf.io.gfile.makedirs(os.path.dirname(files.absolute(report)))
    except tf.errors.OpError as error:
      raise ValueError(
        f"cannot create the folder of the report {report}: {error.message}; choose a writable path"
      ) from None
  videos, settings = _held_out_videos(config, data, context + future, batch_size)
  logging.info("predicting %d frames after %d on %d held-out clips", future, context, num_samples)
  horizons = HorizonEvaluator(
    videos, context=context, future=future, num_clips=num_samples, show_progress=True
  )
  measured = dict(horizons.run(trained.trainer))
  metrics = {
    name: {metric: measured[f"{name}/{metric}"] for metric, _, _ in METRICS} for name, _ in METHODS
  }
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
      name: {metric: [_finite_or_none(v) for v in values] for metric, values in by_metric.items()}
      for name, by_metric in metrics.items()
    },
    "mean": {
      name: {metric: _finite_or_none(np.mean(values)) for metric, values in by_metric.items()}
      for name, by_metric in metrics.items()
    },
    "mse_ratio_to_copy_last_frame": float(
      np.mean(metrics["model"]["mse"]) / max(np.mean(metrics["copy_last_frame"]["mse"]), 1e-12)
    ),
  }
  path = report or os.path.join(workdir, f"evaluation_predictor_step{trained.step}.json")
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
    f"{'':>8}" + "".join(f"  {title:<{group}}" for _, title, _ in METRICS).rstrip(),
    f"{'horizon':>8}"
    + "".join(f"  {''.join(f'{label:>{_CELL}}' for _, label in METHODS)}" for _ in METRICS),
  ]

  def row(label, values):
    """values: {method: {metric: value}}."""
    groups = [
      "".join(
        f"{'inf':>{_CELL}}"
        if values[name][metric] is None
        else f"{values[name][metric]:>{_CELL}.4g}"
        for name in names
      )
      for metric, _, _ in METRICS
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
  lines.append(
    f"model MSE averaged over the {report['future']} frames: "
    f"{report['mse_ratio_to_copy_last_frame']:.3f} x copy-last-frame's"
  )
  return "\n".join(lines)


EVALUATION = evaluator.Evaluation(run=evaluate, table=format_table)
