"""How close a video WGAN's or conditional WGAN's clips are to real ones: Frechet and kernel distances."""

import json
import os

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from relive_tf import files
from relive_tf.data import pipeline
from relive_tf.errors import UserError
from relive_tf.metrics import features
from relive_tf.metrics import frechet
from relive_tf.training import recipes
from relive_tf.training import workdir as workdir_lib

GAN_MODEL_TYPES = ("vgan", "cvgan")
FEATURE_NETWORK_DIR = "feature_network"
# Held-out synthetic clips come from the training seed + this offset: clips training never drew.
HELD_OUT_SEED_OFFSET = 1
ROWS = (("real_vs_real", "real vs real (floor)"), ("generated", "generated"),
        ("untrained_generator", "untrained generator"))


def _real_data(config, data):
  """Where the real clips come from: {"source", "seed"} plus, for shards, "path" and "split"."""
  if (data or config.data.source) == "synthetic":
    return {"source": "synthetic", "seed": config.seed + HELD_OUT_SEED_OFFSET}
  path = data or config.data.path
  if not os.path.isdir(path):
    raise UserError(f"--data={path!r} is neither 'synthetic' nor a folder of prepared shards; pass "
                    f"one written by `relive prepare`")
  return {"source": "shards", "seed": config.seed, "path": path, "split": "test"}


def _feature_extractor(workdir, config, i3d, feature_network):
  """I3DFeatures when `i3d` is given; else the built-in network, trained first if it is missing."""
  if i3d:
    return features.I3DFeatures(i3d)
  path = feature_network or os.path.join(workdir, FEATURE_NETWORK_DIR)
  if not os.path.isfile(os.path.join(path, features.FEATURE_NETWORK_INFO)):
    logging.info("no built-in feature network in %s: training one for %dx%dx%d clips (once; some "
                 "minutes on a CPU)", path, config.data.frames, config.data.size, config.data.size)
    features.train_feature_network(path, frames=config.data.frames, size=config.data.size)
  extract = features.BuiltinFeatures(path)
  extract.check_clip_shape(config.data.frames, config.data.size)
  return extract


def _untrained_recipe(config):
  """The same model freshly initialized (from the config's seed): the distance's upper reference."""
  keras.utils.set_random_seed(config.seed)
  return recipes.build(config, tf.distribute.get_strategy())


def _embed_next(iterator, videos_of, extract, num_samples):
  """Features of num_samples clips made from the next batches by each fn of `videos_of`."""
  parts = {name: [] for name in videos_of}
  count = 0
  while count < num_samples:
    batch = next(iterator, None)
    if batch is None:
      raise UserError(f"the real data ran out before 2 x {num_samples} clips; lower --num_samples")
    for name, videos in videos_of.items():
      parts[name].append(extract(pipeline.to_uint8_video(videos(batch)).numpy()))
    count += len(batch["video"])
    logging.log_every_n_seconds(logging.INFO, "embedded %d of %d clips per set", 30,
                                min(count, num_samples), num_samples)
  return {name: np.concatenate(features_parts)[:num_samples] for name, features_parts in parts.items()}


def gan_distances(generators, batches, extract, num_samples):
  """Frechet and kernel distances of generated clips, and of real ones, to a reference set of real clips.

  The first num_samples real clips of `batches` are the reference; the next num_samples are both the
  real comparison set (its distance is the floor that sampling noise alone gives) and the inputs of
  the generators (noise and, for a conditional model, the frames it is conditioned on).

  Args:
    generators: {name: fn(batch) -> float videos [batch, frames, size, size, 3] in [-1, 1]}.
    batches: dataset of training_batches-style dicts ("video" in [-1, 1], "noise", "index").
    extract: features of uint8 clips [n, frames, size, size, 3] -> float64 [n, dims].
    num_samples: clips per set, >= 2.

  Returns:
    {"real_vs_real" or a generator's name: {"frechet": float, "kernel": float}}.
  """
  real = lambda batch: batch["video"]
  iterator = iter(batches)
  reference = _embed_next(iterator, {"reference": real}, extract, num_samples)["reference"]
  compared = _embed_next(iterator, {"real_vs_real": real, **generators}, extract, num_samples)
  return {name: {"frechet": frechet.frechet_distance(reference, features_set),
                 "kernel": frechet.kernel_distance(reference, features_set)}
          for name, features_set in compared.items()}


def distance_during_training(config):
  """The built-in distance of a training run's generator, for its eval/ summaries.

  Needs a built-in feature network at config.train.feature_network (`relive evaluate` trains one
  into WORKDIR/feature_network); compares config.train.eval_samples generated clips with as many
  held-out real ones.

  Returns:
    fn(recipe) -> {"frechet", "kernel", "frechet_floor"} (floor: real vs real).
  """
  train, data = config.train, config.data
  if config.model_type not in GAN_MODEL_TYPES:
    raise UserError(f"train.eval_every measures GANs {GAN_MODEL_TYPES}, not {config.model_type!r}")
  path = train.get("feature_network", "")
  if not path or not os.path.isfile(os.path.join(path, features.FEATURE_NETWORK_INFO)):
    raise UserError(f"train.eval_every is {train.eval_every} but train.feature_network ({path!r}) "
                    "holds no built-in feature network: run `relive evaluate` once (it trains one "
                    "into WORKDIR/feature_network) and pass that folder")
  if train.eval_samples < 2:
    raise UserError(f"train.eval_samples is {train.eval_samples}; the distances need at least 2")
  extract = features.BuiltinFeatures(path)
  extract.check_clip_shape(data.frames, data.size)
  real_data = _real_data(config, None)

  def measure(recipe):
    batches = pipeline.training_batches(
        source=real_data["source"], path=real_data.get("path", ""), seed=real_data["seed"],
        frames=data.frames, size=data.size, batch_size=min(16, train.eval_samples),
        noise_dim=recipes.noise_dim(config), split="test")
    distances = gan_distances(
        {"generated": lambda batch: recipe.fake_videos(batch, training=False)[0]}, batches,
        extract, train.eval_samples)
    return {**distances["generated"], "frechet_floor": distances["real_vs_real"]["frechet"]}

  return measure


def format_table(report):
  """The console table of a report returned by evaluate_gan."""
  lines = [f"{report['workdir']} ({report['model_type']}) at step {report['step']}: "
           f"{report['num_samples']} clips per set of {report['frames']}x{report['size']}x"
           f"{report['size']}, {report['features']['description']}",
           f"  {'':<22}{'Frechet':>12}{'kernel':>12}"]
  for key, label in ROWS:
    distances = report["distances"][key]
    lines.append(f"  {label:<22}{distances['frechet']:>12.4g}{distances['kernel']:>12.4g}")
  return "\n".join(lines)


def evaluate_gan(workdir, *, data=None, num_samples=256, i3d=None, feature_network=None,
                 report_path=None, batch_size=16):
  """Distances between a GAN workdir's generated clips and real clips, written as a JSON report.

  Three rows, each against the same reference set of real clips: a second real set (the floor),
  clips of the latest checkpoint, and clips of the same model untrained. The features are the
  built-in network's (trained once into WORKDIR/feature_network when missing) or, with `i3d`, an
  I3D network's, which makes the Frechet distance the FVD of Unterthiner et al. 2018.

  Args:
    workdir: a "vgan" or "cvgan" workdir written by `relive train`.
    data: "synthetic" (held-out clips of data seed config.seed + 1) or a folder of prepared shards
      (its test split); by default the data the workdir was trained on.
    num_samples: clips per set; the real data must give 2 x num_samples.
    i3d: SavedModel directory of an I3D network, or None for the built-in features.
    feature_network: directory of the built-in network (default WORKDIR/feature_network).
    report_path: JSON report path; default WORKDIR/evaluation_<features>_step<step>.json.
    batch_size: clips per generator and feature call.

  Returns:
    The report: workdir, model_type, step, num_samples, frames, size, data, features and
    distances {row: {"frechet": float, "kernel": float}} for the rows real_vs_real, generated and
    untrained_generator; report["path"] is where it was written.
  """
  config = workdir_lib.load_config(workdir)
  if config.model_type not in GAN_MODEL_TYPES:
    raise UserError(f"{workdir!r} holds a {config.model_type!r} model; evaluate_gan takes "
                    f"{GAN_MODEL_TYPES}")
  if num_samples < 2 or batch_size < 1:
    raise UserError(f"--num_samples is {num_samples} and --batch_size {batch_size}; the distances "
                    f"need at least 2 clips per set and batches of at least 1")
  real_data = _real_data(config, data)
  extract = _feature_extractor(workdir, config, i3d, feature_network)
  logging.info("restoring the %s model in %s", config.model_type, workdir)
  config, recipe, step = workdir_lib.restore_trained(workdir)
  untrained = _untrained_recipe(config)
  batches = pipeline.training_batches(
      source=real_data["source"], path=real_data.get("path", ""), seed=real_data["seed"],
      frames=config.data.frames, size=config.data.size, batch_size=batch_size,
      noise_dim=recipes.noise_dim(config), split="test")  # synthetic data ignores the split
  logging.info("embedding %d real, %d real, %d generated and %d untrained clips with %s", num_samples,
               num_samples, num_samples, num_samples, extract.description)
  distances = gan_distances(
      {"generated": lambda batch: recipe.fake_videos(batch, training=False)[0],
       "untrained_generator": lambda batch: untrained.fake_videos(batch, training=False)[0]},
      batches, extract, num_samples)
  report = {
      "workdir": workdir, "model_type": config.model_type, "step": step,
      "num_samples": num_samples, "frames": config.data.frames, "size": config.data.size,
      "data": real_data,
      "features": {"name": extract.name, "description": extract.description},
      "distances": distances,
  }
  report_path = report_path or os.path.join(workdir, f"evaluation_{extract.name}_step{step}.json")
  files.write_json(report_path, report)
  report["path"] = report_path
  return report
