"""Every subcommand's bad input ends in one line naming the value and the fix, without traceback."""

import os
import shutil
import subprocess
import sys

import pytest

import helpers

CONFIGS = helpers.REPO / "configs"
TINY = f"--config={CONFIGS}/vgan.py:tiny"

# (arguments, what the one error line says). In the arguments, {tmp} is a folder holding a_file,
# config files without keys (partial.py, plain.py: a dict, no_type.py) or no config (number.py,
# list.py, none.py; none_flags.txt, a --flagfile giving none.py), empty/ (a folder), not_a_photo.jpg
# and not_a_video.mp4 (text files), empty.png (0 bytes), linked_video.mp4 (a link to
# not_a_video.mp4), and vgan/, cvgan/ and lstm/: workdirs with the tiny config of each family and no
# checkpoint, and vgan_tiny/, a copy of the shipped video WGAN.
# Relative paths are in it.
CASES = [
  ([], "usage: relive SUBCOMMAND"),
  (["dance"], "unknown subcommand 'dance'"),
  # train
  (["train"], "--config and --workdir are required"),
  (["train", "--workdir=W"], "--config is required; `relive train --help` describes it"),
  (["train", TINY, "--workdir=W", "stray"], "unexpected arguments: stray"),
  (
    ["train", TINY, "--workdir=W", "--no_such_flag=1"],
    "unknown flag --no_such_flag; `relive train --help` lists the flags",
  ),
  (  # the subcommand's own flags suggested, not absl's (--run_with_pdb)
    ["generate", "--workdir={tmp}/vgan", "--out=O", "--nun=2"],
    "unknown flag --nun; did you mean --num?; `relive generate --help` lists the flags",
  ),
  (["train", TINY, "--workdir=W", "--confg.seed=1"], "did you mean --config.seed?"),
  (
    ["train", "--workdir=W", "--config.seed=1"],
    "--config.seed overrides a key of the --config file: give --config=FILE as well",
  ),
  (  # ml_collections named the override but not the fix
    ["train", "--workdir=W", "--config.seed=1", TINY],
    "--config.seed=1 comes before --config: give --config=FILE first, then its overrides",
  ),
  (  # absl kept the last silently; with an override, "The flag ... is defined twice"
    ["train", TINY, "--workdir=W", "--config", f"{CONFIGS}/vgan.py", "--config.seed=1"],
    f"{TINY} and --config={CONFIGS}/vgan.py: give --config once; a file's variants combine",
  ),
  (["train", TINY, "--workdir=W", TINY], "give --config once"),
  (
    ["train", "-config=configs/nope.py:tiny", "--workdir=W", "--config.seed=1"],
    "relive train: error: --config: configs/nope.py does not exist",
  ),
  (["train", "--config=configs/nope.py", "--workdir=W"], "configs/nope.py does not exist"),
  (  # run from another folder than the repository's
    ["train", "--config=configs/vgan.py:tiny", "--workdir=W"],
    f"configs/vgan.py does not exist: give its full path, {CONFIGS}/vgan.py, with a variant",
  ),
  (
    ["train", f"--config={CONFIGS}/nope.py", "--workdir=W"],
    f"give one of {CONFIGS}/cvgan.py, {CONFIGS}/lstm.py, {CONFIGS}/vgan.py",
  ),
  (["train", f"--config={CONFIGS}", "--workdir=W"], "is a folder, not a config file"),
  (  # an override as well: ml_collections fails applying it, while flags are parsed
    ["train", "--config=configs/vgan.py:tiny", "--workdir=W", "--config.train.num_steps=2"],
    f"configs/vgan.py does not exist: give its full path, {CONFIGS}/vgan.py, with a variant",
  ),
  (
    ["train", f"--config={CONFIGS}/vgn.py:tiny", "--workdir=W", "--config.train.num_steps=2"],
    f"{CONFIGS}/vgn.py does not exist: give one of {CONFIGS}/cvgan.py",
  ),
  (["train", f"--config={helpers.REPO}/README.md", "--workdir=W"], "not a Python config file"),
  (  # a workdir's config.json (JSON's true): a NameError traceback
    ["train", "--config={tmp}/vgan/config.json", "--workdir=W"],
    "--config={tmp}/vgan/config.json failed to load (NameError: name 'true' is not defined)",
  ),
  (
    ["train", f"--config={CONFIGS}/vgan.py:nope", "--workdir=W"],
    "unknown variant(s) ['nope'] of configs/vgan.py: use default, tiny, poster, gp",
  ),
  (
    ["train", TINY, "--workdir=W", "--config.train.num_step=1"],
    "--config.train.num_step: the config has no key 'num_step' there; "
    "did you mean --config.train.num_steps?",
  ),
  (
    ["train", TINY, "--workdir=W", "--config.trian.num_steps=1"],
    "did you mean --config.train.num_steps?",
  ),
  (["train", TINY, "--workdir=W", "--config.train.num_steps=many"], "num_steps=many"),
  (["train", TINY, "--workdir=W", "--config.train.num_steps=0"], "train.num_steps is 0"),
  (["train", TINY, "--workdir={tmp}/a_file"], "--workdir={tmp}/a_file: is a file"),
  (  # "cannot write to ... File exists", after TensorFlow had loaded
    ["train", TINY, "--workdir={tmp}/dangling"],
    "--workdir={tmp}/dangling: is a symbolic link to 'nowhere', which does not exist",
  ),
  (  # "holds a model of type None"
    ["train", TINY, "--workdir={tmp}/no_model_type"],
    "no_model_type/config.json is not a config `relive train` wrote (it lacks model_type)",
  ),
  (["train", f"--config={CONFIGS}/vgan.py:", "--workdir=W"], "unknown variant(s) ['']"),
  (["train", TINY, "--workdir=W", "--config.nope.x=1"], "no key 'nope' there. The config file"),
  # Model settings that failed inside the train step's graph, or named no key.
  # (Refused once the workdir is held: each its own, so that W stays one that does not exist.)
  (["train", TINY, "--workdir=W1", "--config.model.generator_widths=64,32"], "give 4 positive"),
  (["train", TINY, "--workdir=W2", "--config.model.generator_widths=None"], "generator_widths is"),
  (["train", TINY, "--workdir=W3", "--config.model.frames_judged=100"], "frames_judged is 100"),
  (["train", TINY, "--workdir={tmp}/lstm"], "holds a model of type 'lstm', not 'vgan'"),
  # a copy of the video WGAN shipped in the package (its generator alone), and a folder in it
  (["train", TINY, "--workdir={tmp}/vgan_tiny"], "is a model shipped with relive_tf"),
  (["train", TINY, "--workdir={tmp}/vgan_tiny/runs/a"], "a model shipped with relive_tf, not a"),
  # Refused by name, never run as configs/../relive_tf/errors.py, nor taken for another model type.
  (
    ["train", TINY, "--workdir={tmp}/lstm", "--config.model_type=../relive_tf/errors"],
    "unknown model_type '../relive_tf/errors'; known: ['cvgan', 'lstm', 'vgan']",
  ),
  # Values that failed in a traceback (a layer's, tf.data's, OpenCV's, CheckpointManager's).
  (["train", TINY, "--workdir=W4", "--config.data.frames=-4"], "data.frames is -4; it must be"),
  (["train", TINY, "--workdir=W5", "--config.data.size=0"], "data.size is 0; it must be"),
  (["train", TINY, "--workdir=W6", "--config.seed=-1"], "seed is -1; it must be 0 or more"),
  (["train", TINY, "--workdir=W7", "--config.train.max_checkpoints=0"], "max_checkpoints is 0"),
  (["train", TINY, "--workdir=W8", "--config.model.noise_dim=-2"], "noise_dim is -2; it must"),
  (
    ["train", TINY, "--workdir=W9", "--config.model.frame_critic_widths=(0,0,0,0)"],
    "frame_critic_widths is (0, 0, 0, 0); it must be positive integers",
  ),
  (["train", TINY, "--workdir=W10", "--config.train.learning_rate=nan"], "learning_rate is nan"),
  (
    ["train", f"--config={CONFIGS}/lstm.py:tiny", "--workdir=W11", "--config.data.frames=1"],
    "data.frames is 1; the predictor learns from clips of at least 2 frames",
  ),
  (
    [
      "train",
      f"--config={CONFIGS}/lstm.py:tiny",
      "--workdir=W12",
      "--config.model.motion_kernels=-1",
    ],
    "motion_kernels is -1; it must be 0 or more",
  ),
  # generate
  (["generate", "--workdir={tmp}/vgan"], "--out is required"),
  (["generate", "--workdir=W", "--out=O"], "--workdir=W: does not exist"),
  (["generate", "--workdir={tmp}/a_file", "--out=O"], "is a file, not a folder"),
  (["generate", "--workdir={tmp}/empty", "--out=O"], "holds no config.json"),
  (["generate", "--workdir={tmp}/vgan", "--out={tmp}/a_file"], "--out={tmp}/a_file: is a file"),
  (["generate", "--workdir={tmp}/vgan", "--out=sample.mp4"], "sample.mp4: names a video file"),
  (["generate", "--workdir={tmp}/vgan", "--out=O", "--num=0"], "--num=0: 0 is not an integer in"),
  (  # noise for 10**9 videos was drawn at once: a ResourceExhaustedError traceback
    ["generate", "--workdir={tmp}/vgan", "--out=O", "--num=1000000000"],
    "--num=1000000000: 1000000000 is not an integer in the range [1, 10000]",
  ),
  (["generate", "--workdir={tmp}/vgan", "--out=O", "--seed=-1"], "--seed=-1: -1 is not"),
  (["generate", "--workdir={tmp}/vgan", "--out=O", "--num=1.5"], "--num=1.5: not a whole number"),
  (["generate", "--workdir={tmp}/vgan", "--out=O", "--seed=99999999999999999999"], "--seed="),
  (["generate", "--workdir={tmp}/vgan", "--out="], "--out=: is empty; give a folder"),
  (["generate", "--workdir={tmp}/vgan", "--out=O", "--format=avi"], "--format=avi"),
  (["generate", "--workdir={tmp}/lstm", "--out=O"], "holds a model of type 'lstm'"),
  (["generate", "--workdir={tmp}/vgan", "--out=O"], "holds no checkpoint yet"),
  (["generate", "--workdir={tmp}/vgan", "--out=O", "stray"], "unexpected arguments: stray"),
  (["generate", "--workdir=ram://w", "--out=O"], "'ram://w' holds no config.json"),
  # Outputs on ram://, which empties when the command exits: trained or written for nothing.
  (["train", TINY, "--workdir=ram://run"], "--workdir=ram://run: is on ram://, TensorFlow's in-"),
  (["generate", "--workdir={tmp}/vgan_tiny", "--out=ram://o"], "all it writes would be lost"),
  (["export", "--workdir={tmp}/vgan", "--export_dir=ram://e/m"], "is on ram://, TensorFlow's"),
  (["evaluate", "--workdir={tmp}/vgan", "--report=ram://r.json"], "is on ram://, TensorFlow's"),
  (  # refused once TensorFlow reads the path (a file:// workdir is checked as remote ones are)
    ["train", TINY, f"--workdir=file://{helpers.REPO}/relive_tf/run"],
    "is inside the relive_tf package",
  ),
  (  # scheme names are case-sensitive: RAM:// is no filesystem at all
    ["export", "--workdir={tmp}/vgan", "--export_dir=RAM://e/m"],
    "'RAM://e/m': TensorFlow reads no RAM:// paths here",
  ),
  (
    ["relive", "--workdir={tmp}/cvgan", "--photo={tmp}/empty.png", "--out=ram://a.gif"],
    "is on ram",
  ),
  (  # s3:// without tensorflow-io, or a typo: an UnimplementedError traceback
    ["generate", "--workdir=foo://run", "--out=O"],
    "'foo://run/config.json': TensorFlow reads no foo:// paths here; give a local or gs:// path",
  ),
  # relive
  (  # one file of 2,000 videos side by side: 22 GB, then a GIF too wide to write
    ["relive", "--workdir={tmp}/cvgan", "--photo={tmp}/not_a_photo.jpg", "--out=v.gif", "--num=65"],
    "--num=65: 65 is not an integer in the range [1, 64]",
  ),
  (["relive", "--workdir={tmp}/cvgan", "--out=v.gif"], "--photo is required"),
  (  # it wrote its video over the photo it read
    ["relive", "--workdir={tmp}/cvgan", "--photo={tmp}/not_a_video.mp4"]
    + ["--out={tmp}/linked_video.mp4"],
    "linked_video.mp4 is the photo; give another file to write",
  ),
  (
    ["relive", "--workdir={tmp}/cvgan", "--photo=cat.jpg", "--out=v.gif"],
    "--photo=cat.jpg: does not exist",
  ),
  (
    ["relive", "--workdir={tmp}/cvgan", "--photo={tmp}/not_a_photo.jpg", "--out=v.avi"],
    "--out=v.avi: must end in .gif or .mp4",
  ),
  (
    ["relive", "--workdir={tmp}/cvgan", "--photo={tmp}/not_a_photo.jpg", "--out=v.gif"],
    "not_a_photo.jpg' is in a format relive does not read",
  ),
  (
    ["relive", "--workdir={tmp}/cvgan", "--photo={tmp}/empty.png", "--out=v.gif"],
    "empty.png' is an empty file (0 bytes)",
  ),
  # predict
  (
    ["predict", "--workdir={tmp}/lstm", "--video=clip.mp4", "--out=p.gif"],
    "--video=clip.mp4: does not exist",
  ),
  (
    [
      "predict",
      "--workdir={tmp}/lstm",
      "--video={tmp}/not_a_video.mp4",
      "--out=p.gif",
      "--start=-1",
    ],
    "-1 is not a non-negative integer",
  ),
  (
    ["predict", "--workdir={tmp}/lstm", "--video={tmp}/not_a_video.mp4", "--out={tmp}/empty"],
    "is a folder",
  ),
  (
    ["predict", "--workdir={tmp}/lstm", "--video={tmp}/not_a_video.mp4", "--out=p.gif"],
    "not_a_video.mp4' cannot be read: no frame could",
  ),
  (  # it wrote its prediction over the video it read
    ["predict", "--workdir={tmp}/lstm", "--video={tmp}/not_a_video.mp4"]
    + ["--out={tmp}/./not_a_video.mp4"],
    "is the input video; give another file to write",
  ),
  (
    ["predict", "--workdir={tmp}/lstm", "--video={tmp}/not_a_video.mp4"]
    + ["--out={tmp}/linked_video.mp4"],
    "linked_video.mp4 is the input video",
  ),
  # prepare
  (["prepare", "--format=folder", "--source=videos", "--out=S"], "--source=videos: does not exist"),
  (["prepare", "--format=mp4", "--source={tmp}/empty", "--out=S"], "--format=mp4"),
  (["prepare", "--format=folder", "--source={tmp}/empty", "--out={tmp}/a_file"], "is a file"),
  (
    ["prepare", "--format=folder", "--source={tmp}/empty", "--out=S", "--clip_stride=2"]
    + ["--clips_per_video=2"],
    "give --clips_per_video or --clip_stride, not both",
  ),
  (["prepare", "--format=folder", "--source={tmp}/empty", "--out=S", "--frames=0"], "--frames=0"),
  (
    ["prepare", "--format=folder", "--source={tmp}/empty", "--out=S", "--test_fraction=a"],
    "--test_fraction=a: not a number",
  ),
  (
    ["prepare", "--format=ucf101", "--source={tmp}/empty", "--out=S", "--split_file={tmp}/empty"],
    "--split_file={tmp}/empty: is a folder; give a UCF-101 trainlistNN.txt",
  ),
  (  # --format was ignored without a word
    ["prepare", "--verify={tmp}/empty", "--format=ucf101"],
    "--verify checks the shards of one folder alone; leave out --format",
  ),
  (  # 0 meant all cores while -1 was refused
    ["prepare", "--format=folder", "--source={tmp}/empty", "--out=S", "--workers=0"],
    "--workers=0 must be positive",
  ),
  (
    ["prepare", "--format=folder", "--source={tmp}/empty", "--out=S", "--runner=beam"]
    + ["--workers=2"],
    "--workers is for --runner=processes",
  ),
  # A path with a scheme passes the flag checks; tf.io.gfile finds this one missing.
  (
    ["prepare", "--format=folder", "--source=ram://videos", "--out=S"],
    "--source=ram://videos is not a folder",
  ),
  # evaluate
  (["evaluate"], "--workdir is required"),
  (["evaluate", "--workdir=W"], "--workdir=W: does not exist"),
  (["evaluate", "--workdir={tmp}/vgan", "--num_samples=0"], "0 is not a positive integer"),
  (["evaluate", "--workdir={tmp}/lstm", "--i3d=/models/i3d"], "i3d does not apply"),
  # gallery
  (
    ["gallery", "--workdir={tmp}/vgan", "--out=S", "--num=65"],
    "65 is not an integer in the range [1, 64]",
  ),
  (["gallery", "--workdir={tmp}/vgan", "--out={tmp}/a_file"], "--out={tmp}/a_file: is a file"),
  (["gallery", "--workdir=W", "--out=site"], "--workdir=W: does not exist; give a workdir written"),
  # export
  (["export", "--workdir=W", "--export_dir=export/m"], "--workdir=W: does not exist"),
  (["export", "--workdir={tmp}/vgan", "--export_dir={tmp}/a_file"], "is a file"),
  (["export", "--workdir={tmp}/vgan", "--export_dir=/"], "names no model folder"),
  (
    ["export", "--workdir={tmp}/vgan", "--export_dir=e/m", "--version=0"],
    "0 is not an integer in the range [1,",
  ),
  # Names that are not UTF-8 (a Latin-1 é, as Python holds it), which TensorFlow cannot open:
  # these were UnicodeEncodeError tracebacks.
  (["train", TINY, "--workdir=W_\udce9"], "is not valid UTF-8, and TensorFlow opens UTF-8"),
  (["generate", "--workdir={tmp}/vgan", "--out=O_\udce9"], "--out=O_\\udce9: is not valid"),
  (["evaluate", "--workdir={tmp}/vgan", "--report=r_\udce9.json"], "is not valid UTF-8"),
  (["evaluate", "--workdir={tmp}/vgan", "--data=d_\udce9"], "is not valid UTF-8"),
  (  # a config key TensorFlow opens
    ["train", TINY, "--workdir=W4", "--config.data.source=shards", "--config.data.path=d_\udce9"],
    # named as given: refused before TensorFlow loads, before the path is made absolute
    "data.path 'd_\\udce9' is not valid UTF-8, and TensorFlow opens UTF-8 names only",
  ),
  (["gallery", "--workdir={tmp}/vgan", "--out=S_\udce9"], "is not valid UTF-8"),
  # Configs without keys their model needs: a traceback where the trainer first read one.
  (
    ["train", TINY, "--workdir=W11", "--config.model_type=lstm"],
    "the config lacks model.blend_input, model.decoder_widths, model.embedding_dim and 11 more, "
    "which a 'lstm' model needs (model_type is 'lstm'): start from configs/lstm.py",
  ),
  (["train", TINY, "--workdir=W12", "--config.train={{'num_steps': 2}}"], "lacks train.adam_beta1"),
  (["train", "--config={tmp}/partial.py", "--workdir=W13"], "lacks data.frames, data.path"),
  (["train", "--config={tmp}/plain.py", "--workdir=W14"], "get_config() returned a dict, not an"),
  (["train", "--config={tmp}/no_type.py", "--workdir=W15"], "--config holds no model_type; start"),
  # These were a traceback (a number, a list) and "--config is required" (None).
  (
    ["train", "--config={tmp}/number.py", "--workdir=W16"],
    "error: --config's get_config() returned an int",
  ),
  (
    ["train", "--config={tmp}/list.py", "--workdir=W17"],
    "error: --config's get_config() returned a list",
  ),
  (
    ["train", "--config={tmp}/none.py", "--workdir=W18"],
    "error: --config's get_config() returned None,",
  ),
  (["train", "--flagfile={tmp}/none_flags.txt", "--workdir=W19"], "get_config() returned None,"),
  (["export", "--workdir={tmp}/vgan", "--export_dir=e_\udce9/m"], "is not valid UTF-8"),
  (["prepare", "--format=folder", "--source={tmp}/empty", "--out=P_\udce9"], "is not valid"),
]


@pytest.fixture(name="place", scope="module")
def place_fixture(tmp_path_factory):
  place = tmp_path_factory.mktemp("mistakes")
  (place / "a_file").write_text("")
  (place / "empty").mkdir()
  (place / "not_a_photo.jpg").write_text("a cat")
  (place / "empty.png").write_bytes(b"")
  (place / "not_a_video.mp4").write_text("a film")
  (place / "linked_video.mp4").symlink_to(place / "not_a_video.mp4")
  (place / "dangling").symlink_to("nowhere")
  (place / "no_model_type").mkdir()
  (place / "no_model_type" / "config.json").write_text('{"seed": 0}')
  (place / "partial.py").write_text(
    "import ml_collections\ndef get_config():\n  return ml_collections.ConfigDict("
    "{'model_type': 'vgan'})\n"
  )
  (place / "plain.py").write_text("def get_config():\n  return {'model_type': 'vgan'}\n")
  for name, value in (("number", "5"), ("list", "['vgan']"), ("none", "None")):
    (place / f"{name}.py").write_text(f"def get_config():\n  return {value}\n")
  (place / "none_flags.txt").write_text(f"--config={place / 'none.py'}\n")
  (place / "no_type.py").write_text(
    "import ml_collections\ndef get_config():\n  return ml_collections.ConfigDict({'seed': 1})\n"
  )
  for name in ("vgan", "cvgan", "lstm"):
    (place / name).mkdir()
    (place / name / "config.json").write_text(helpers.load_config(name).to_json_best_effort())
  shutil.copytree(helpers.REPO / "relive_tf" / "assets" / "vgan_tiny", place / "vgan_tiny")
  return place


@pytest.mark.parametrize(
  "args,message", CASES, ids=[" ".join(args).replace(str(helpers.REPO), "") for args, _ in CASES]
)
def test_a_mistake_ends_in_one_line_without_traceback(place, args, message):
  result = helpers.run_cli(*[arg.format(tmp=place) for arg in args], cwd=place)
  assert result.returncode != 0
  assert "Traceback" not in result.stdout + result.stderr, result.stderr
  if not args:  # `relive` alone prints the usage
    assert message in result.stdout
    return
  errors = [line for line in result.stderr.splitlines() if ": error: " in line]
  assert len(errors) == 1, result.stderr
  program = f"relive {args[0]}" if args[0] != "dance" else "relive"
  assert errors[0].startswith(f"{program}: error: "), result.stderr
  assert message.format(tmp=place) in errors[0]


RUN = "--workdir={tmp}/run"
PACKAGE = helpers.REPO / "relive_tf"


def _train(config, *arguments):
  return ["train", f"--config={CONFIGS}/{config}.py:tiny", *arguments]


@pytest.mark.parametrize(
  "arguments, message",
  [
    (_train("vgan", RUN, "--config.train.num_steps=0"), "train.num_steps is 0; it must be"),
    (_train("vgan", RUN, "--config.data.size=0"), "data.size is 0; it must be a positive integer"),
    (_train("cvgan", RUN, "--config.train.nan_policy=retry"), "train.nan_policy is 'retry'; use"),
    (_train("lstm", RUN, "--config.model.motion_kernels=-1"), "model.motion_kernels is -1; it"),
    (_train("vgan", RUN, "--config.model_type=lstm"), "the config lacks model.blend_input, model"),
    (_train("vgan", "--workdir={tmp}/lstm"), "holds a model of type 'lstm', not 'vgan': use"),
    (_train("vgan", "--workdir={tmp}/vgan_tiny"), "is a model shipped with relive_tf (its"),
    (_train("vgan", "--workdir={tmp}/vgan_tiny/runs/a"), "is inside '{tmp}/vgan_tiny', a model"),
    (["generate", "--workdir={tmp}", "--out={tmp}/o"], "--workdir={tmp}: holds no config.json"),
    (["export", "--workdir={tmp}", "--export_dir={tmp}/e/m"], "--workdir={tmp}: holds no config"),
    (  # every workdir of several
      ["gallery", "--workdir={tmp}/vgan_tiny", "--workdir={tmp}", "--out={tmp}/s"],
      "--workdir={tmp}: holds no config.json",
    ),
    (
      _train("vgan", "--workdir={tmp}/list"),
      "list/config.json is not a config `relive train` wrote",
    ),
    # Outputs inside the package, whose files a reinstall replaces: generate wrote its videos
    # beside the shipped model's weights.
    (
      ["generate", "--workdir={tmp}/vgan_tiny", f"--out={PACKAGE}/assets/vgan_tiny"],
      f"--out={PACKAGE}/assets/vgan_tiny: is inside the relive_tf package ({PACKAGE}), whose",
    ),
    (["gallery", "--workdir={tmp}/vgan_tiny", f"--out={PACKAGE}/site"], "give a path outside it"),
    (["gallery", "--workdir={tmp}/vgan_tiny", f"--out=file://{PACKAGE}/s"], "is inside the relive"),
    (
      ["export", "--workdir={tmp}/vgan_tiny", f"--export_dir={PACKAGE}/assets/vgan"],
      "is inside the relive_tf package",
    ),
    (
      [
        "relive",
        "--workdir={tmp}/lstm",
        "--photo={tmp}/list/config.json",
        f"--out={PACKAGE}/a.gif",
      ],
      "is inside the relive_tf package",
    ),
    (
      ["prepare", "--format=folder", "--source={tmp}", f"--out={PACKAGE}/data"],
      "such as data/NAME",
    ),
  ],
)
def test_a_mistake_in_the_config_or_workdir_is_refused_before_tensorflow_loads(
  tmp_path, arguments, message
):
  # A `tensorflow` package that fails to import, first on the path: the refusal must come first.
  (tmp_path / "tensorflow").mkdir()
  (tmp_path / "tensorflow" / "__init__.py").write_text("raise ImportError('TensorFlow loaded')\n")
  (tmp_path / "lstm").mkdir()
  (tmp_path / "lstm" / "config.json").write_text(helpers.load_config("lstm").to_json_best_effort())
  shutil.copytree(helpers.REPO / "relive_tf" / "assets" / "vgan_tiny", tmp_path / "vgan_tiny")
  (tmp_path / "list").mkdir()
  (tmp_path / "list" / "config.json").write_text("[]")  # JSON, not a config: an AttributeError
  before = sorted(tmp_path.rglob("*"))
  result = subprocess.run(
    [
      os.path.join(os.path.dirname(sys.executable), "relive"),
      *[argument.format(tmp=tmp_path) for argument in arguments],
    ],
    env={**os.environ, "PYTHONPATH": str(tmp_path)},
    capture_output=True,
    text=True,
    timeout=120,
    check=False,
  )
  assert result.returncode in (1, 2)
  (line,) = result.stderr.splitlines()
  assert line.startswith(f"relive {arguments[0]}: error: "), line
  assert message.format(tmp=tmp_path) in line, line
  assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_a_workdir_that_cannot_be_read_before_tensorflow_loads_is_named_in_one_line(tmp_path):
  # check_settings reads config.json before TensorFlow loads; an OSError there was a traceback.
  (tmp_path / "tensorflow").mkdir()
  (tmp_path / "tensorflow" / "__init__.py").write_text("raise ImportError('TensorFlow loaded')\n")
  workdir = tmp_path / "lstm"
  workdir.mkdir()
  (workdir / "config.json").write_text(helpers.load_config("lstm").to_json_best_effort())
  code = (
    "import sys\n"
    "from relive_tf import cli, files\n"
    "def unreadable(path):\n"
    "  raise PermissionError(13, 'Permission denied', path)\n"
    "files.read_bytes = unreadable\n"
    "cli.run(['relive', 'train', *sys.argv[1:]])\n"
  )
  result = subprocess.run(
    [sys.executable, "-c", code, f"--config={CONFIGS}/vgan.py:tiny", f"--workdir={workdir}"],
    env={**os.environ, "PYTHONPATH": str(tmp_path)},
    capture_output=True,
    text=True,
    timeout=120,
    check=False,
  )
  assert result.returncode == 1
  assert result.stderr.splitlines() == [
    f"relive train: error: cannot use '{workdir}/config.json': permission denied; check the path "
    "and its permissions"
  ]
