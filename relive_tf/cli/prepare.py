"""`relive prepare`: a folder of videos (UCF-101, ASLAN, any) into shards, or --verify shards."""

from absl import app
from absl import flags
from absl import logging

from relive_tf import progress
from relive_tf.cli import checks
from relive_tf.data import layouts
from relive_tf.data import prepare
from relive_tf.data import video_read
from relive_tf.errors import UserError

FLAGS = flags.FLAGS
REQUIRED = ("format", "source", "out")
OTHER_USAGE = "--verify=DIR"


def define_flags():
  flags.DEFINE_enum(
    "format",
    None,
    layouts.FORMATS,
    "layout of --source: folder (any tree of videos), ucf101 "
    "(UCF-101/<Class>/v_<Class>_gGG_cCC.avi), aslan (a folder of avi files), vgan "
    "(JPEG strips of frames stacked vertically)",
  )
  flags.DEFINE_string("source", None, "the dataset's folder")
  flags.DEFINE_string(
    "out",
    None,
    "folder for the TFRecord shards and manifest.json; an interrupted run there is resumed",
  )
  flags.DEFINE_integer("frames", 32, "frames per clip")
  flags.DEFINE_integer(
    "size", 64, "side of the square frames: shorter side resized to it, longer side center-cropped"
  )
  flags.DEFINE_integer("frame_step", 1, "keep every frame_step-th frame of the source")
  flags.DEFINE_integer("clips_per_video", 1, "clips per file, spread evenly over it")
  flags.DEFINE_integer(
    "clip_stride",
    None,
    "instead of --clips_per_video: every clip that starts "
    "at a multiple of clip_stride (in kept frames)",
  )
  flags.DEFINE_list(
    "split_file",
    [],
    "ucf101: the official trainlistNN.txt/testlistNN.txt (one "
    "brings its sibling); without it the groups gGG are split by --test_fraction",
  )
  flags.DEFINE_string(
    "index_file",
    None,
    "vgan: text file listing the JPEG strips, one path per "
    "line relative to --source; without it --source is searched",
  )
  flags.DEFINE_float(
    "test_fraction",
    0.1,
    "about this share of the groups (files; UCF-101 gGG groups) goes to the test split when no "
    "--split_file is given, each by a hash of its name (beyond a few groups, adding files moves "
    "no other); a single group stays in train",
  )
  flags.DEFINE_enum(
    "encoding",
    "jpeg",
    video_read.ENCODINGS,
    "how clips are stored (docs/benchmarks.md compares them)",
  )
  flags.DEFINE_integer("jpeg_quality", 90, "JPEG quality, 1..100")
  flags.DEFINE_float("shard_mb", 100.0, "approximate shard size in MB")
  flags.DEFINE_integer(
    "workers", None, "decoding processes of --runner=processes (default: all available cores)"
  )
  flags.DEFINE_float("timeout_s", 120.0, "a file still decoding after this many seconds is skipped")
  flags.DEFINE_bool("overwrite", False, "replace the shards of another run in --out")
  flags.DEFINE_enum(
    "runner",
    "processes",
    prepare.RUNNERS,
    "processes: decoding processes on this machine, resumable; beam: an Apache Beam pipeline "
    "(pip install 'relive_tf[beam]'), the same clips in balanced shards, on the runner that "
    "--beam_pipeline_options names",
  )
  flags.DEFINE_string(
    "beam_pipeline_options",
    "",
    "--runner=beam: Beam's flags in one string, e.g. '--runner=DataflowRunner --project=P "
    "--region=R --temp_location=gs://B/tmp' (BUILD.md); empty: the DirectRunner here",
  )
  flags.DEFINE_string(
    "verify",
    None,
    "instead of preparing: check every shard in this prepared "
    "folder (sizes, record checksums, decodable clips) and name the bad ones",
  )
  flags.register_multi_flags_validator(
    ["format", "source", "out", "verify"],
    lambda values: (
      bool(values["verify"]) or None not in (values["format"], values["source"], values["out"])
    ),
    message="give --format, --source and --out to prepare, or --verify=DIR to check shards",
  )
  checks.existing_folder("source", "the dataset's folder of videos")
  checks.output_folder("out", "the shards")
  checks.outside_package("out", "data/NAME")
  for name in ("out", "verify"):
    checks.utf8_name(name)
  checks.existing_folder("verify", "a folder written by `relive prepare`")
  checks.existing_file("split_file", "a UCF-101 trainlistNN.txt or testlistNN.txt")


def _verify(path):
  """Prints a line per shard of `path`; raises a UserError naming the damaged ones."""
  from relive_tf.data import shards  # noqa: PLC0415 (loads TensorFlow, which preparing does not need)

  results = shards.verify(path)
  for result in results:
    state = f"DAMAGED: {result['problem']}" if result["problem"] else "ok"
    print(f"{result['file']}: {progress.counted(result['clips'], 'clip')}, {state}")
  damaged = [result["file"] for result in results if result["problem"]]
  if damaged:
    which = "the shard" if len(results) == 1 else f"{len(damaged)} of the {len(results)} shards"
    raise UserError(
      f"{which} in {path} {'is' if len(damaged) == 1 else 'are'} damaged "
      f"({', '.join(damaged)}): copy {'it' if len(damaged) == 1 else 'them'} again, or rebuild "
      f"the folder with `relive prepare ... --out={path} --overwrite`; or train past the damage "
      "with --config.data.skip_corrupt=True"
    )
  clips = progress.counted(sum(result["clips"] for result in results), "clip")
  if len(results) == 1:
    print(f"the shard in {path} is whole: {clips}")
  else:
    print(f"all {len(results)} shards in {path} are whole: {clips}")


def main():
  if FLAGS.verify:
    given = [f"--{name}" for name in ("format", "source", "out") if FLAGS[name].present]
    if given:
      raise app.UsageError(
        f"--verify checks the shards of one folder alone; leave out {', '.join(given)}"
      )
    _verify(FLAGS.verify)
    return
  if FLAGS.clip_stride is not None and FLAGS["clips_per_video"].present:
    raise app.UsageError("give --clips_per_video or --clip_stride, not both")
  if FLAGS.runner == "beam" and FLAGS.workers is not None:
    raise app.UsageError(
      "--workers is for --runner=processes; Beam's runner picks its own workers "
      "(e.g. --beam_pipeline_options='--direct_num_workers=4')"
    )
  if FLAGS.runner != "beam" and FLAGS.beam_pipeline_options:
    raise app.UsageError(
      f"--beam_pipeline_options is for --runner=beam, not {FLAGS.runner}; add --runner=beam or "
      "drop them"
    )
  manifest = prepare.prepare(
    layout=FLAGS.format,
    source=FLAGS.source,
    out=FLAGS.out,
    frames=FLAGS.frames,
    size=FLAGS.size,
    frame_step=FLAGS.frame_step,
    clips_per_video=FLAGS.clips_per_video,
    clip_stride=FLAGS.clip_stride,
    split_files=FLAGS.split_file,
    index_file=FLAGS.index_file,
    test_fraction=FLAGS.test_fraction,
    encoding=FLAGS.encoding,
    jpeg_quality=FLAGS.jpeg_quality,
    shard_mb=FLAGS.shard_mb,
    workers=FLAGS.workers,
    timeout_s=FLAGS.timeout_s,
    overwrite=FLAGS.overwrite,
    runner=FLAGS.runner,
    beam_pipeline_options=FLAGS.beam_pipeline_options,
  )
  splits = ", ".join(
    f"{split}: {progress.counted(counts['clips'], 'clip')}"
    for split, counts in manifest["splits"].items()
  )
  counts = manifest["files"]
  print(
    f"prepared {progress.counted(manifest['clips'], 'clip')} from {counts['used']} of the "
    f"{progress.counted(counts['seen'], 'file')} seen ({splits}) in "
    f"{progress.counted(len(manifest['shards']), 'shard')} in {FLAGS.out}; "
    f"{counts['skipped']} skipped and {counts['warned']} used with a warning (reasons in "
    f"{FLAGS.out}/manifest.json); train with "
    f"--config.data.source=shards --config.data.path={FLAGS.out}"
  )
  # The split is chosen by name before decoding: the files it was given may all have been skipped.
  test_asked = FLAGS.test_fraction or FLAGS.split_file
  if test_asked and manifest["clips"] and not manifest["splits"]["test"]["clips"]:
    logging.warning(
      "the test split holds no clips: its files were skipped or too short (see manifest.json); "
      "`relive evaluate` and train.eval_every need held-out clips: add files or change "
      "--test_fraction and prepare again with --overwrite"
    )
  if manifest["clips"] and not manifest["splits"]["train"]["clips"]:
    logging.warning(
      "the train split holds no clips: its files were skipped or too short (see manifest.json); "
      "`relive train` needs training clips: add files or lower --test_fraction and prepare "
      "again with --overwrite"
    )
