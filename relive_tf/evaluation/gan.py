"""How close a GAN's clips are to real ones: Frechet and kernel distances of video features."""

import os

import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf import files
from relive_tf import progress
from relive_tf.data import held_out
from relive_tf.data import pipeline
from relive_tf.evaluation import evaluator
from relive_tf.metrics import feature_network as feature_network_lib
from relive_tf.metrics import features
from relive_tf.metrics import frechet
from relive_tf.training import inputs
from relive_tf.training import trainer as trainer_lib

FEATURE_NETWORK_DIR = "feature_network"
# Report rows and their table labels.
ROWS = (
  ("real_vs_real", "real vs real (floor)"),
  ("generated", "generated"),
  ("untrained_generator", "untrained generator"),
)


class DistanceEvaluator:
  """Frechet and kernel distances of a GAN trainer's clips to held-out real clips (an Evaluator).

  The first num_samples real clips of `batches` are the reference set; the next num_samples are both
  the real comparison set, whose distance is the floor that sampling noise alone gives, and the
  generator's inputs (noise and, for a conditional model, the photos). The reference and the floor
  are measured once; every run measures the trainer's clips made from the same inputs.
  """

  def __init__(self, batches, extract, num_samples, show_progress=False):
    """Prepares to measure.

    Args:
      batches: a dataset of training_batches-style dicts ("video" in [-1, 1], "noise", "index"),
        iterated afresh, in the same order, by every run.
      extract: features of uint8 clips [n, frames, size, size, 3] -> float64 [n, dims].
      num_samples: clips per set, >= 2.
      show_progress: show a bar of the embedded clips (a command; not during training).

    Raises:
      ValueError: fewer than 2 clips per set.
    """
    if num_samples < 2:
      raise ValueError(f"num_samples is {num_samples}; the distances need at least 2 clips per set")
    self._batches = batches
    self._extract = extract
    self._num_samples = num_samples
    self._show_progress = show_progress
    self._reference = None
    self._real = None

  def _embed(self, iterator, videos_of, what):
    """Features of num_samples clips made from the next batches by each fn of `videos_of`."""
    parts = {name: [] for name in videos_of}
    count = 0
    with progress.bar(
      total=self._num_samples,
      desc=f"embedding {what}",
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
          parts[name].append(self._extract(pipeline.to_uint8_video(videos(batch)).numpy()))
        count += len(batch["video"])
        bar.update(min(count, self._num_samples) - bar.n)
    return {name: np.concatenate(chunks)[: self._num_samples] for name, chunks in parts.items()}

  def run(self, trainer):
    """Yields ("frechet", d) and ("kernel", d) of the trainer's clips, then the floor:
    ("frechet_floor", d) and ("kernel_floor", d) of the real comparison set."""
    real = lambda batch: batch["video"]
    iterator = iter(self._batches)
    if self._reference is None:
      self._reference = self._embed(iterator, {"real": real}, "reference clips")["real"]
    else:
      self._embed(iterator, {}, "reference clips")
    generated = lambda batch: trainer.fake_videos(batch, training=False)[0]
    videos_of = (
      {"generated": generated} if self._real is not None else {"generated": generated, "real": real}
    )
    embedded = self._embed(iterator, videos_of, "compared clips")
    self._real = embedded.get("real", self._real)
    yield "frechet", frechet.frechet_distance(self._reference, embedded["generated"])
    yield "kernel", frechet.kernel_distance(self._reference, embedded["generated"])
    yield "frechet_floor", frechet.frechet_distance(self._reference, self._real)
    yield "kernel_floor", frechet.kernel_distance(self._reference, self._real)


def training_evaluators(config):
  """The built-in distance during training (Family.training_evaluators): config.train.eval_samples
  generated clips against as many held-out real ones, in the features of the built-in network at
  config.train.feature_network.

  Raises:
    ValueError: no feature network there, one for another clip shape, or eval_samples below 2.
  """
  train, data = config.train, config.data
  path = train.feature_network
  if not path or not tf.io.gfile.exists(os.path.join(path, feature_network_lib.INFO_FILE)):
    raise ValueError(
      f"train.eval_every is {train.eval_every} but train.feature_network ({path!r}) "
      "holds no built-in feature network: run `relive evaluate` once (it trains one "
      "into WORKDIR/feature_network) and pass that folder"
    )
  if train.eval_samples < 2:
    raise ValueError(f"train.eval_samples is {train.eval_samples}; the distances need at least 2")
  extract = features.BuiltinFeatures(path)
  extract.check_clip_shape(data.frames, data.size)
  batches = inputs.held_out_batches(config, batch_size=min(16, train.eval_samples))
  return [DistanceEvaluator(batches, extract, train.eval_samples)]


def _feature_extractor(workdir, config, i3d, feature_network):
  """I3DFeatures when `i3d` is given; else the built-in network, trained first if it is missing."""
  if i3d:
    return features.I3DFeatures(i3d)
  path = feature_network or os.path.join(workdir, FEATURE_NETWORK_DIR)
  if not tf.io.gfile.exists(os.path.join(path, feature_network_lib.INFO_FILE)):
    logging.info(
      "no built-in feature network in %s: training one for %dx%dx%d clips (once; some "
      "minutes on a CPU)",
      path,
      config.data.frames,
      config.data.size,
      config.data.size,
    )
    feature_network_lib.train_feature_network(
      path, frames=config.data.frames, size=config.data.size
    )
  extract = features.BuiltinFeatures(path)
  extract.check_clip_shape(config.data.frames, config.data.size)
  return extract


def evaluate(
  trained, *, data=None, num_samples=256, i3d=None, feature_network=None, report=None, batch_size=16
):
  """Distances between a GAN's generated clips and real clips, written as a JSON report.

  Three rows, each against the same reference set of real clips: a second real set (the floor),
  clips of the latest checkpoint, and clips of the same model untrained. The features are the
  built-in network's (trained once into WORKDIR/feature_network when missing) or, with `i3d`, an
  I3D network's, which makes the Frechet distance the FVD of Unterthiner et al. 2018.

  Args:
    trained: a restored GAN workdir (training/checkpoints.restore_trained).
    data: "synthetic" (held-out clips, data/held_out.py) or a folder of prepared shards (its test
      split); by default the data the workdir was trained on.
    num_samples: clips per set; the real data must give 2 x num_samples.
    i3d: SavedModel directory of an I3D network, or None for the built-in features.
    feature_network: directory of the built-in network (default WORKDIR/feature_network).
    report: JSON report path; default WORKDIR/evaluation_<features>_step<step>.json.
    batch_size: clips per generator and feature call.

  Returns:
    The report: workdir, model_type, step, num_samples, frames, size, data, features and
    distances {row: {"frechet": float, "kernel": float}} for the rows real_vs_real, generated and
    untrained_generator; report["path"] is where it was written.

  Raises:
    ValueError: too few clips or a batch below 1, unusable data or feature networks.
  """
  workdir, config = trained.workdir, trained.config
  if num_samples < 2 or batch_size < 1:
    raise ValueError(
      f"num_samples is {num_samples} and batch_size {batch_size}; the distances "
      "need at least 2 clips per set and batches of at least 1"
    )
  real_data = inputs.held_out_settings(config, data)
  extract = _feature_extractor(workdir, config, i3d, feature_network)
  untrained = trainer_lib.build(trained.family, config, tf.distribute.get_strategy())
  batches = inputs.held_out_batches(config, batch_size=batch_size, data=data)
  logging.info(
    "embedding %d real, %d real, %d generated and %d untrained clips with %s",
    num_samples,
    num_samples,
    num_samples,
    num_samples,
    extract.description,
  )
  distances = DistanceEvaluator(batches, extract, num_samples, show_progress=True)
  generated = dict(distances.run(trained.trainer))
  untrained_distances = dict(distances.run(untrained))
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
      "real_vs_real": {"frechet": generated["frechet_floor"], "kernel": generated["kernel_floor"]},
      "generated": {"frechet": generated["frechet"], "kernel": generated["kernel"]},
      "untrained_generator": {
        "frechet": untrained_distances["frechet"],
        "kernel": untrained_distances["kernel"],
      },
    },
  }
  path = report or os.path.join(workdir, f"evaluation_{extract.name}_step{trained.step}.json")
  files.write_json(path, result)
  result["path"] = path
  return result


def format_table(report):
  """The console table of a report of `evaluate`."""
  lines = [
    f"{report['workdir']} ({report['model_type']}) at step {report['step']}: "
    f"{report['num_samples']} clips per set of {report['frames']}x{report['size']}x"
    f"{report['size']}, {report['features']['description']}",
    f"  {'':<22}{'Frechet':>12}{'kernel':>12}",
  ]
  for key, label in ROWS:
    distances = report["distances"][key]
    lines.append(f"  {label:<22}{distances['frechet']:>12.4g}{distances['kernel']:>12.4g}")
  return "\n".join(lines)


EVALUATION = evaluator.Evaluation(run=evaluate, table=format_table)
