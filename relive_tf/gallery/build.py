"""`relive gallery`: one section per workdir (its family's media, curves, config, evaluations)."""

import json
import os
import re
import shutil
import uuid

import markupsafe
import tensorflow as tf
from absl import logging

from relive_tf import files
from relive_tf import limits
from relive_tf.evaluation import gan
from relive_tf.evaluation import predictor
from relive_tf.evaluation import scores as scores_lib
from relive_tf.gallery import charts
from relive_tf.gallery import events
from relive_tf.gallery import page as page_lib
from relive_tf.training import checkpoints
from relive_tf.training import shipped
from relive_tf.training import workdir as workdir_lib

# The hidden folder a rebuild makes its media in, beside the site's media; with _REPLACED after
# its name, the old media while the new ones move in.
_UNFINISHED = ".media-unfinished-"
_REPLACED = "-replaced"

# Config keys shown in a section's summary when the config has them; the full config is below it.
SUMMARY_KEYS = (
  "data.source",
  "data.path",
  "data.frames",
  "data.size",
  "train.num_steps",
  "train.batch_size",
  "train.loss",
  "train.optimizer",
  "train.learning_rate",
  "train.critic_steps",
  "train.l2_weight",
  "train.context_frames",
)


def _check_workdir(workdir, families):
  """The config and family of a workdir that exists and holds files."""
  if not tf.io.gfile.isdir(workdir):
    what = "is a file" if tf.io.gfile.exists(workdir) else "does not exist"
    raise ValueError(f"workdir {workdir!r} {what}; pass a folder written by `relive train`")
  if not tf.io.gfile.listdir(workdir):
    raise ValueError(f"workdir {workdir!r} is empty; train it first (`relive train`)")
  return workdir_lib.load_config(workdir, families, "the gallery")


def _config_summary(config):
  """(key, value) rows: every model.* setting and the main data and train ones."""
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
  return [
    (key, ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value)
    for key, value in ((key, flat.get(key, "")) for key in keys)
    if value != ""
  ]


def _curves(page, workdir):
  """A chart per scalar tag of the workdir's TensorBoard events."""
  summary_dir = os.path.join(workdir, workdir_lib.SUMMARY_DIR)
  curves = events.read_scalars(summary_dir) if tf.io.gfile.isdir(summary_dir) else {}
  if not curves:
    page.note("Training curves", f"No scalar summaries in {summary_dir} yet.")
    return
  tiles = []
  for tag, (steps, values) in curves.items():
    name = "curve_" + re.sub(r"[^A-Za-z0-9]+", "_", tag).strip("_") + ".svg"
    tiles.append(page.chart(name, charts.line_chart_svg(tag, steps, {tag: values}), tag))
  page.add(markupsafe.Markup("<h3>Training curves</h3>") + page_lib.grid(tiles))


def _gan_report_html(page, name, stem, report):
  """A GAN report's table (distances, and the sample scores where measured) and, for a conditional
  model, charts of the sample scores at each distance from the photo."""
  markup = markupsafe.Markup
  note = (
    f"{name}: step {report['step']}, {report['num_samples']} clips per set, "
    f"{report['features']['description']}."
  )
  sample = report.get("sample_scores", {})
  columns = {"frechet": "Frechet", "kernel": "kernel"}
  rows = {label: dict(report["distances"][distance_key]) for distance_key, _, label in gan.ROWS}
  if "not_measured" in sample:
    note += f" Sample scores {sample['not_measured']}."
  elif sample:
    columns.update(scores_lib.SCORES)
    for _, scores_key, label in gan.ROWS:
      rows[label].update(sample[scores_key])
    note += f" Sample scores by the {report['digit_recognizer']}."
  html = markup('<p class="note">{}</p>').format(note) + page_lib.table(
    rows, {}, columns, missing="-"
  )
  by_distance = report.get("by_distance_from_photo")
  if by_distance:
    plots = [
      page.chart(
        f"{stem}_{score}_by_distance.svg",
        charts.line_chart_svg(
          f"{label} by distance from the photo, step {report['step']}",
          by_distance["distance"],
          {"real": by_distance["real"][score], "generated": by_distance["generated"][score]},
          x_label="frames from the photo",
          width=480,
          height=300,
        ),
        f"{label} by distance from the photo",
        css_class="plot",
      )
      for score, label in scores_lib.SCORES
    ]
    html += page_lib.grid(plots)
  return html


def _horizon_chart(page, stem, report, key, label, values_of, methods):
  """A chart of one metric of a predictor report at each horizon, a line per method."""
  return page.chart(
    f"{stem}_{key}.svg",
    charts.line_chart_svg(
      f"{label} at each horizon, step {report['step']}",
      report["horizons"],
      {title: values_of[method][key] for method, title in methods},
      x_label="frames after the context",
      width=480,
      height=300,
    ),
    label,
    css_class="plot",
  )


def _report_html(page, path, report):
  """The table of one `relive evaluate` report: a GAN's distances and sample scores, or a
  predictor's mean errors with a chart per metric and per sample score over the horizons."""
  name = os.path.basename(path)
  stem = name[: -len(".json")]
  markup = markupsafe.Markup
  if "distances" in report:
    return _gan_report_html(page, name, stem, report)
  if "mean" in report:
    metrics = dict(predictor.METRICS)
    plots = [
      _horizon_chart(page, stem, report, metric, label, report["metrics"], predictor.METHODS)
      for metric, label in metrics.items()
    ]
    note = (
      f"{name}: step {report['step']}, {report['num_clips']} held-out clips, "
      f"{report['context']} context frames, {report['future']} predicted; the mean over the "
      "predicted frames."
    )
    sample = report.get("sample_scores", {})
    if "not_measured" in sample:
      note += f" Sample scores {sample['not_measured']}."
    elif sample:
      note += f" Sample scores at each horizon by the {report['digit_recognizer']}."
      plots += [
        _horizon_chart(page, stem, report, score, label, sample, predictor.SCORED)
        for score, label in scores_lib.SCORES
      ]
    return (
      markup('<p class="note">{}</p>').format(note)
      + page_lib.table(report["mean"], dict(predictor.METHODS), metrics)
      + page_lib.grid(plots)
    )
  return markup('<p class="note">{}: not a report of `relive evaluate`; left out.</p>').format(name)


def _evaluations(page, workdir):
  """Every evaluation_*.json report written by `relive evaluate` in the workdir."""
  paths = sorted(tf.io.gfile.glob(os.path.join(workdir, "evaluation_*.json")))
  if not paths:
    # A shipped model's default report path is refused (evaluation/scores.py).
    report = " --report=PATH" if workdir_lib.is_shipped(workdir) else ""
    page.note(
      "Evaluation", f"No report yet: `relive evaluate --workdir={workdir}{report}` writes one."
    )
    return
  page.add("<h3>Evaluation</h3>")
  for path in paths:
    try:
      page.add(_report_html(page, path, files.read_json(path)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
      page.note(None, f"{os.path.basename(path)} could not be read: {error!r}")


def _section(media_dir, index, workdir, config, family, num_videos, seed):
  """The template's fields of one workdir's <section>, its media written under media_dir."""
  slug = re.sub(r"[^A-Za-z0-9_-]+", "_", os.path.basename(os.path.normpath(workdir))) or "workdir"
  folder = f"{index:02d}_{slug}"
  page = page_lib.Page(os.path.join(media_dir, folder), f"{page_lib.MEDIA_DIR}/{folder}")
  # Listed once for both uses, so that a missing state file is warned about once; a shipped model
  # has no checkpoints (checkpoints.restore reads its weights).
  shipped_model = workdir_lib.is_shipped(workdir)
  directory = os.path.join(workdir, workdir_lib.CHECKPOINT_DIR)
  paths = [] if shipped_model else checkpoints.checkpoint_prefixes(directory)
  # The loop saves ckpt-STEP.
  step = int(paths[-1].rsplit("-", 1)[1]) if paths else None
  running = files.holder(workdir) if step is None and not shipped_model else None
  if running:
    logging.warning("gallery: %s has no checkpoint yet; %s is training it", workdir, running)
    page.add(
      markupsafe.Markup(
        '<p class="warning">No checkpoint yet: {} is training this workdir; build the gallery '
        "again after its first checkpoint.</p>"
      ).format(running)
    )
  elif step is None and not shipped_model:
    logging.warning(
      "gallery: %s has no checkpoint yet; its section says to train it first", workdir
    )
    page.add(
      markupsafe.Markup(
        '<p class="warning">No checkpoint yet: train this workdir first (`relive train '
        "--workdir={}`); there is nothing to sample.</p>"
      ).format(workdir)
    )
  elif family.gallery_section is None:
    page.add(
      markupsafe.Markup('<p class="warning">The gallery shows no samples of {} models.</p>').format(
        family.title
      )
    )
  else:
    trained = checkpoints.restore(workdir, config, family, paths)
    family.gallery_section(page, trained, num_videos, seed)
    step = trained.step
  if shipped_model:
    # The package's own model is described in docs/results.md; one shipped elsewhere is not.
    own = files.same_file(workdir, shipped.VGAN_TINY)
    page.note(
      "Training curves",
      f"Shipped with relive_tf: the sampling generator of a `relive train` run at step {step}, "
      f"without its TensorBoard logs{' (docs/results.md shows that run)' if own else ''}.",
    )
  else:
    _curves(page, workdir)
  _evaluations(page, workdir)
  return {
    "index": index,
    "name": os.path.basename(os.path.normpath(workdir)),
    "slug": slug,
    "model_type": config.model_type,
    "step_text": "no checkpoint" if step is None else f"step {step}",
    "path": files.absolute(workdir),
    "summary": _config_summary(config),
    "full_config": json.dumps(json.loads(config.to_json_best_effort()), indent=2),
    "body": page.body(),
  }


def build_gallery(workdirs, out_dir, families, num_videos=8, seed=0):
  """Writes a static web page of trained workdirs: OUT_DIR/index.html with its media beside it.

  Per workdir: the model type, a config summary and the checkpoint's step; what its family's
  gallery section shows of the latest checkpoint (sampled videos beside held-out real clips and
  the two streams, relived photos, or context / prediction / truth strips), as H.264 MP4 and
  animated GIF; the TensorBoard scalar curves as SVG charts; the `relive evaluate` reports found in
  it. The page loads nothing from the network.

  Args:
    workdirs: workdirs written by `relive train`; a workdir without a checkpoint yet gets a note.
    out_dir: the site folder: new, empty, or a gallery built before (its media are replaced).
    families: the registered Families (relive_tf/families.py).
    num_videos: per workdir, videos sampled, photos relived or clips continued (1 to
      limits.GALLERY_VIDEOS).
    seed: noise seed of the sampled videos.

  Returns:
    The path of index.html.

  Raises:
    ValueError: no workdir, num_videos outside 1..limits.GALLERY_VIDEOS, a missing, empty or
      unknown workdir, one given twice, or an out_dir that holds other files.
  """
  if not workdirs:
    raise ValueError("no workdir given: pass one or more workdirs")
  if not 1 <= num_videos <= limits.GALLERY_VIDEOS:
    raise ValueError(
      f"num is {num_videos}; ask for 1 to {limits.GALLERY_VIDEOS} videos per workdir"
    )
  for later, workdir in enumerate(workdirs):
    twin = next((other for other in workdirs[:later] if files.same_file(other, workdir)), None)
    if twin is not None:
      raise ValueError(
        f"workdir {workdir!r} is given twice (also as {twin!r}); give each workdir once"
      )
  loaded = [_check_workdir(workdir, families) for workdir in workdirs]
  if tf.io.gfile.exists(out_dir) and not tf.io.gfile.isdir(out_dir):
    raise ValueError(f"out {out_dir!r} is a file; pass a folder")
  if tf.io.gfile.isdir(out_dir):
    names = tf.io.gfile.listdir(out_dir)
    # Hidden names (the lock, a rebuild's unfinished media) do not make it someone else's folder.
    if page_lib.INDEX_FILE not in names and [name for name in names if not name.startswith(".")]:
      raise ValueError(
        f"out {out_dir!r} holds other files and no {page_lib.INDEX_FILE}; pass a new "
        "or empty folder, or one that holds a gallery built before"
      )
    index = os.path.join(out_dir, page_lib.INDEX_FILE)
    if page_lib.INDEX_FILE in names and not page_lib.is_gallery_index(index):
      raise ValueError(
        f"out {out_dir!r} holds an {page_lib.INDEX_FILE} that `relive gallery` did not write, "
        "which a build would replace with its media/; pass a new or empty folder"
      )
    _check_no_workdir_in_media(out_dir)
  with files.exclusive_use(out_dir, "relive gallery"):
    return _build_site(out_dir, workdirs, loaded, num_videos, seed)


def _check_no_workdir_in_media(out_dir):
  """Refuses to rebuild a site whose media/ holds a training workdir (trained there before
  `relive train` refused such folders): the rebuild replaces media/ whole."""
  media = os.path.join(out_dir, page_lib.MEDIA_DIR)
  if not tf.io.gfile.isdir(media):
    return
  for folder, _, _ in tf.io.gfile.walk(media):
    if workdir_lib.is_workdir(folder):
      raise ValueError(
        f"{folder!r} is a training workdir, which rebuilding the gallery in {out_dir!r} would "
        "delete with the old media; move it out first, or pass another --out"
      )


def _build_site(out_dir, workdirs, loaded, num_videos, seed):
  """Makes every section's media in a hidden folder, then swaps it for the old media and writes
  index.html: a gallery built before stays whole until the new one is (an interrupted rebuild, or
  a workdir whose checkpoint turns out damaged, leaves it as it was). A remote site, whose folders
  cannot be renamed at once, is rebuilt in place."""
  media_dir = os.path.join(out_dir, page_lib.MEDIA_DIR)
  if files.is_remote(out_dir):
    if tf.io.gfile.isdir(media_dir):
      tf.io.gfile.rmtree(media_dir)
    return page_lib.write_index(out_dir, _sections(media_dir, workdirs, loaded, num_videos, seed))
  _recover(out_dir, media_dir)
  staging = os.path.join(out_dir, f"{_UNFINISHED}{uuid.uuid4().hex[:8]}")
  replaced = f"{staging}{_REPLACED}"
  try:
    os.makedirs(staging)
    sections = _sections(staging, workdirs, loaded, num_videos, seed)
    if os.path.isdir(media_dir):
      os.rename(media_dir, replaced)
    try:
      os.rename(staging, media_dir)
      return page_lib.write_index(out_dir, sections)
    except BaseException:  # the old media go back beside the old index.html; the new are deleted
      if os.path.isdir(media_dir):
        os.rename(media_dir, staging)
      if os.path.isdir(replaced):
        os.rename(replaced, media_dir)
      raise
  finally:
    for folder in (staging, replaced):
      if os.path.isdir(folder):
        shutil.rmtree(folder)


def _sections(media_dir, workdirs, loaded, num_videos, seed):
  """Each workdir's section, its media written under media_dir."""
  sections = []
  for index, (workdir, (config, family)) in enumerate(zip(workdirs, loaded)):
    logging.info("gallery: %s", workdir)
    sections.append(_section(media_dir, index, workdir, config, family, num_videos, seed))
  return sections


def _recover(out_dir, media_dir):
  """Deletes what a rebuild killed mid-way (SIGKILL) left; the old media go back first if it was
  killed between moving them aside and moving the new ones in."""
  leftovers = sorted(name for name in os.listdir(out_dir) if name.startswith(_UNFINISHED))
  aside = [name for name in leftovers if name.endswith(_REPLACED)]
  if aside and not os.path.isdir(media_dir):
    os.rename(os.path.join(out_dir, aside[0]), media_dir)
    leftovers.remove(aside[0])
  for name in leftovers:
    shutil.rmtree(os.path.join(out_dir, name))
