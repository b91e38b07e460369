"""`relive gallery`: a static web page of trained workdirs' videos, training curves and metrics."""

import datetime
import glob
import html
import json
import math
import os
import re
import shutil
import urllib.parse

import numpy as np
import tensorflow as tf
from absl import logging
from PIL import Image
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.util import tensor_util

from relive_tf import evaluate_gan
from relive_tf import evaluate_predictor
from relive_tf import generate
from relive_tf import relive
from relive_tf.data import pipeline
from relive_tf.data import video_io
from relive_tf.errors import UserError
from relive_tf.models import vgan
from relive_tf.training import workdir as workdir_lib

INDEX_FILE = "index.html"
MEDIA_DIR = "media"
# On-page size of a video tile: the 64x64 clips are upscaled with pixelated rendering.
TILE_PIXELS = 128
# Config keys shown in a section's summary when the config has them; the full config is below it.
SUMMARY_KEYS = ("data.source", "data.path", "data.frames", "data.size", "train.num_steps",
                "train.batch_size", "train.loss", "train.optimizer", "train.learning_rate",
                "train.critic_steps", "train.l2_weight", "train.context_frames")


def read_scalars(summary_dir):
  """The scalar curves of a TensorBoard log folder, read from every event file in it.

  A resumed run writes a second event file that repeats the steps after the last checkpoint: the
  later file's value wins. A file still being written may end in a partial record, which is skipped.

  Args:
    summary_dir: a folder of events.out.tfevents.* files (WORKDIR/tb).

  Returns:
    {tag: (steps int64 [n], values float64 [n])}, steps increasing, non-finite values left out.
  """
  curves = {}
  plugins = {}  # tag -> plugin name; TensorFlow may give the metadata on a tag's first value only
  for path in sorted(glob.glob(os.path.join(summary_dir, "events.out.tfevents.*"))):
    for event in event_file_loader.EventFileLoader(path).Load():
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name:
          plugins[value.tag] = value.metadata.plugin_data.plugin_name
        if plugins.get(value.tag) != scalar_metadata.PLUGIN_NAME:
          continue
        number = float(tensor_util.make_ndarray(value.tensor))
        if math.isfinite(number):
          curves.setdefault(value.tag, {})[event.step] = number
  return {tag: (np.array(sorted(points), np.int64), np.array([points[s] for s in sorted(points)]))
          for tag, points in sorted(curves.items())}


def _nice(number):
  return f"{number:.3g}"


def curve_svg(title, steps, values, width=320, height=180):
  """A line plot of one training curve as a standalone SVG document.

  Args:
    title: shown above the plot (a TensorBoard tag).
    steps: int [n], increasing, n >= 1.
    values: float [n].
    width, height: size of the drawing in pixels.

  Returns:
    The SVG text.
  """
  left, right, top, bottom = 56, 12, 26, 24
  plot_width, plot_height = width - left - right, height - top - bottom
  low, high = float(np.min(values)), float(np.max(values))
  if high - low < 1e-12 * max(1.0, abs(high)):
    low, high = low - max(1.0, abs(low)) * 0.05, high + max(1.0, abs(high)) * 0.05
  first, last = int(steps[0]), int(steps[-1])
  span = max(last - first, 1)
  xs = left + (np.asarray(steps) - first) / span * plot_width
  if len(steps) == 1:
    xs = np.array([left + plot_width / 2])
  ys = top + (high - np.asarray(values)) / (high - low) * plot_height
  points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
  parts = [
      f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
      f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
      f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
      f'<text x="{left}" y="16" font-size="12" font-weight="bold" fill="#222">'
      f'{html.escape(title)}</text>',
  ]
  for fraction in (0.0, 0.5, 1.0):
    y = top + fraction * plot_height
    parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                 'stroke="#e3e3e3"/>')
    parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                 f'{_nice(high - fraction * (high - low))}</text>')
  parts.append(f'<text x="{left}" y="{height - 6}" fill="#555">step {first}</text>')
  if last != first:
    parts.append(f'<text x="{width - right}" y="{height - 6}" text-anchor="end" fill="#555">'
                 f'{last}</text>')
  parts.append(f'<polyline points="{points}" fill="none" stroke="#1f6feb" stroke-width="1.5"/>')
  if len(steps) <= 30:  # a short curve is easier to read with its points marked
    parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#1f6feb"/>'
                 for x, y in zip(xs, ys))
  parts.append("</svg>")
  return "\n".join(parts) + "\n"


def _write_file(path, data):
  """Writes bytes or text under a temporary name, then renames it into place."""
  temporary = f"{path}.partial"
  with open(temporary, "wb" if isinstance(data, bytes) else "w") as f:
    f.write(data)
  os.replace(temporary, path)


def _write_png(path, image):
  """uint8 [height, width, 3] -> a PNG file, written under a temporary name, then renamed."""
  temporary = f"{path}.partial.png"
  Image.fromarray(np.asarray(image)).save(temporary)
  os.replace(temporary, path)


class _Page:
  """The HTML of one workdir's section, and where its media go.

  Media are written under SITE/media/<section>/ and referred to relative to index.html, so that the
  site opens from disk and can be copied anywhere.
  """

  def __init__(self, site_dir, media_dir):
    self.site_dir = site_dir
    self.media_dir = media_dir
    self.parts = []

  def path(self, name):
    os.makedirs(self.media_dir, exist_ok=True)
    return os.path.join(self.media_dir, name)

  def url(self, name):
    relative = os.path.relpath(self.path(name), self.site_dir).replace(os.sep, "/")
    return urllib.parse.quote(relative)

  def add(self, text):
    self.parts.append(text)

  def video(self, name, video, caption):
    """Writes uint8 [frames, h, w, 3] as NAME.mp4 and NAME.gif; returns a tile that plays the MP4
    (the page's script swaps in the GIF where the browser cannot play H.264)."""
    video_io.write_video(self.path(f"{name}.mp4"), video)
    video_io.write_video(self.path(f"{name}.gif"), video)
    width = TILE_PIXELS * video.shape[2] // video.shape[1]
    return (f'<figure><video src="{self.url(name + ".mp4")}" data-gif="{self.url(name + ".gif")}" '
            f'width="{width}" height="{TILE_PIXELS}" autoplay loop muted playsinline></video>'
            f'<figcaption>{html.escape(caption)} <a href="{self.url(name + ".gif")}">gif</a> '
            f'<a href="{self.url(name + ".mp4")}">mp4</a></figcaption></figure>')

  def strip(self, name, frames, caption):
    """Writes uint8 [n, h, w, 3] as one PNG, the frames left to right; returns its <img>."""
    _write_png(self.path(f"{name}.png"), _strip(frames))
    return f'<img class="strip" src="{self.url(name + ".png")}" alt="{html.escape(caption)}">'

  def image(self, name, image, caption):
    """Writes uint8 [h, w, 3] as NAME.png; returns its tile."""
    _write_png(self.path(f"{name}.png"), image)
    width = TILE_PIXELS * image.shape[1] // image.shape[0]
    return (f'<figure><img src="{self.url(name + ".png")}" width="{width}" '
            f'height="{TILE_PIXELS}" alt="{html.escape(caption)}">'
            f'<figcaption>{html.escape(caption)}</figcaption></figure>')


def held_out_clips(config, count):
  """Real clips the model did not train on, drawn as `relive evaluate` draws them.

  Args:
    config: a workdir's config: synthetic clips come from data seed config.seed + 1, prepared
      shards from their test split.
    count: number of clips.

  Returns:
    uint8 [count, frames, size, size, 3].

  Raises:
    UserError: the config's shards cannot be read here.
  """
  data = config.data
  offset = evaluate_gan.HELD_OUT_SEED_OFFSET if data.source == "synthetic" else 0
  clips = pipeline.clips(source=data.source, path=data.path, split="test",
                         seed=config.seed + offset, frames=data.frames, size=data.size)
  return np.stack([clip for _, clip in clips.take(count).as_numpy_iterator()])


def _held_out_or_note(page, config, count, heading):
  """held_out_clips, or None after a note under `heading` saying why they cannot be shown."""
  try:
    return held_out_clips(config, count)
  except UserError as error:
    page.add(f'<h3>{heading}</h3><p class="note">Not shown: {html.escape(str(error))}</p>')
    return None


def _real_clips(page, config, count):
  """A row of held-out real clips to compare the samples with."""
  clips = _held_out_or_note(page, config, count, "Real clips")
  if clips is None:
    return
  tiles = [page.video(f"real_{i:02d}", clip, f"real #{i}") for i, clip in enumerate(clips)]
  page.add(f'<h3>Real clips</h3><p class="note">Held-out clips of the training data '
           f'({html.escape(config.data.source)}), for comparison.</p>'
           f'<div class="grid">{"".join(tiles)}</div>')


def _vgan_streams(page, generator, count, seed):
  """Rows of video = mask * foreground + (1 - mask) * background, each part shown on its own."""
  noise = tf.random.stateless_normal([count, generator.noise_dim], seed=[seed, 1])
  foreground, mask, background = generator.streams(noise, training=False)
  video = vgan.compose_video(foreground, mask, background)
  video, foreground, background = (pipeline.to_uint8_video(x).numpy()
                                   for x in (video, foreground, background))
  mask = np.repeat(np.round(np.asarray(mask) * 255).astype(np.uint8), 3, axis=-1)
  rows = []
  for i in range(count):
    rows.append('<div class="grid">'
                + page.video(f"streams_{i}_video", video[i], "video")
                + page.video(f"streams_{i}_foreground", foreground[i], "foreground")
                + page.video(f"streams_{i}_mask", mask[i], "mask")
                + page.image(f"streams_{i}_background", background[i], "background") + "</div>")
  page.add('<h3>The two streams</h3><p class="note">Each video is mask &times; foreground + '
           '(1 &minus; mask) &times; background: a moving foreground over a still background.</p>'
           + "".join(rows))


def _vgan_samples(page, workdir, num_videos, seed):
  """A grid of videos sampled from a video WGAN's latest checkpoint, real clips beside them and the
  two-stream generator's parts."""
  config, recipe, step = workdir_lib.restore_trained(workdir)
  logging.info("%s: sampling %d videos at step %d", workdir, num_videos, step)
  videos = generate.sample_videos(recipe.generator, num_videos, seed)
  tiles = [page.video(f"sample_{i:02d}", video, f"#{i}") for i, video in enumerate(videos)]
  page.add(f'<h3>Generated videos</h3><p class="note">{num_videos} videos from noise seed {seed} '
           f'at step {step}.</p><div class="grid">{"".join(tiles)}</div>')
  _real_clips(page, config, min(num_videos, 4))
  if config.model.two_stream:
    _vgan_streams(page, recipe.generator, min(num_videos, 2), seed)
  return step


def _cvgan_samples(page, workdir, num_videos, seed):
  """Held-out photos, each beside videos a conditional WGAN makes around it and the real clip."""
  config, recipe, step = workdir_lib.restore_trained(workdir)
  clips = _held_out_or_note(page, config, num_videos, "Relived photos")
  if clips is None:
    return step
  index = recipe.condition_index
  per_photo = 2 if config.model.noise_dim else 1  # with noise, one photo gives several videos
  logging.info("%s: reliving %d photos at step %d", workdir, len(clips), step)
  cards = []
  for i, clip in enumerate(clips):
    photo = clip[index]
    videos = relive.relive_videos(recipe.generator, photo, per_photo, seed + i)
    cards.append('<div class="card">' + page.image(f"photo_{i:02d}", photo, "photo")
                 + "".join(page.video(f"relived_{i:02d}_{j}", video, "relived")
                           for j, video in enumerate(videos))
                 + page.video(f"real_{i:02d}", clip, "real clip") + "</div>")
  page.add(f'<h3>Relived photos</h3><p class="note">Frame {index} of {config.data.frames} of '
           f'held-out {html.escape(config.data.source)} clips is the photo; the generator at step '
           f'{step} makes the video around it, shown beside the real clip.</p>'
           f'<div class="grid">{"".join(cards)}</div>')
  return step


def _strip(frames):
  """uint8 [n, h, w, 3] -> one image [h, n * (w + 2) - 2, 3] of the frames left to right."""
  count, height, width, _ = frames.shape
  strip = np.full((height, count * (width + 2) - 2, 3), 255, np.uint8)
  for i, frame in enumerate(frames):
    strip[:, i * (width + 2):i * (width + 2) + width] = frame
  return strip


def _lstm_samples(page, workdir, num_videos, seed):
  """Held-out clips: the context frames, the predictor's rollout after them and the true frames."""
  del seed  # the rollout is deterministic
  config, recipe, step = workdir_lib.restore_trained(workdir)
  clips = _held_out_or_note(page, config, num_videos, "Predictions")
  if clips is None:
    return step
  context = config.train.context_frames
  future = config.data.frames - context
  logging.info("%s: predicting %d frames after %d at step %d", workdir, future, context, step)
  predicted = pipeline.to_uint8_video(
      recipe.predictor.rollout(pipeline.to_float_video(clips[:, :context]), future)).numpy()
  rows = []
  for i, (clip, prediction) in enumerate(zip(clips, predicted)):
    strips = "".join(
        f'<tr><th>{label}</th><td>{page.strip(f"{label}_{i:02d}", frames, label)}</td></tr>'
        for label, frames in (("context", clip[:context]), ("prediction", prediction),
                              ("truth", clip[context:])))
    side_by_side = np.concatenate([np.concatenate([clip[:context], prediction]), clip], axis=2)
    rows.append(f'<div class="strips"><table>{strips}</table>'
                + page.video(f"rollout_{i:02d}", side_by_side, f"#{i}: rollout | truth") + "</div>")
  page.add(f'<h3>Predictions</h3><p class="note">{context} true frames of held-out '
           f'{html.escape(config.data.source)} clips are given; the predictor at step {step} '
           f'feeds its own frames back for the next {future}.</p>' + "".join(rows))
  return step


# config.json's model_type -> fn(page, workdir, num_videos, seed) adding the model's media to the
# page and returning the restored checkpoint's step.
MODEL_SAMPLES = {"vgan": _vgan_samples, "cvgan": _cvgan_samples, "lstm": _lstm_samples}


def _check_workdir(workdir):
  """The config of a workdir that exists and holds files; a UserError otherwise."""
  if not os.path.isdir(workdir):
    raise UserError(f"workdir {workdir!r} does not exist; pass a folder written by `relive train`")
  if not os.listdir(workdir):
    raise UserError(f"workdir {workdir!r} is empty; train it first (`relive train "
                    f"--config=... --workdir={workdir}`)")
  return workdir_lib.load_config(workdir)


def _checkpoint_step(workdir):
  """The step of the latest checkpoint, from its name (the loop saves ckpt-STEP), or None."""
  directory = os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)
  latest = tf.train.latest_checkpoint(directory) if os.path.isdir(directory) else None
  return None if latest is None else int(latest.rsplit("-", 1)[1])


def _config_summary(config):
  """(key, value) rows: the model type, every model.* setting and the main data and train ones."""
  flat = {}

  def flatten(prefix, node):
    for key, value in node.items():
      if hasattr(value, "items"):
        flatten(f"{prefix}{key}.", value)
      else:
        flat[f"{prefix}{key}"] = value

  flatten("", config)
  keys = [key for key in flat if key.startswith("model.")] + list(SUMMARY_KEYS)
  # Keys the model type lacks, and empty ones (data.path of synthetic data), are left out.
  return [(key, ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value)
          for key, value in ((key, flat.get(key, "")) for key in keys) if value != ""]


def _curves(page, workdir):
  """An SVG plot per scalar tag of the workdir's TensorBoard events."""
  summary_dir = os.path.join(workdir, workdir_lib.SUMMARY_DIR)
  curves = read_scalars(summary_dir) if os.path.isdir(summary_dir) else {}
  if not curves:
    page.add('<h3>Training curves</h3><p class="note">No scalar summaries in '
             f'{html.escape(summary_dir)} yet.</p>')
    return
  tiles = []
  for tag, (steps, values) in curves.items():
    name = "curve_" + re.sub(r"[^A-Za-z0-9]+", "_", tag).strip("_") + ".svg"
    _write_file(page.path(name), curve_svg(tag, steps, values))
    tiles.append(f'<img class="curve" src="{page.url(name)}" alt="{html.escape(tag)}">')
  page.add(f'<h3>Training curves</h3><div class="grid">{"".join(tiles)}</div>')


def _table(rows, row_labels, column_labels):
  """An HTML table of {row: {column: number}}; JSON's null (an infinite PSNR) shows as inf."""
  head = "".join(f"<th>{html.escape(label)}</th>" for label in column_labels.values())
  body = "".join(
      f"<tr><th>{html.escape(row_labels.get(row, row))}</th>"
      + "".join(f"<td>{'inf' if values.get(column) is None else _nice(values[column])}</td>"
                for column in column_labels) + "</tr>"
      for row, values in rows.items())
  return f'<table class="metrics"><tr><th></th>{head}</tr>{body}</table>'


def _report_html(page, path, report):
  """The table of one `relive evaluate` report: a GAN's distances or a predictor's mean errors, with
  the predictor's per-horizon plots (found beside the report) copied into the site."""
  name = html.escape(os.path.basename(path))
  if "distances" in report:
    features = html.escape(report["features"]["description"])
    return (f'<p class="note">{name}: step {report["step"]}, {report["num_samples"]} clips per '
            f'set, {features}.</p>' + _table(report["distances"], dict(evaluate_gan.ROWS),
                                       {"frechet": "Frechet", "kernel": "kernel"}))
  if "mean" in report:
    metrics = {key: label for key, label, _ in evaluate_predictor.METRICS}
    stem = path[:-len(".json")]
    plots = []
    for metric in metrics:
      plot = f"{stem}_{metric}.png"
      if os.path.isfile(plot):
        copy = f"{os.path.basename(stem)}_{metric}.png"
        shutil.copyfile(plot, page.path(copy) + ".partial")
        os.replace(page.path(copy) + ".partial", page.path(copy))
        plots.append(f'<img class="plot" src="{page.url(copy)}" '
                     f'alt="{html.escape(metrics[metric])}">')
    return (f'<p class="note">{name}: step {report["step"]}, {report["num_clips"]} held-out clips, '
            f'{report["context"]} context frames, {report["future"]} predicted; the mean over '
            'the predicted frames.</p>'
            + _table(report["mean"], dict(evaluate_predictor.METHODS), metrics)
            + f'<div class="grid">{"".join(plots)}</div>')
  return f'<p class="note">{name}: not a report of `relive evaluate`; left out.</p>'


def _evaluations(page, workdir):
  """Every evaluation_*.json report written by `relive evaluate` in the workdir."""
  paths = sorted(glob.glob(os.path.join(workdir, "evaluation_*.json")))
  if not paths:
    page.add('<h3>Evaluation</h3><p class="note">No report yet: `relive evaluate '
             f'--workdir={html.escape(workdir)}` writes one.</p>')
    return
  page.add("<h3>Evaluation</h3>")
  for path in paths:
    try:
      with open(path) as f:
        page.add(_report_html(page, path, json.load(f)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
      page.add(f'<p class="note">{html.escape(os.path.basename(path))} could not be read: '
               f'{html.escape(repr(error))}</p>')


def _section(site_dir, index, workdir, config, num_videos, seed):
  """The HTML <section> of one workdir."""
  slug = re.sub(r"[^A-Za-z0-9_-]+", "_", os.path.basename(os.path.normpath(workdir))) or "workdir"
  page = _Page(site_dir, os.path.join(site_dir, MEDIA_DIR, f"{index:02d}_{slug}"))
  model_type = config.model_type
  step = _checkpoint_step(workdir)
  if step is None:
    page.add('<p class="warning">No checkpoint yet: train this workdir first (`relive train '
             f'--workdir={html.escape(workdir)} ...`); there is nothing to sample.</p>')
  elif model_type not in MODEL_SAMPLES:
    page.add(f'<p class="warning">The gallery shows no samples of {html.escape(model_type)} '
             f'models; it knows {", ".join(sorted(MODEL_SAMPLES))}.</p>')
  else:
    step = MODEL_SAMPLES[model_type](page, workdir, num_videos, seed)
  _curves(page, workdir)
  _evaluations(page, workdir)

  summary = "".join(f"<div><dt>{html.escape(key)}</dt><dd>{html.escape(str(value))}</dd></div>"
                    for key, value in _config_summary(config))
  full_config = html.escape(json.dumps(json.loads(config.to_json_best_effort()), indent=2))
  step_text = "no checkpoint" if step is None else f"step {step}"
  return (f'<section id="run-{index}"><h2>{html.escape(slug)} <span class="badge">'
          f'{html.escape(model_type)}</span> <span class="step">{step_text}</span></h2>'
          f'<p class="path">{html.escape(os.path.abspath(workdir))}</p>'
          f'<dl class="config">{summary}</dl>'
          f'<details><summary>full config</summary><pre>{full_config}</pre></details>'
          + "".join(page.parts) + "</section>")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px;
       color: #1d1d1f; background: #f6f7f9; }
h1 { margin-bottom: 4px; } h3 { margin: 22px 0 8px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 4px 20px 16px;
          margin: 20px 0; }
.badge { font-size: 0.6em; background: #1f6feb; color: #fff; border-radius: 4px; padding: 2px 6px;
         vertical-align: middle; }
.step { font-size: 0.6em; color: #555; font-weight: normal; vertical-align: middle; }
.path, .note { color: #555; font-size: 0.9em; }
.warning { background: #fff4e5; border: 1px solid #f0c36d; border-radius: 4px; padding: 8px 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; text-align: center; font-size: 0.8em; color: #555; }
video, figure img { image-rendering: pixelated; background: #000; display: block; }
img.curve, img.plot { border: 1px solid #e3e3e3; }
img.plot { width: 480px; height: auto; }
.card { display: flex; gap: 6px; padding: 6px; border: 1px solid #eee; border-radius: 6px; }
.strips { display: flex; gap: 16px; align-items: center; margin: 8px 0; }
.strips th { font-weight: 600; font-size: 0.85em; padding-right: 8px; text-align: right; }
img.strip { image-rendering: pixelated; height: 64px; max-width: 760px; object-fit: contain;
            object-position: left; display: block; }
table { border-collapse: collapse; font-size: 0.9em; }
dl.config { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
            gap: 0 24px; font-size: 0.9em; margin: 8px 0; }
dl.config div { display: flex; justify-content: space-between; border-bottom: 1px solid #eee; }
dl.config dt { font-weight: 600; } dl.config dd { margin: 0; }
table.metrics th, table.metrics td {
  border-bottom: 1px solid #eee; padding: 2px 10px 2px 0; text-align: left; }
table.metrics td { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f3f3f3; padding: 8px; overflow: auto; font-size: 0.8em; }
nav a { margin-right: 12px; }
"""

# Browsers without H.264 play the GIF instead; an error may come before the script runs.
_SCRIPT = """
function useGif(video) {
  const image = document.createElement("img");
  image.src = video.dataset.gif;
  image.width = video.width;
  image.height = video.height;
  video.replaceWith(image);
}
for (const video of document.querySelectorAll("video[data-gif]")) {
  if (video.error) useGif(video); else video.addEventListener("error", () => useGif(video));
}
"""


def build_gallery(workdirs, out_dir, num_videos=8, seed=0):
  """Writes a static web page of trained workdirs: OUT_DIR/index.html with its media beside it.

  Per workdir: the model type, a config summary and the checkpoint's step; what its latest
  checkpoint makes, as H.264 MP4 and animated GIF: sampled videos beside held-out real clips and the
  two streams (vgan), held-out photos beside the videos made around them (cvgan), or context /
  prediction / truth strips (lstm); the TensorBoard scalar curves as SVG plots; the `relive
  evaluate` reports found in it. The page loads nothing from the network.

  Args:
    workdirs: workdirs written by `relive train`; a workdir without a checkpoint yet gets a note.
    out_dir: the site folder: new, empty, or a gallery built before (its media are replaced).
    num_videos: per workdir, videos sampled (vgan), photos relived (cvgan) or clips continued
      (lstm).
    seed: noise seed of the sampled videos.

  Returns:
    The path of index.html.
  """
  if not workdirs:
    raise UserError("no workdir given: pass --workdir=DIR (repeat it to show several)")
  if num_videos <= 0:
    raise UserError(f"--num is {num_videos}; ask for at least one video per workdir")
  configs = [_check_workdir(workdir) for workdir in workdirs]
  index_path = os.path.join(out_dir, INDEX_FILE)
  if os.path.exists(out_dir) and not os.path.isdir(out_dir):
    raise UserError(f"--out={out_dir!r} is a file; pass a folder")
  if os.path.isdir(out_dir) and os.listdir(out_dir) and not os.path.isfile(index_path):
    raise UserError(f"--out={out_dir!r} holds other files and no {INDEX_FILE}; pass a new or empty "
                    "folder, or one that holds a gallery built before")
  shutil.rmtree(os.path.join(out_dir, MEDIA_DIR), ignore_errors=True)
  os.makedirs(out_dir, exist_ok=True)

  sections = []
  for index, (workdir, config) in enumerate(zip(workdirs, configs)):
    logging.info("gallery: %s", workdir)
    sections.append(_section(out_dir, index, workdir, config, num_videos, seed))
  nav = "".join(f'<a href="#run-{i}">{html.escape(os.path.basename(os.path.normpath(w)))}</a>'
                for i, w in enumerate(workdirs))
  built = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
  page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
          f'<meta name="viewport" content="width=device-width, initial-scale=1">'
          f'<link rel="icon" href="data:,">'
          f'<title>relive_tf gallery</title><style>{_STYLE}</style></head><body>'
          f'<h1>relive_tf gallery</h1>'
          f'<p class="note">{len(workdirs)} workdir(s), built {built}.</p>'
          f'<nav>{nav}</nav>{"".join(sections)}<script>{_SCRIPT}</script></body></html>\n')
  _write_file(index_path, page)
  return index_path
