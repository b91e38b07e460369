"""How a GAN's clips compare with real ones: Frechet and kernel distances of video features, and
the sample scores (digit score, identity consistency, motion) of the built-in digit recogniser."""

import dataclasses
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
from relive_tf.metrics import feature_network as feature_network_lib
from relive_tf.metrics import features
from relive_tf.metrics import frechet
from relive_tf.metrics import sample_scores
from relive_tf.training import inputs
from relive_tf.training import trainer as trainer_lib

# Frames this far or more from a conditional model's photo are where it must make digits of its own
# (issue 13's target): the eval/ summaries give their scores together.
FAR = 4
# Report rows and their table labels: the distances' real_vs_real row is the sample scores' real.
ROWS = (
  ("real_vs_real", "real", "real (floor/ceiling)"),
  ("generated", "generated", "generated"),
  ("untrained_generator", "untrained_generator", "untrained generator"),
)


def _cut_at_sets(batches, set_size):
  """The batches, each cut where a set of set_size clips ends: the clips a batch holds past one
  set start the next one (a shard split holding exactly the clips two sets need is enough)."""
  seen = 0
  for batch in batches:
    start, length = 0, len(batch["video"])
    while start < length:
      end = min(length, start + set_size - seen % set_size)
      yield {key: value[start:end] for key, value in batch.items()}
      seen += end - start
      start = end


@dataclasses.dataclass(frozen=True)
class Measurement:
  """One run of a GANEvaluator.

  Attributes:
    distances: {"frechet", "kernel"} of the trainer's clips to the reference set, and
      {"frechet_floor", "kernel_floor"} of the real comparison set to it.
    scores: sample_scores.FrameScores of the trainer's clips, None without a recogniser.
    real_scores: sample_scores.FrameScores of the real comparison set, None without a recogniser.
  """

  distances: dict
  scores: sample_scores.FrameScores | None
  real_scores: sample_scores.FrameScores | None


class GANEvaluator:
  """Distances of a GAN trainer's clips to held-out real clips, and their sample scores (an
  Evaluator).

  The first num_samples real clips of `batches` are the reference set; the next num_samples are both
  the real comparison set, whose distance is the floor that sampling noise alone gives and whose
  sample scores are the ceiling, and the generator's inputs (noise and, for a conditional model,
  the photos). The reference, the floor and the ceiling are measured once; every run measures the
  clips of the trainer's sampling generator (the moving average of its weights when it keeps one)
  made from the same inputs, each clip embedded and scored once.
  """

  def __init__(self, batches, extract, num_samples, recognizer=None, show_progress=False):
    """Prepares to measure.

    Args:
      batches: a dataset of training_batches-style dicts ("video" in [-1, 1], "noise", "index"),
        iterated afresh, in the same order, by every run.
      extract: features of uint8 clips [n, frames, size, size, 3] -> float64 [n, dims].
      num_samples: clips per set, >= 2.
      recognizer: a metrics.digit_recognizer.DigitRecognizer for the sample scores, or None for
        the distances alone.
      show_progress: show a bar of the measured clips (a command; not during training).

    Raises:
      ValueError: fewer than 2 clips per set.
    """
    if num_samples < 2:
      raise ValueError(
        f"num_samples is {num_samples}; the distances need at least 2 clips per set: give 2 or more"
      )
    self._batches = batches
    self._extract = extract
    self._num_samples = num_samples
    self._recognizer = recognizer
    self._show_progress = show_progress
    self._reference = None
    self._real = None
    self._real_scores = None

  def _measure_sets(self, iterator, videos_of, what, score):
    """{name: (features, FrameScores or None)} of num_samples clips made from the next batches by
    each fn of `videos_of`; scored when `score` and a recogniser is there."""
    parts = {name: ([], []) for name in videos_of}
    count = 0
    with progress.bar(
      total=self._num_samples,
      desc=f"measuring {what}",
      unit="clip",
      disable=not self._show_progress,
    ) as bar:
      while count < self._num_samples:
        batch = next(iterator, None)
        if batch is None:
          raise ValueError(
            f"the real data ran out before 2 x {self._num_samples} clips; lower num_samples"
          )
        for name, videos in videos_of.items():
          clips = pipeline.to_uint8_video(videos(batch)).numpy()
          embedded, scored = parts[name]
          embedded.append(self._extract(clips))
          if score and self._recognizer is not None:
            scored.append(
              sample_scores.FrameScores.of(self._recognizer.probabilities(clips), clips)
            )
        count += len(batch["video"])
        bar.update(count - bar.n)
    return {
      name: (
        np.concatenate(embedded),
        sample_scores.FrameScores.concatenate(scored) if scored else None,
      )
      for name, (embedded, scored) in parts.items()
    }

  def measure(self, trainer):
    """The Measurement of a GAN trainer's clips."""
    real = lambda batch: batch["video"]
    iterator = _cut_at_sets(self._batches, self._num_samples)
    if self._reference is None:
      self._reference = self._measure_sets(
        iterator, {"real": real}, "reference clips", score=False
      )["real"][0]
    else:
      self._measure_sets(iterator, {}, "reference clips", score=False)
    generated = lambda batch: trainer.fake_videos(
      batch, training=False, generator=trainer.sampling_generator
    )[0]
    videos_of = {"generated": generated}
    if self._real is None:
      videos_of["real"] = real
    measured = self._measure_sets(iterator, videos_of, "compared clips", score=True)
    if "real" in measured:
      self._real, self._real_scores = measured["real"]
    embedded, scores = measured["generated"]
    return Measurement(
      distances={
        "frechet": frechet.frechet_distance(self._reference, embedded),
        "kernel": frechet.kernel_distance(self._reference, embedded),
        "frechet_floor": frechet.frechet_distance(self._reference, self._real),
        "kernel_floor": frechet.kernel_distance(self._reference, self._real),
      },
      scores=scores,
      real_scores=self._real_scores,
    )

  def run(self, trainer):
    """Yields ("frechet", d) and ("kernel", d) of the trainer's clips, then the floor
    ("frechet_floor", d) and ("kernel_floor", d) of the real comparison set; with a recogniser,
    then "digit_score", "identity_consistency" and "motion" of the trainer's clips and, at the
    first run only, the real ceiling: "real_digit_score", "real_identity_consistency" and
    "real_motion". For a conditional trainer (one with a condition_index) the same scores follow
    over the frames FAR or more from the photo (scores_far_from_photo), named
    "far_from_photo/<score>" and "real_far_from_photo/<score>". Identity consistency is NaN when no
    frame shows a digit."""
    first = self._real is None
    measured = self.measure(trainer)
    yield from measured.distances.items()
    if measured.scores is None:
      return
    condition_index = getattr(trainer, "condition_index", None)
    sets = [("", measured.scores)] + ([("real_", measured.real_scores)] if first else [])
    for prefix, frame_scores in sets:
      for name, value in frame_scores.summary().items():
        yield f"{prefix}{name}", value
      if condition_index is not None and _has_far_frames(frame_scores, condition_index):
        for name, value in scores_far_from_photo(frame_scores, condition_index).items():
          yield f"{prefix}far_from_photo/{name}", value


def training_evaluators(config):
  """The distances and sample scores during training (Family.training_evaluators):
  config.train.eval_samples generated clips against as many held-out real ones, in the features of
  the built-in network at config.train.feature_network and the digit recogniser at
  config.train.digit_recognizer ("" for those shipped with the package).

  Raises:
    ValueError: no feature network or recogniser there, a network for another clip shape, or
      eval_samples below 2.
  """
  train, data = config.train, config.data
  if train.eval_samples < 2:
    raise ValueError(f"train.eval_samples is {train.eval_samples}; the distances need at least 2")
  extract = features.BuiltinFeatures(train.feature_network or feature_network_lib.SHIPPED)
  extract.check_clip_shape(data.frames, data.size)
  recognizer, not_measured = scores_lib.digit_recognizer(config, path=train.digit_recognizer)
  if not_measured:
    logging.info("eval/ sample scores %s", not_measured)
  batch_size = min(16, train.eval_samples)
  batches = _held_out_sets(config, None, batch_size, train.eval_samples, "train.eval_samples")
  return [GANEvaluator(batches, extract, train.eval_samples, recognizer)]


def _held_out_sets(config, data, batch_size, num_samples, setting="num_samples"):
  """inputs.held_out_batches for a GANEvaluator, which reads two sets of num_samples real clips.

  Raises:
    ValueError: a shard test split holds fewer, naming how far to lower `setting`.
  """
  settings = inputs.held_out_settings(config, data)
  if settings["source"] != "synthetic":
    held = shards.split_clips(settings["path"], settings["split"])
    if held < 2 * num_samples:
      fix = (
        f"lower {setting} to at most {held // 2}, or prepare more clips for that split"
        if held >= 4
        else "prepare at least 4 clips for that split (2 sets of 2)"
      )
      raise ValueError(
        f"the {settings['split']} split of {settings['path']!r} holds {held} clip(s), fewer than "
        f"the 2 x {num_samples} the distances compare; {fix}"
      )
  return inputs.held_out_batches(config, batch_size=batch_size, data=data)


def _feature_extractor(config, i3d, feature_network):
  """I3DFeatures when `i3d` is given; else the built-in network (default: the shipped one)."""
  if i3d:
    return features.I3DFeatures(i3d)
  extract = features.BuiltinFeatures(feature_network or feature_network_lib.SHIPPED)
  extract.check_clip_shape(config.data.frames, config.data.size)
  return extract


def scores_by_distance(frame_scores, condition_index):
  """The sample scores of frames at each distance from the photo of a conditional model.

  Distance d takes frames condition_index - d and condition_index + d: their digit score; their
  identity consistency with the photo's frame (do they show the photo's digits?); and the motion
  of the steps into them from distance d - 1. Identity and motion are None at d = 0.

  Args:
    frame_scores: sample_scores.FrameScores of clips [clips, frames].
    condition_index: the photo's frame.

  Returns:
    {score: [value at distance 0, 1, ... up to the farthest frame]} for the scores "digit_score",
    "identity_consistency" and "motion"; None where nothing is measured.
  """
  frames = frame_scores.num_frames
  result = {name: [] for name, _ in scores_lib.SCORES}
  for distance in range(max(condition_index, frames - 1 - condition_index) + 1):
    at = sorted({condition_index - distance, condition_index + distance} & set(range(frames)))
    result["digit_score"].append(frame_scores.digit_score(at))
    if not distance:
      result["identity_consistency"].append(None)
      result["motion"].append(None)
      continue
    # The step into frame t from its neighbour nearer the photo: t - 1 -> t after it, t -> t + 1
    # (backwards) before it.
    steps = [t - 1 if t > condition_index else t for t in at]
    result["identity_consistency"].append(
      scores_lib.finite_or_none(
        frame_scores.identity_consistency([(condition_index, t) for t in at])
      )
    )
    result["motion"].append(frame_scores.motion(steps))
  return result


def _has_far_frames(frame_scores, condition_index, distance=FAR):
  return max(condition_index, frame_scores.num_frames - 1 - condition_index) >= distance


def scores_far_from_photo(frame_scores, condition_index, distance=FAR):
  """The sample scores of the frames `distance` or more from the photo of a conditional model, as
  scores_by_distance measures each distance, over all of them at once.

  Args:
    frame_scores: sample_scores.FrameScores of clips [clips, frames].
    condition_index: the photo's frame.
    distance: the nearest distance taken, >= 1.

  Returns:
    {"digit_score", "identity_consistency" (with the photo's frame; NaN when no digit is seen),
    "motion" (of the steps into those frames from their neighbours nearer the photo)}.

  Raises:
    ValueError: no frame of the clips is that far from the photo.
  """
  far = [t for t in range(frame_scores.num_frames) if abs(t - condition_index) >= distance]
  if not far:
    raise ValueError(
      f"no frame of {frame_scores.num_frames} is {distance} or more from the photo at frame "
      f"{condition_index}"
    )
  return {
    "digit_score": frame_scores.digit_score(far),
    "identity_consistency": frame_scores.identity_consistency([(condition_index, t) for t in far]),
    "motion": frame_scores.motion([t - 1 if t > condition_index else t for t in far]),
  }


# Fewer clips a set than this get a warning: the Frechet distance compares covariances of the
# features (128 dimensions for the built-in network), which few clips estimate poorly.
SMALL_SET = 64


def evaluate(
  trained,
  *,
  data=None,
  num_samples=256,
  i3d=None,
  feature_network=None,
  digit_recognizer=None,
  report=None,
  batch_size=16,
):
  """Distances and sample scores of a GAN's generated clips beside real clips, as a JSON report.

  Three rows, each against the same reference set of real clips: a second real set (the floor of
  the distances, the ceiling of the sample scores), clips of the latest checkpoint's sampling
  generator, and clips of the same model untrained. The features are the built-in network's (the
  one shipped with the package by default) or, with `i3d`, an I3D network's, which makes the
  Frechet distance the FVD of Unterthiner et al. 2018. The sample scores (digit score, identity
  consistency, motion; metrics/sample_scores.py) need the built-in digits: on shards they are not
  measured, and the report says so. For a conditional model they are also given at each distance
  from the photo.

  Args:
    trained: a restored GAN workdir (training/checkpoints.restore_trained).
    data: "synthetic" (held-out clips, data/held_out.py) or a folder of prepared shards (its test
      split); by default the data the workdir was trained on.
    num_samples: clips per set; the real data must give 2 x num_samples.
    i3d: SavedModel directory of an I3D network, or None for the built-in features.
    feature_network: directory of a built-in network (default: the shipped one).
    digit_recognizer: directory of a digit recogniser (default: the shipped one).
    report: JSON report path; default WORKDIR/evaluation_<features>[_<data>]_step<step>.json
      (held_out.report_tag: data's name when given).
    batch_size: clips per generator and feature call.

  Returns:
    The report: workdir, model_type, step, num_samples, frames, size, data, features, distances
    {row: {"frechet": float, "kernel": float}} for the rows real_vs_real, generated and
    untrained_generator; sample_scores {row: {"digit_score", "identity_consistency", "motion"}}
    for the rows real, generated and untrained_generator, or {"not_measured": why}, with
    digit_recognizer (its description) when measured; for a conditional model
    by_distance_from_photo {"condition_index", "distance": [0, 1, ...], "real" and "generated":
    scores_by_distance} and, where clips reach that far, far_from_photo {"distance": FAR, "real"
    and "generated": scores_far_from_photo};
    report["path"] is where it was written.

  Raises:
    ValueError: too few clips or a batch below 1, unusable data or networks.
  """
  workdir, config = trained.workdir, trained.config
  if num_samples < 2:
    raise ValueError(
      f"num_samples is {num_samples}; the distances need at least 2 clips per set: give 2 or more"
    )
  if batch_size < 1:
    raise ValueError(f"batch_size is {batch_size}; give batches of at least 1 clip")
  scores_lib.make_report_folder(report, workdir)
  real_data = inputs.held_out_settings(config, data)
  extract = _feature_extractor(config, i3d, feature_network)
  recognizer, not_measured = scores_lib.digit_recognizer(config, data, digit_recognizer)
  untrained = trainer_lib.build(trained.family, config, tf.distribute.get_strategy())
  batches = _held_out_sets(config, data, batch_size, num_samples)
  logging.info(
    "measuring %d real, %d real, %d generated and %d untrained clips with %s%s",
    num_samples,
    num_samples,
    num_samples,
    num_samples,
    extract.description,
    f" and {recognizer.description}" if recognizer else f"; sample scores {not_measured}",
  )
  if num_samples < SMALL_SET:
    logging.warning(
      "%d clips a set: distances over so few clips mostly measure which clips were drawn (the "
      "real_vs_real row shows how much); give --num_samples of at least %d where the data holds "
      "2 x that many",
      num_samples,
      SMALL_SET,
    )
  measurer = GANEvaluator(batches, extract, num_samples, recognizer, show_progress=True)
  generated = measurer.measure(trained.trainer)
  untrained_measured = measurer.measure(untrained)
  distances = generated.distances
  result = {
    "workdir": workdir,
    "model_type": config.model_type,
    "step": trained.step,
    "num_samples": num_samples,
    "frames": config.data.frames,
    "size": config.data.size,
    "data": held_out.describe(real_data),
    "features": {"name": extract.name, "description": extract.description},
    "distances": {
      "real_vs_real": {"frechet": distances["frechet_floor"], "kernel": distances["kernel_floor"]},
      "generated": {"frechet": distances["frechet"], "kernel": distances["kernel"]},
      "untrained_generator": {
        "frechet": untrained_measured.distances["frechet"],
        "kernel": untrained_measured.distances["kernel"],
      },
    },
  }
  if recognizer is None:
    result["sample_scores"] = {"not_measured": not_measured}
  else:
    result["digit_recognizer"] = recognizer.description
    result["sample_scores"] = {
      row: {
        name: scores_lib.finite_or_none(value) for name, value in frame_scores.summary().items()
      }
      for row, frame_scores in (
        ("real", generated.real_scores),
        ("generated", generated.scores),
        ("untrained_generator", untrained_measured.scores),
      )
    }
    condition_index = getattr(trained.trainer, "condition_index", None)
    if condition_index is not None:
      real = scores_by_distance(generated.real_scores, condition_index)
      result["by_distance_from_photo"] = {
        "condition_index": condition_index,
        "distance": list(range(len(real["digit_score"]))),
        "real": real,
        "generated": scores_by_distance(generated.scores, condition_index),
      }
      if _has_far_frames(generated.scores, condition_index):
        result["far_from_photo"] = {
          "distance": FAR,
          **{
            row: {
              name: scores_lib.finite_or_none(value)
              for name, value in scores_far_from_photo(frame_scores, condition_index).items()
            }
            for row, frame_scores in (
              ("real", generated.real_scores),
              ("generated", generated.scores),
            )
          },
        }
  path = report or os.path.join(
    workdir, f"evaluation_{extract.name}{held_out.report_tag(data)}_step{trained.step}.json"
  )
  files.write_json(path, result)
  result["path"] = path
  return result


def format_table(report):
  """The console table of a report of `evaluate`: a row per set, then, for a conditional model, a
  row per distance from the photo."""
  sample_scores_of = report["sample_scores"]
  measured = "not_measured" not in sample_scores_of
  lines = [
    f"{report['workdir']} ({report['model_type']}) at step {report['step']}: "
    f"{report['num_samples']} clips per set of {report['frames']}x{report['size']}x"
    f"{report['size']}, {report['features']['description']}",
    f"  {'':<22}{'Frechet':>10}{'kernel':>10}"
    + "".join(f"{label:>14}" for _, label in scores_lib.SCORES),
  ]
  for distance_key, scores_key, label in ROWS:
    distances = report["distances"][distance_key]
    line = f"  {label:<22} {distances['frechet']:>9.4g} {distances['kernel']:>9.4g}"
    if measured:
      line += "".join(
        scores_lib.format_score(sample_scores_of[scores_key][name], 14)
        for name, _ in scores_lib.SCORES
      )
    lines.append(line)
  if not measured:
    lines.append(f"  sample scores {sample_scores_of['not_measured']}")
  else:
    lines.append(f"  sample scores by the {report['digit_recognizer']}")
  by_distance = report.get("by_distance_from_photo")
  if by_distance:
    lines.append(
      f"  frames at each distance from the photo (frame {by_distance['condition_index']}), "
      "real / generated:"
    )
    lines.append(f"  {'distance':>10}" + "".join(f"{label:>22}" for _, label in scores_lib.SCORES))
    for i, distance in enumerate(by_distance["distance"]):
      cells = "".join(
        f"{'':>6}"
        + scores_lib.format_score(by_distance["real"][name][i], 7)
        + " /"
        + scores_lib.format_score(by_distance["generated"][name][i], 7)
        for name, _ in scores_lib.SCORES
      )
      lines.append(f"  {distance:>10}{cells}")
  far = report.get("far_from_photo")
  if far:
    cells = "".join(
      f"{'':>6}"
      + scores_lib.format_score(far["real"][name], 7)
      + " /"
      + scores_lib.format_score(far["generated"][name], 7)
      for name, _ in scores_lib.SCORES
    )
    lines.append(f"  {'>= ' + str(far['distance']):>10}{cells}")
  return "\n".join(lines)


EVALUATION = evaluator.Evaluation(run=evaluate, table=format_table)
