"""What each family shows in the gallery (Family.gallery_section): samples beside real clips."""

import os

import markupsafe
import numpy as np
import tensorflow as tf
from absl import logging

from relive_tf import files
from relive_tf import progress
from relive_tf.data import held_out
from relive_tf.data import pipeline
from relive_tf.evaluation import gan
from relive_tf.gallery import page as page_lib
from relive_tf.inference import generate
from relive_tf.inference import relive
from relive_tf.models import vgan
from relive_tf.training import inputs

# The scores a GAN section shows beside its clips, from the latest `relive evaluate` report.
SCORE_COLUMNS = {
  "digit_score": "digit score",
  "identity_consistency": "identity consistency",
  "motion": "motion",
  "frechet": "Frechet",
}


def held_out_clips(config, count):
  """Real clips the model did not train on (data/held_out.py), as `relive evaluate` draws them:
  the first `count`, or every clip of a smaller test split, each once.

  Returns:
    uint8 [count or fewer, frames, size, size, 3].

  Raises:
    ValueError: the config's shards cannot be read here, or their test split holds no clip.
  """
  clips = [clip for _, clip in inputs.held_out_clips(config).take(count).as_numpy_iterator()]
  if not clips:
    raise ValueError(f"the test split of {config.data.path} holds no clip")
  return np.stack(clips)


def _held_out_or_note(page, config, count, heading):
  """held_out_clips, or None after a note under `heading` saying why they cannot be shown."""
  try:
    return held_out_clips(config, count)
  except ValueError as error:
    page.note(heading, f"Not shown: {error}")
    return None


def _latest_gan_report(trained):
  """(report, path) of the `relive evaluate` report of the latest step in a GAN workdir on the
  run's own held-out clips (not one made with --data on other clips), or None."""
  own = held_out.describe(inputs.held_out_settings(trained.config))
  found = []
  for path in tf.io.gfile.glob(os.path.join(trained.workdir, "evaluation_*.json")):
    try:
      report = files.read_json(path)
      modified = tf.io.gfile.stat(path).mtime_nsec
    except (OSError, ValueError, tf.errors.OpError):
      continue  # the evaluation part of the section says it could not be read
    if isinstance(report, dict) and "distances" in report and report.get("data", own) == own:
      found.append((report.get("step", -1), modified, path, report))
  if not found:
    return None
  *_, path, report = max(found, key=lambda entry: entry[:3])
  return report, path


def _scores(page, trained):
  """The sample scores and Frechet distance of real, generated and untrained clips, from the latest
  `relive evaluate` report, or how to get them."""
  found = _latest_gan_report(trained)
  if found is None:
    page.note(
      None,
      f"No scores yet: `relive evaluate --workdir={trained.workdir}` measures the digit score, "
      "identity consistency, motion and Frechet distance of real and generated clips.",
    )
    return
  report, path = found
  sample = report.get("sample_scores", {})
  distances = report["distances"]
  rows = {
    label: {**(sample.get(scores_key) or {}), "frechet": distances[distance_key]["frechet"]}
    for distance_key, scores_key, label in gan.ROWS
  }
  note = (
    f"Scores from {os.path.basename(path)} (step {report['step']}, {report['num_samples']} clips "
    "per set): the share of frames with a digit, how often the digits stay the same from frame "
    "to frame, the mean change between frames in grey levels, and the Frechet distance to real "
    "clips (docs/metrics.md)."
  )
  if "not_measured" in sample:
    note += f" Sample scores {sample['not_measured']}."
  page.add(
    markupsafe.Markup('<p class="note">{}</p>').format(note)
    + page_lib.table(rows, {}, SCORE_COLUMNS, missing="-")
  )


def _streams(page, generator, count, seed):
  """Rows of video = mask * foreground + (1 - mask) * background, each part shown on its own."""
  noise = tf.random.stateless_normal([count, generator.noise_dim], seed=[seed, 1])
  foreground, mask, background = generator.streams(noise, training=False)
  video = vgan.compose_video(foreground, mask, background)
  video, foreground, background = (
    pipeline.to_uint8_video(x).numpy() for x in (video, foreground, background)
  )
  mask = np.repeat(np.round(np.asarray(mask) * 255).astype(np.uint8), 3, axis=-1)
  page.add(
    '<h3>The two streams</h3><p class="note">Each video is mask &times; foreground + '
    "(1 &minus; mask) &times; background: a moving foreground over a still background.</p>"
  )
  for i in range(count):
    page.add(
      page_lib.grid(
        [
          page.video(f"streams_{i}_video", video[i], "video"),
          page.video(f"streams_{i}_foreground", foreground[i], "foreground"),
          page.video(f"streams_{i}_mask", mask[i], "mask"),
          page.image(f"streams_{i}_background", background[i], "background"),
        ]
      )
    )


def video_wgan(page, trained, num_videos, seed):
  """Videos sampled from a video WGAN beside held-out real clips, with their scores, and the
  generator's two streams."""
  config, generator = trained.config, trained.trainer.sampling_generator
  logging.info(
    "%s: sampling %s at step %d",
    trained.workdir,
    progress.counted(num_videos, "video"),
    trained.step,
  )
  videos = generate.sample_videos(generator, num_videos, seed)
  averaged = " (the moving average of its weights)" if trained.trainer.ema_generator else ""
  page.note(
    "Generated beside real",
    f"{num_videos} videos from noise seed {seed} by the generator at step {trained.step}"
    f"{averaged}, beside held-out clips of the training data ({config.data.source}).",
  )
  columns = [
    ("generated", [page.video(f"sample_{i:02d}", video, f"#{i}") for i, video in enumerate(videos)])
  ]
  clips = _held_out_or_note(page, config, min(num_videos, 4), "Real clips")
  if clips is not None:
    columns.append(
      ("real", [page.video(f"real_{i:02d}", clip, f"real #{i}") for i, clip in enumerate(clips)])
    )
  page.add(page_lib.side_by_side(columns))
  _scores(page, trained)
  if config.model.two_stream:
    _streams(page, generator, min(num_videos, 2), seed)


def conditional_wgan(page, trained, num_videos, seed):
  """Held-out photos, each beside videos a conditional WGAN makes around it and the real clip."""
  config = trained.config
  clips = _held_out_or_note(page, config, num_videos, "Relived photos")
  if clips is None:
    return
  index = trained.trainer.condition_index
  per_photo = 2 if config.model.noise_dim else 1  # with noise, one photo gives several videos
  logging.info(
    "%s: reliving %s at step %d",
    trained.workdir,
    progress.counted(len(clips), "photo"),
    trained.step,
  )
  cards = []
  for i, clip in enumerate(clips):
    photo = clip[index]
    videos = relive.relive_videos(trained.trainer.sampling_generator, photo, per_photo, seed + i)
    tiles = [page.image(f"photo_{i:02d}", photo, "photo")]
    tiles += [
      page.video(f"relived_{i:02d}_{j}", video, "relived") for j, video in enumerate(videos)
    ]
    tiles.append(page.video(f"real_{i:02d}", clip, "real clip"))
    cards.append(
      markupsafe.Markup('<div class="card">{}</div>').format(markupsafe.Markup("").join(tiles))
    )
  page.note(
    "Relived photos",
    f"Frame {index} of {config.data.frames} of held-out "
    f"{config.data.source} clips is the photo; the generator at step "
    f"{trained.step} makes the video around it, shown beside the real "
    "clip.",
  )
  page.add(page_lib.grid(cards))
  _scores(page, trained)


def predictor(page, trained, num_videos, seed):
  """Held-out clips: the context frames, the predictor's rollout after them and the true frames."""
  del seed  # the rollout is deterministic
  config = trained.config
  clips = _held_out_or_note(page, config, num_videos, "Predictions")
  if clips is None:
    return
  context = config.train.context_frames
  future = config.data.frames - context
  logging.info(
    "%s: predicting %d frames after %d at step %d", trained.workdir, future, context, trained.step
  )
  predicted = pipeline.to_uint8_video(
    trained.trainer.predictor.rollout(pipeline.to_float_video(clips[:, :context]), future)
  ).numpy()
  page.note(
    "Predictions",
    f"{context} true frames of held-out {config.data.source} clips are "
    f"given; the predictor at step {trained.step} feeds its own frames back "
    f"for the next {future}.",
  )
  markup = markupsafe.Markup
  for i, (clip, prediction) in enumerate(zip(clips, predicted)):
    strips = markup("").join(
      markup("<tr><th>{}</th><td>{}</td></tr>").format(
        label, page.strip(f"{label}_{i:02d}", frames, label)
      )
      for label, frames in (
        ("context", clip[:context]),
        ("prediction", prediction),
        ("truth", clip[context:]),
      )
    )
    side_by_side = np.concatenate([np.concatenate([clip[:context], prediction]), clip], axis=2)
    page.add(
      markup('<div class="strips"><table>{}</table>{}</div>').format(
        strips, page.video(f"rollout_{i:02d}", side_by_side, f"#{i}: rollout | truth")
      )
    )
