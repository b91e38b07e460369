"""Tests of `relive gallery`: the static page, its media, and how it looks in headless Chromium."""

import html.parser
import os
import pathlib
import re
import shutil
import subprocess
import types
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from relive_tf import families
from relive_tf import files
from relive_tf.evaluation import evaluator
from relive_tf.evaluation import predictor
from relive_tf.gallery import build
from relive_tf.gallery import charts
from relive_tf.gallery import events
from relive_tf.gallery import page
from relive_tf.gallery import sections
from relive_tf.metrics import feature_network

import helpers

_FRAMES, _SIZE, _STEPS, _NUM_VIDEOS = 16, 32, 2, 3
_LSTM_FRAMES, _LSTM_CONTEXT = 6, 3
_REPO = helpers.REPO
_CHROMIUM = "/usr/bin/chromium"
_CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
]


# The tiny variants at 32x32, trained for two steps of batch 2 (one critic update per step).
TINY = dict(
  data__frames=_FRAMES,
  data__size=_SIZE,
  train__num_steps=_STEPS,
  train__batch_size=2,
  train__num_samples=2,
)
GAN = dict(TINY, train__critic_steps=1)
LSTM = dict(TINY, data__frames=_LSTM_FRAMES, train__context_frames=_LSTM_CONTEXT)


@pytest.fixture(scope="module")
def workdirs(trained_workdir, tmp_path_factory, small_digit_recognizer):
  """Tiny vgan, cvgan and lstm workdirs trained for two steps, with `relive evaluate` reports for
  each, and a workdir holding only a config (no checkpoint saved yet)."""
  paths = {
    "vgan": trained_workdir("vgan", **GAN),
    "cvgan": trained_workdir("cvgan", **GAN),
    "lstm": trained_workdir("lstm", **LSTM),
  }
  features_dir = str(tmp_path_factory.mktemp("features"))
  feature_network.train_feature_network(
    features_dir,
    frames=_FRAMES,
    size=_SIZE,
    width=4,
    embedding_dim=8,
    num_steps=1,
    batch_size=2,
    eval_clips=2,
  )
  gan_options = dict(
    num_samples=4,
    batch_size=2,
    feature_network=features_dir,
    digit_recognizer=small_digit_recognizer,
  )
  reports = {
    "vgan": evaluator.evaluate(paths["vgan"], families.FAMILIES.values(), **gan_options)[0],
    "cvgan": evaluator.evaluate(paths["cvgan"], families.FAMILIES.values(), **gan_options)[0],
    "lstm": evaluator.evaluate(
      paths["lstm"],
      families.FAMILIES.values(),
      future=_LSTM_FRAMES - _LSTM_CONTEXT,
      num_samples=2,
      batch_size=2,
      digit_recognizer=small_digit_recognizer,
    )[0],
  }
  paths["untrained"] = str(tmp_path_factory.mktemp("not_started"))
  shutil.copy(os.path.join(paths["vgan"], "config.json"), paths["untrained"])
  return {**paths, "reports": reports}


def _build(workdirs, out_dir, **options):
  return build.build_gallery(
    [str(workdir) for workdir in workdirs], str(out_dir), families.FAMILIES.values(), **options
  )


_ORDER = ("vgan", "cvgan", "lstm", "untrained")


@pytest.fixture(scope="module")
def site(workdirs, tmp_path_factory):
  """The gallery of all four workdirs: (path of index.html, its text)."""
  out_dir = str(tmp_path_factory.mktemp("site"))
  index = _build([workdirs[kind] for kind in _ORDER], out_dir, num_videos=_NUM_VIDEOS)
  return index, pathlib.Path(index).read_text()


def _section(text, kind):
  """The HTML of one workdir's section (sections are numbered in _ORDER)."""
  start = text.index(f'<section id="run-{_ORDER.index(kind)}"')
  return text[start : text.index("</section>", start)]


def _media(index, kind):
  """The media folder of one workdir's section."""
  return next((pathlib.Path(index).parent / "media").glob(f"{_ORDER.index(kind):02d}_*"))


def _png(path):
  return np.asarray(Image.open(path).convert("RGB"))


class _Links(html.parser.HTMLParser):
  """Every src, href and data-gif attribute of a page."""

  def __init__(self):
    super().__init__()
    self.urls = []

  def handle_starttag(self, tag, attrs):
    self.urls.extend(value for name, value in attrs if name in ("src", "href", "data-gif"))


def _page_files(index, text):
  """The local files a page refers to, and the references that are not local files."""
  parser = _Links()
  parser.feed(text)
  files, others = [], []
  for url in parser.urls:
    if url.startswith("#") or url == "data:,":
      continue
    if ":" in url or url.startswith("/"):
      others.append(url)
    else:
      files.append(pathlib.Path(index).parent / url)
  return files, others


def test_gallery_refers_only_to_media_files_beside_the_page(site):
  index, text = site
  files, others = _page_files(index, text)
  assert others == []
  assert files and all(path.is_file() for path in files)
  assert all(pathlib.Path(index).parent / "media" in path.parents for path in files)


def test_gallery_writes_each_sampled_video_as_h264_mp4_and_animated_gif(site):
  index, _ = site
  samples = sorted(_media(index, "vgan").glob("sample_*"))
  assert [path.name for path in samples] == [
    f"sample_{i:02d}.{ext}" for i in range(_NUM_VIDEOS) for ext in ("gif", "mp4")
  ]
  for path in samples:
    data = path.read_bytes()
    if path.suffix == ".mp4":
      assert b"avc1" in data  # the H.264 sample entry
    else:
      assert data.startswith(b"GIF89a") and b"NETSCAPE2.0" in data  # a looping animation


def test_gallery_shows_model_type_config_step_curves_and_gan_distances(site, workdirs):
  _, text = site
  section = _section(text, "vgan")
  assert f'<span class="badge">vgan</span> <span class="step">step {_STEPS}</span>' in section
  assert "<dt>model.generator_widths</dt><dd>64, 32, 16, 8</dd>" in section
  assert "<dt>train.critic_steps</dt><dd>1</dd>" in section
  for tag in ("critic_loss", "generator_loss", "r1_penalty"):
    assert f"curve_train_{tag}.svg" in section
  distances = workdirs["reports"]["vgan"]["distances"]
  assert "<th>real (floor/ceiling)</th>" in section and "<th>untrained generator</th>" in section
  assert f"<td>{distances['generated']['frechet']:.3g}</td>" in section


def test_vgan_section_shows_generated_beside_real_clips_with_their_scores(site, workdirs):
  _, text = site
  section = _section(text, "vgan")
  versus = section[section.index('<div class="versus">') :]
  assert versus.index("<h4>generated</h4>") < versus.index("sample_00.mp4")
  assert versus.index("<h4>real</h4>") < versus.index("real_00.mp4")
  scores = workdirs["reports"]["vgan"]["sample_scores"]
  table = section[section.index("Scores from evaluation_builtin_step") :]
  for header in ("digit score", "identity consistency", "motion", "Frechet"):
    assert f"<th>{header}</th>" in table
  assert f"<td>{scores['real']['motion']:.3g}</td>" in table
  assert f"<td>{scores['generated']['digit_score']:.3g}</td>" in table


def test_cvgan_report_charts_the_sample_scores_by_distance_from_the_photo(site):
  index, text = site
  section, media = _section(text, "cvgan"), _media(index, "cvgan")
  assert "Scores from evaluation_builtin_step" in section
  for score in ("digit_score", "identity_consistency", "motion"):
    chart = ElementTree.parse(media / f"evaluation_builtin_step{_STEPS}_{score}_by_distance.svg")
    assert len(chart.getroot().findall("{http://www.w3.org/2000/svg}polyline")) == 2


def test_cvgan_section_shows_held_out_photos_beside_relived_videos_and_real_clips(site, workdirs):
  index, text = site
  section, media = _section(text, "cvgan"), _media(index, "cvgan")
  clips = sections.held_out_clips(helpers.restore(workdirs["cvgan"]).config, _NUM_VIDEOS)
  for i, clip in enumerate(clips):
    np.testing.assert_array_equal(_png(media / f"photo_{i:02d}.png"), clip[_FRAMES // 2])
    for name in (f"relived_{i:02d}_0", f"relived_{i:02d}_1", f"real_{i:02d}"):
      assert (media / f"{name}.mp4").is_file() and (media / f"{name}.gif").is_file()
  assert section.count('<div class="card">') == _NUM_VIDEOS
  assert "curve_train_conditioning_l2.svg" in section


def test_lstm_section_shows_context_prediction_and_truth_strips_and_the_report(site, workdirs):
  index, text = site
  section, media = _section(text, "lstm"), _media(index, "lstm")
  clips = sections.held_out_clips(helpers.restore(workdirs["lstm"]).config, _NUM_VIDEOS)
  future = _LSTM_FRAMES - _LSTM_CONTEXT
  for i, clip in enumerate(clips):
    context, truth = _png(media / f"context_{i:02d}.png"), _png(media / f"truth_{i:02d}.png")
    np.testing.assert_array_equal(context[:, -_SIZE:], clip[_LSTM_CONTEXT - 1])
    np.testing.assert_array_equal(truth[:, :_SIZE], clip[_LSTM_CONTEXT])
    assert _png(media / f"prediction_{i:02d}.png").shape == (_SIZE, future * (_SIZE + 2) - 2, 3)
  mean = workdirs["reports"]["lstm"]["mean"]
  label = dict(predictor.METHODS)["copy_last_frame"]
  assert f"<th>{label}</th><td>{mean['copy_last_frame']['mse']:.3g}</td>" in section
  report = os.path.splitext(os.path.basename(workdirs["reports"]["lstm"]["path"]))[0]
  for metric in ("mse", "psnr", "ssim"):
    chart = ElementTree.parse(media / f"{report}_{metric}.svg").getroot()
    assert len(chart.findall("{http://www.w3.org/2000/svg}polyline")) == len(predictor.METHODS)
  # The digit score at each horizon: the model, the real future frames and both baselines.
  chart = ElementTree.parse(media / f"{report}_digit_score.svg").getroot()
  texts = [text.text for text in chart.iter("{http://www.w3.org/2000/svg}text")]
  assert {"model", "real", "copy-last", "linear"} <= set(texts)


def test_gallery_says_when_a_workdir_has_no_checkpoint(site):
  _, text = site
  section = _section(text, "untrained")
  assert '<span class="step">no checkpoint</span>' in section
  assert "No checkpoint yet: train this workdir first" in section
  assert "<video" not in section


def test_gallery_names_the_run_training_a_workdir_before_its_first_checkpoint(workdirs, tmp_path):
  workdir = shutil.copytree(workdirs["untrained"], tmp_path / "run")
  with files.exclusive_use(str(workdir), "relive train"):
    index = _build([workdir], tmp_path / "site")
  text = pathlib.Path(index).read_text()
  assert f"No checkpoint yet: relive train (process {os.getpid()}) is training this" in text


def test_gallery_says_on_the_console_too_when_a_workdir_has_no_checkpoint(
  workdirs, tmp_path, caplog
):
  _build([workdirs["untrained"]], tmp_path / "site")
  assert f"gallery: {workdirs['untrained']} has no checkpoint yet" in caplog.text


def test_gallery_warns_once_about_a_workdir_without_its_checkpoints_state_file(
  workdirs, tmp_path, caplog
):
  workdir = shutil.copytree(workdirs["lstm"], tmp_path / "lstm")
  os.remove(workdir / "checkpoints" / "checkpoint")
  _build([workdir], tmp_path / "site", num_videos=1)
  warned = [line for line in caplog.messages if "is missing, empty, unreadable" in line]
  assert len(warned) == 1 and warned[0].endswith(f"to ckpt-{_STEPS})")
  assert f"step {_STEPS}" in (tmp_path / "site" / "index.html").read_text()


def test_gallery_refuses_a_workdir_given_twice(workdirs, tmp_path):
  untrained = str(workdirs["untrained"])
  with pytest.raises(
    ValueError,
    match=rf"'{re.escape(untrained)}/' is given twice \(also as '{re.escape(untrained)}'\)",
  ):
    _build([untrained, untrained + "/"], tmp_path / "site")
  assert not (tmp_path / "site").exists()


def test_gallery_rejects_a_missing_workdir_or_a_file(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    _build([tmp_path / "missing"], tmp_path / "site")
  (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
  with pytest.raises(ValueError, match="photo.jpg' is a file; pass a folder written by"):
    _build([tmp_path / "photo.jpg"], tmp_path / "site")


def test_gallery_rejects_an_empty_workdir(tmp_path):
  (tmp_path / "empty").mkdir()
  with pytest.raises(ValueError, match="is empty"):
    _build([tmp_path / "empty"], tmp_path / "site")


def test_gallery_refuses_an_out_folder_holding_other_files(workdirs, tmp_path):
  (tmp_path / "notes.txt").write_text("mine")
  with pytest.raises(ValueError, match="holds other files"):
    _build([workdirs["untrained"]], tmp_path)
  assert (tmp_path / "notes.txt").read_text() == "mine"


def test_gallery_refuses_an_out_folder_whose_index_it_did_not_write(workdirs, tmp_path):
  # Any index.html read as a gallery built before: a home page and its media/ were replaced.
  (tmp_path / "media").mkdir()
  (tmp_path / "media" / "holiday.gif").write_bytes(b"GIF89a")
  (tmp_path / "index.html").write_text("<html>my homepage</html>")
  with pytest.raises(ValueError, match="holds an index.html that `relive gallery` did not write"):
    _build([workdirs["untrained"]], tmp_path)
  assert (tmp_path / "index.html").read_text() == "<html>my homepage</html>"
  assert (tmp_path / "media" / "holiday.gif").read_bytes() == b"GIF89a"


def test_gallery_refuses_to_rebuild_a_site_whose_media_holds_a_training_workdir(workdirs, tmp_path):
  site = tmp_path / "site"
  _build([workdirs["untrained"]], site)
  run = site / "media" / "runs" / "vgan"  # trained there before `relive train` refused it
  shutil.copytree(workdirs["vgan"], run)
  with pytest.raises(ValueError, match=rf"'{run}' is a training workdir, which rebuilding"):
    _build([workdirs["untrained"]], site)
  assert (run / "config.json").exists() and (run / "checkpoints").is_dir()


def test_gallery_rebuilt_in_place_drops_the_old_media(workdirs, tmp_path):
  (tmp_path / "media" / "00_old").mkdir(parents=True)
  (tmp_path / "media" / "00_old" / "sample_00.gif").write_bytes(b"GIF89a")
  (tmp_path / "index.html").write_text(f"<html><title>{page.TITLE}</title>built before</html>")
  index = _build([workdirs["untrained"]], tmp_path)
  assert not (tmp_path / "media" / "00_old").exists()
  assert "No checkpoint yet" in pathlib.Path(index).read_text()


def _tree(folder):
  """{relative path: bytes} of every file under a folder."""
  return {
    str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()
  }


def test_an_interrupted_rebuild_leaves_the_gallery_built_before_whole(
  workdirs, tmp_path, monkeypatch
):
  _build([workdirs["vgan"]], tmp_path, num_videos=1)
  before = _tree(tmp_path)
  assert any(name.startswith("media/00_") for name in before)
  made = build._section

  def stopped_at_the_second(media_dir, index, *args):
    if index == 1:
      raise KeyboardInterrupt  # Ctrl-C, or a damaged checkpoint in the second workdir
    return made(media_dir, index, *args)

  monkeypatch.setattr(build, "_section", stopped_at_the_second)
  with pytest.raises(KeyboardInterrupt):
    _build([workdirs["vgan"], workdirs["cvgan"]], tmp_path, num_videos=2)
  assert _tree(tmp_path) == before  # the old page, its media, and no unfinished folder


def test_a_rebuild_killed_between_its_renames_gets_the_old_media_back(
  workdirs, tmp_path, monkeypatch
):
  _build([workdirs["vgan"]], tmp_path, num_videos=1)
  before = _tree(tmp_path)
  # What SIGKILL leaves after the old media moved aside and before the new ones moved in.
  (tmp_path / "media").rename(tmp_path / ".media-unfinished-0123abcd-replaced")
  (tmp_path / ".media-unfinished-0123abcd" / "00_vgan").mkdir(parents=True)

  def stopped(*args):
    raise KeyboardInterrupt

  monkeypatch.setattr(build, "_section", stopped)
  with pytest.raises(KeyboardInterrupt):
    _build([workdirs["vgan"]], tmp_path, num_videos=1)
  assert _tree(tmp_path) == before


def test_a_gallery_another_run_is_building_is_refused(workdirs, tmp_path):
  with files.exclusive_use(str(tmp_path / "site"), "relive gallery"):
    with pytest.raises(ValueError, match=r"site is in use by relive gallery \(process \d+\)"):
      _build([workdirs["untrained"]], tmp_path / "site")
  assert not (tmp_path / "site" / "index.html").exists()
  _build([workdirs["untrained"]], tmp_path / "site")  # its lock file makes it no one else's


def test_cli_gallery_reports_a_missing_workdir_without_a_traceback(workdirs, tmp_path):
  missing = tmp_path / "missing"
  result = helpers.run_cli(
    "gallery",
    f"--workdir={workdirs['untrained']}",
    f"--workdir={missing}",
    f"--out={tmp_path / 'site'}",
  )
  assert result.returncode == 2  # refused while flags are parsed, before TensorFlow loads
  assert f"relive gallery: error: --workdir={missing}: does not exist; give a workdir" in (
    result.stderr
  )
  assert "Traceback" not in result.stderr


def test_read_scalars_takes_the_resumed_run_value_of_a_repeated_step(tmp_path):
  for run, values in enumerate(([1.0, 2.0, 3.0], [20.0, 30.0, 40.0])):
    writer = tf.summary.create_file_writer(str(tmp_path), filename_suffix=f".run{run}")
    with writer.as_default():
      for step, value in enumerate(values, start=1 + run):
        tf.summary.scalar("train/loss", value, step=step)
      tf.summary.scalar("train/loss", float("nan"), step=9)
      tf.summary.histogram("weights", [1.0, 2.0], step=1)
    writer.close()
  steps, values = events.read_scalars(str(tmp_path))["train/loss"]
  assert steps.tolist() == [1, 2, 3, 4]
  np.testing.assert_allclose(values, [1.0, 20.0, 30.0, 40.0])
  assert list(events.read_scalars(str(tmp_path))) == ["train/loss"]


def test_a_resumed_run_purges_what_the_killed_run_wrote_after_its_checkpoint(tmp_path):
  # Killed at step 7 with a checkpoint at 4: the resumed run's file begins at step 5.
  for run, steps in enumerate((range(1, 8), range(5, 9))):
    writer = tf.summary.create_file_writer(str(tmp_path / "train"), filename_suffix=f".run{run}")
    with writer.as_default():
      for step in steps:
        tf.summary.scalar("train/loss", 10.0 * run + step, step=step)
        if run == 0 and step == 6:
          tf.summary.histogram("generator/kernel", [1.0, 2.0], step=step)
    writer.close()
  steps, values = events.read_scalars(str(tmp_path))["train/loss"]
  assert steps.tolist() == list(range(1, 9))
  np.testing.assert_allclose(values, [1, 2, 3, 4, 15, 16, 17, 18])
  series, _ = events.read_series(str(tmp_path))
  assert "generator/kernel" not in series


def test_a_tag_that_goes_back_a_step_in_one_file_keeps_the_later_points(tmp_path):
  # train.nan_policy="restore": back to the checkpoint of step 2, then on with a lower rate.
  writer = tf.summary.create_file_writer(str(tmp_path))
  with writer.as_default():
    for step, value in ((1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (3, 30.0), (4, 40.0)):
      tf.summary.scalar("train/loss", value, step=step)
  writer.close()
  steps, values = events.read_scalars(str(tmp_path))["train/loss"]
  assert steps.tolist() == [1, 2, 3, 4]
  np.testing.assert_allclose(values, [1.0, 2.0, 30.0, 40.0])


def test_read_scalars_reads_the_runs_and_a_workdir_from_before_them(tmp_path):
  # Events directly in tb/ (workdirs written before the runs had folders), then tb/train, tb/eval.
  for folder, tag, step in (
    ("", "train/loss", 1),
    ("train", "train/loss", 2),
    ("eval", "eval/d", 2),
  ):
    writer = tf.summary.create_file_writer(str(tmp_path / folder))
    with writer.as_default():
      tf.summary.scalar(tag, float(step), step=step)
    writer.close()
  curves = events.read_scalars(str(tmp_path))
  assert curves["train/loss"][0].tolist() == [1, 2]
  assert curves["eval/d"][0].tolist() == [2]


@pytest.mark.parametrize("values", [[0.5], [2.0, 2.0, 2.0], [3.0, -1.0, 7.5]])
def test_a_curve_is_a_sized_svg_document_with_the_curve(values):
  svg = charts.line_chart_svg(
    "train/loss", np.arange(len(values)) * 10, {"train/loss": np.array(values)}
  )
  root = ElementTree.fromstring(svg)
  namespace = "{http://www.w3.org/2000/svg}"
  assert root.tag == f"{namespace}svg" and root.get("width") == "320"
  points = root.find(f"{namespace}polyline").get("points").split()
  assert len(points) == len(values)
  assert all(np.isfinite(float(c)) for point in points for c in point.split(","))


def _browser():
  """Playwright's sync API and Debian's Chromium, installed by .ci/install_browser.sh if missing;
  the test is skipped, saying why, only where the browser cannot be installed."""
  try:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (this test only)
  except ImportError:
    pytest.skip("Playwright for Python is not installed: pip install -r requirements.txt")
  if not os.path.exists(_CHROMIUM):
    result = subprocess.run(
      ["bash", str(_REPO / ".ci" / "install_browser.sh")],
      capture_output=True,
      text=True,
      check=False,
    )
    if result.returncode or not os.path.exists(_CHROMIUM):
      pytest.skip(
        f"no browser: {_CHROMIUM} is missing and .ci/install_browser.sh could not "
        f"install it: {result.stderr.strip()[-300:]}"
      )
  return sync_playwright


def test_gallery_loads_in_headless_chromium_with_every_video_and_image_playing(site, tmp_path):
  sync_playwright = _browser()
  index, text = site
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=_CHROMIUM, args=_CHROMIUM_ARGS)
    try:
      page = browser.new_page(viewport={"width": 1200, "height": 900})
      problems, remote = [], []
      page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
      page.on("pageerror", lambda error: problems.append(str(error)))
      page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
      page.on(
        "request",
        lambda request: (
          remote.append(request.url) if not request.url.startswith(("file:", "data:")) else None
        ),
      )
      page.goto(pathlib.Path(index).as_uri(), wait_until="load")
      page.wait_for_function(
        "[...document.querySelectorAll('video')].every(v => v.readyState >= 2 || v.error)",
        timeout=30_000,
      )
      images = page.evaluate(
        "[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth])"
      )
      videos = page.evaluate(
        "[...document.querySelectorAll('video')].map(v => "
        "[v.getAttribute('src'), v.readyState, v.error && v.error.code, v.videoWidth])"
      )
      gifs = page.evaluate("""Promise.all([...document.querySelectorAll('a[href$=".gif"]')].map(
          a => new Promise(done => { const i = new Image(); i.onload = () => done(i.naturalWidth);
                                     i.onerror = () => done(0); i.src = a.href; })))""")
      screenshot = tmp_path / "gallery.png"
      page.screenshot(path=str(screenshot), full_page=True)
    finally:
      browser.close()
  print(f"screenshot: {screenshot}")
  assert problems == [] and remote == []
  # Every MP4 of the page plays: none fell back to its GIF.
  assert len(videos) == text.count("<video") >= 6 * _NUM_VIDEOS
  assert all(ready >= 2 and error is None and width > 0 for _, ready, error, width in videos), (
    videos
  )
  assert len(images) >= 4 and all(width for _, width in images), images
  # Each tile links its GIF, which loads at the width of the MP4 beside it.
  assert gifs == [width for _, _, _, width in videos]
  assert screenshot.stat().st_size > 0


def test_a_chart_of_several_series_leaves_out_missing_values_and_names_each_series():
  svg = charts.line_chart_svg(
    "PSNR", [1, 2, 3], {"model": [20.0, None, 18.0], "copy-last": [25.0, 21.0, 19.0]}
  )
  root = ElementTree.fromstring(svg)
  namespace = "{http://www.w3.org/2000/svg}"
  lines = [line.get("points").split() for line in root.iter(f"{namespace}polyline")]
  assert [len(points) for points in lines] == [2, 3]
  texts = [text.text for text in root.iter(f"{namespace}text")]
  assert "model" in texts and "copy-last" in texts


def test_event_files_are_read_in_the_order_they_were_written(tmp_path):
  # Names sort "...10.v2" before "...9.v2": the eleventh writer of a process must still come last.
  for number in range(11):
    writer = tf.summary.create_file_writer(str(tmp_path), filename_suffix=f".run{number}")
    with writer.as_default():
      tf.summary.scalar("train/loss", float(number), step=5)
    writer.close()
  assert [path.rsplit(".run", 1)[1] for path in events.event_files(str(tmp_path))] == [
    str(number) for number in range(11)
  ]
  np.testing.assert_allclose(events.read_scalars(str(tmp_path))["train/loss"][1], [10.0])


def test_the_scores_shown_come_from_a_report_on_the_runs_own_held_out_clips(tmp_path):
  trained = types.SimpleNamespace(workdir=str(tmp_path), config=helpers.load_config("vgan", "tiny"))
  own = {"step": 1, "distances": {}, "data": {"source": "synthetic", "seed": 1}}
  other = {"step": 5, "distances": {}, "data": {"source": "shards", "path": "/p", "split": "test"}}
  files.write_json(str(tmp_path / "evaluation_builtin_step1.json"), own)
  files.write_json(str(tmp_path / "evaluation_builtin_p_step5.json"), other)
  report, path = sections._latest_gan_report(trained)
  assert (report, os.path.basename(path)) == (own, "evaluation_builtin_step1.json")
