"""What evaluation reports share: the digit recogniser to use or why the sample scores are not
measured, and the report's folder."""

import json
import math
import os
import tempfile

import tensorflow as tf

from relive_tf import files
from relive_tf.metrics import digit_recognizer as digit_recognizer_lib
from relive_tf.training import inputs
from relive_tf.training import workdir as workdir_lib

BUILT_IN_ONLY = "not measured: the digit recogniser knows the built-in digits only"
# The scores of metrics/sample_scores.py, by report key, with their table labels.
SCORES = (
  ("digit_score", "digit score"),
  ("identity_consistency", "identity"),
  ("motion", "motion"),
)


# Keys every evaluation report holds (gan.py, predictor.py), which a workdir's config.json lacks.
_REPORT_KEYS = ("workdir", "model_type", "step")
# A report is a few kilobytes; a larger file is not read to find out.
_LARGEST_REPORT = 1 << 20


def make_report_folder(report, workdir):
  """Creates the folder of a report path given by the user, or checks that the workdir (where the
  default report goes) can be written, before anything is measured: a bad path fails at once, not
  after minutes of measuring.

  Raises:
    ValueError: the path is a folder, an existing file other than an earlier report (a workdir's
      config.json, a photo: the report would replace it), or its folder cannot be created or
      written (a read-only workdir: --report names another place), naming the report path; no
      path for a shipped model (training/shipped.py), whose report the default would replace.
  """
  if not report and workdir_lib.is_shipped(workdir):
    raise ValueError(
      f"{workdir!r} is {workdir_lib.SHIPPED_MODEL}, whose report the default path would replace; "
      "give --report=PATH"
    )
  if report and (report.endswith("/") or tf.io.gfile.isdir(report)):
    raise ValueError(f"report {report} names a folder; give the path of the JSON file to write")
  if report and tf.io.gfile.exists(report) and not _is_report(report):
    raise ValueError(
      f"report {report} is a file that is not an evaluation report, which the report would "
      "replace; give a new path"
    )
  folder = os.path.dirname(files.absolute(report)) if report else workdir
  files.make_folder(folder)
  if files.is_remote(folder):
    return
  try:  # os.access passes root on a read-only mount
    with tempfile.TemporaryFile(dir=folder):
      pass
  except OSError as error:
    where = f"report {report}" if report else f"the report in the workdir {workdir!r}"
    raise ValueError(
      f"cannot write {where} ({error.strerror}); give --report=PATH in a folder you can write"
    ) from None


def _is_report(path):
  """Whether the file at `path` is a report of `relive evaluate` or empty (`mktemp`): a new report
  may replace it."""
  try:
    length = tf.io.gfile.stat(path).length
    if not length:
      return True
    if length > _LARGEST_REPORT:
      return False
    with tf.io.gfile.GFile(path, "rb") as file:
      report = json.loads(file.read())
  except (tf.errors.OpError, ValueError):  # unreadable, not UTF-8, not JSON
    return False
  return isinstance(report, dict) and all(key in report for key in _REPORT_KEYS)


def digit_recognizer(config, data=None, path=None):
  """The recogniser that scores a run's clips, or why the sample scores are not measured.

  Args:
    config: a workdir's config.
    data: the held-out data (inputs.held_out_settings): None, "synthetic" or a shards folder.
    path: folder of a trained recogniser; None or "" for the one shipped with the package.

  Returns:
    (a metrics.digit_recognizer.DigitRecognizer, None), or (None, the reason) for clips that are
    not the built-in digits or frames of another size.

  Raises:
    ValueError: `path` holds no trained recogniser.
  """
  if inputs.held_out_settings(config, data)["source"] != "synthetic":
    return None, BUILT_IN_ONLY
  recognizer = digit_recognizer_lib.DigitRecognizer(path or digit_recognizer_lib.SHIPPED)
  size = config.data.size
  if recognizer.size != size:
    return None, (
      f"not measured: the digit recogniser {recognizer.path} reads {recognizer.size}x"
      f"{recognizer.size} frames, these are {size}x{size}"
    )
  return recognizer, None


def finite_or_none(value):
  """JSON has no NaN or infinity (no digit to be consistent about, a PSNR of exact copies): such
  values are written as null."""
  return float(value) if value is not None and math.isfinite(value) else None


def format_score(value, width):
  """A score right-aligned in `width` characters; "-" for None."""
  return f"{'-':>{width}}" if value is None else f"{value:>{width}.3g}"
