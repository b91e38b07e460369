"""Per-horizon MSE, PSNR and SSIM of a next-frame predictor's rollouts beside two baselines."""

import json
import math
import os

from absl import logging
import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont
import tensorflow as tf

from relive_tf import evaluate_gan
from relive_tf import files
from relive_tf.data import pipeline
from relive_tf.errors import UserError
from relive_tf.metrics import image_quality
from relive_tf.training import predictor as predictor_lib
from relive_tf.training import workdir as workdir_lib

# Report keys and table labels of the predictions compared, the model first.
METHODS = (("model", "model"), ("copy_last_frame", "copy-last"), ("linear_extrapolation", "linear"))
METRICS = (("mse", "MSE (pixels in [0, 1])", image_quality.frame_mse),
           ("psnr", "PSNR (dB)", image_quality.frame_psnr),
           ("ssim", "SSIM", image_quality.frame_ssim))
_CELL = 10  # table column width
_PLOT_COLORS = ((31, 119, 180), (214, 39, 40), (44, 160, 44))


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


def per_horizon_metrics(predict_fns, batches, context, future, num_clips):
  """Every metric of every prediction method, averaged over clips at each horizon.

  Args:
    predict_fns: {name: fn(context [b, k, h, w, 3], future) -> [b, future, h, w, 3]}.
    batches: iterable of float videos [b, >= context + future, h, w, 3] in [-1, 1].
    context, future: frames given and frames predicted.
    num_clips: clips to use; fewer when `batches` runs out first.

  Returns:
    ({name: {metric: float64 [future]}}, the number of clips used).
  """
  totals = {name: {metric: np.zeros(future) for metric, _, _ in METRICS} for name in predict_fns}
  count = 0
  for videos in batches:
    videos = videos[:num_clips - count]
    given, truth = videos[:, :context], videos[:, context:context + future]
    for name, predict in predict_fns.items():
      predicted = predict(given, future)
      for metric, _, frame_metric in METRICS:
        totals[name][metric] += tf.reduce_sum(frame_metric(predicted, truth), axis=0).numpy()
    count += int(videos.shape[0])
    logging.log_every_n_seconds(logging.INFO, "evaluated %d of %d clips", 30, count, num_clips)
    if count >= num_clips:
      break
  if not count:
    raise UserError("the held-out data gave no clips; check --data")
  return {name: {metric: values / count for metric, values in metrics.items()}
          for name, metrics in totals.items()}, count


def _held_out_videos(config, data, frames, batch_size):
  """Float video batches of held-out clips and a description of where they come from."""
  if (data or config.data.source) == "synthetic":
    seed = config.seed + evaluate_gan.HELD_OUT_SEED_OFFSET
    batches = pipeline.training_batches(source="synthetic", path="", seed=seed, frames=frames,
                                        size=config.data.size, batch_size=batch_size)
    return (batch["video"] for batch in batches), {"source": "synthetic", "seed": seed}
  path = data or config.data.path
  if not os.path.isdir(path):
    raise UserError(f"--data={path!r} is neither 'synthetic' nor a folder of prepared shards; pass "
                    "one written by `relive prepare`")
  from relive_tf.data import shards  # pylint: disable=g-import-not-at-top (only for shards)
  records = shards.clip_records(path, split="test", frames=config.data.frames,
                                size=config.data.size)
  videos = records.map(lambda record: pipeline.to_float_video(record["clip"])).batch(batch_size)
  return iter(videos), {"source": "shards", "path": path, "split": "test"}


def _finite_or_none(value):
  """JSON has no infinity (a PSNR of exact copies): such values are written as null."""
  return float(value) if math.isfinite(value) else None


def format_table(report):
  """The console table of an evaluate_predictor report: a row per horizon, then the mean."""
  names = [name for name, _ in METHODS]
  group = _CELL * len(names)
  lines = [f"{report['workdir']} ({report['model_type']}) at step {report['step']}: "
           f"{report['num_clips']} held-out clips, {report['context']} context frames, "
           f"{report['future']} predicted, {report['size']}x{report['size']}",
           f"{'':>8}" + "".join(f"  {title:<{group}}" for _, title, _ in METRICS).rstrip(),
           f"{'horizon':>8}" + "".join(f"  {''.join(f'{label:>{_CELL}}' for _, label in METHODS)}"
                                       for _ in METRICS)]

  def row(label, values_of):
    groups = ["".join(f"{'inf':>{_CELL}}" if value is None else f"{value:>{_CELL}.4g}"
                      for value in (values_of(name, metric) for name in names))
              for metric, _, _ in METRICS]
    return f"{label:>8}  " + "  ".join(groups)

  for i, horizon in enumerate(report["horizons"]):
    lines.append(row(str(horizon), lambda name, metric: report["metrics"][name][metric][i]))
  lines.append(row("mean", lambda name, metric: report["mean"][name][metric]))
  lines.append(f"model MSE averaged over the {report['future']} frames: "
               f"{report['mse_ratio_to_copy_last_frame']:.3f} x copy-last-frame's")
  return "\n".join(lines)


def plot_metric(path, report, metric):
  """Draws one metric against the horizon, a line per method, as a PNG (written atomically).

  Args:
    path: the .png file to write.
    report: a report returned by evaluate_predictor.
    metric: one of "mse", "psnr", "ssim".
  """
  title = dict((key, label) for key, label, _ in METRICS)[metric]
  horizons = report["horizons"]
  series = {label: report["metrics"][name][metric] for name, label in METHODS}
  finite = [value for values in series.values() for value in values if value is not None]
  low, high = min(finite), max(finite)
  margin = 0.05 * (high - low) or 0.5  # keeps the end points off the frame
  low, high = low - margin, high + margin
  width, height, left, right, top, bottom = 640, 400, 70, 150, 40, 50
  image = Image.new("RGB", (width, height), "white")
  draw = ImageDraw.Draw(image)
  font = ImageFont.load_default()

  def x_of(horizon):
    span = max(horizons[-1] - horizons[0], 1)
    return left + (horizon - horizons[0]) / span * (width - left - right)

  def y_of(value):
    return top + (high - value) / (high - low) * (height - top - bottom)

  draw.rectangle([left, top, width - right, height - bottom], outline="black")
  for i in range(5):
    value = low + (high - low) * i / 4
    draw.line([left - 4, y_of(value), left, y_of(value)], fill="black")
    draw.text((5, y_of(value) - 6), f"{value:.4g}", fill="black", font=font)
  for horizon in horizons:
    draw.line([x_of(horizon), height - bottom, x_of(horizon), height - bottom + 4], fill="black")
    draw.text((x_of(horizon) - 4, height - bottom + 8), str(horizon), fill="black", font=font)
  draw.text((left, 12), f"{title} at each horizon, step {report['step']}", fill="black", font=font)
  draw.text(((left + width - right) / 2 - 60, height - 20), "frames after the context",
            fill="black", font=font)
  for i, ((label, values), color) in enumerate(zip(series.items(), _PLOT_COLORS)):
    points = [(x_of(h), y_of(v)) for h, v in zip(horizons, values) if v is not None]
    if len(points) > 1:
      draw.line(points, fill=color, width=2)
    for x, y in points:
      draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
    draw.line([width - right + 12, top + 10 + 18 * i, width - right + 32, top + 10 + 18 * i],
              fill=color, width=3)
    draw.text((width - right + 38, top + 4 + 18 * i), label, fill="black", font=font)
  temporary = f"{path}.partial"
  image.save(temporary, format="PNG")
  os.replace(temporary, path)


def evaluate_predictor(workdir, *, data=None, context=None, future=10, num_clips=256, batch_size=16,
                       report_path=None):
  """Rollouts of a predictor workdir's latest checkpoint on held-out clips, against two baselines.

  Each clip's first `context` frames are given; the model predicts the next `future` frames by
  feeding its predictions back, copy-last-frame repeats the last given frame and linear
  extrapolation continues each pixel's last change. MSE (pixels in [0, 1]), PSNR and SSIM
  (tf.image) are averaged over the clips at each horizon. Writes the JSON report and a PNG plot per
  metric beside it.

  Args:
    workdir: an "lstm" workdir written by `relive train`.
    data: "synthetic" (held-out clips of data seed config.seed + 1) or a folder of prepared shards
      (its test split); by default the data the workdir was trained on.
    context: frames given, >= 1; default the config's train.context_frames.
    future: frames predicted, >= 1; context + future is at most the training clips' data.frames.
    num_clips: held-out clips to average over (fewer when a shards' test split holds fewer).
    batch_size: clips per model call.
    report_path: JSON report path; default WORKDIR/evaluation_predictor_step<step>.json. The plots
      are <report path without .json>_<metric>.png.

  Returns:
    The report: workdir, model_type, step, context, future, num_clips, size, data, horizons
    [1..future], metrics {method: {metric: [future] values}} and mean {method: {metric: value}}
    for the methods model, copy_last_frame and linear_extrapolation and the metrics mse, psnr and
    ssim (an exact reproduction's infinite PSNR is null), mse_ratio_to_copy_last_frame, plots
    {metric: path}; report["path"] is where it was written.
  """
  config = workdir_lib.load_config(workdir)
  if config.model_type != "lstm":
    raise UserError(f"{workdir!r} holds a {config.model_type!r} model; evaluate_predictor takes "
                    "a next-frame predictor ('lstm')")
  context = config.train.context_frames if context is None else context
  predictor_lib.check_rollout(context, future, config.data.frames)
  if num_clips < 1 or batch_size < 1:
    raise UserError(f"--num_samples is {num_clips} and --batch_size {batch_size}; both must be at "
                    "least 1")
  if report_path:
    try:
      os.makedirs(os.path.dirname(os.path.abspath(report_path)), exist_ok=True)
    except OSError as error:
      raise UserError(f"cannot create the folder of --report={report_path}: {error.strerror}; "
                      "choose a writable path") from None
  videos, data_info = _held_out_videos(config, data, context + future, batch_size)
  logging.info("restoring the predictor in %s", workdir)
  config, recipe, step = workdir_lib.restore_trained(workdir)
  rollout = tf.function(recipe.predictor.rollout, reduce_retracing=True)
  logging.info("predicting %d frames after %d on %d held-out clips", future, context, num_clips)
  metrics, count = per_horizon_metrics(
      {"model": lambda given, future: rollout(given, future), "copy_last_frame": copy_last_frame,
       "linear_extrapolation": linear_extrapolation}, videos, context, future, num_clips)
  report = {
      "workdir": workdir, "model_type": config.model_type, "step": step, "context": context,
      "future": future, "num_clips": count, "size": config.data.size, "data": data_info,
      "horizons": list(range(1, future + 1)),
      "metrics": {name: {metric: [_finite_or_none(v) for v in values]
                         for metric, values in by_metric.items()}
                  for name, by_metric in metrics.items()},
      "mean": {name: {metric: _finite_or_none(np.mean(values))
                      for metric, values in by_metric.items()}
               for name, by_metric in metrics.items()},
  }
  report["mse_ratio_to_copy_last_frame"] = (np.mean(metrics["model"]["mse"]) /
                                            max(np.mean(metrics["copy_last_frame"]["mse"]), 1e-12))
  report_path = report_path or os.path.join(workdir, f"evaluation_predictor_step{step}.json")
  stem = report_path[:-len(".json")] if report_path.endswith(".json") else report_path
  report["plots"] = {metric: f"{stem}_{metric}.png" for metric, _, _ in METRICS}
  for metric, path in report["plots"].items():
    plot_metric(path, report, metric)
  files.write_json(report_path, report)
  report["path"] = report_path
  return report
