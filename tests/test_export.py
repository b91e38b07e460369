"""SavedModel exports for TF Serving: versions, atomic writes, signatures, warm-up, the check."""

import io
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from relive_tf import families
from relive_tf.data import photos
from relive_tf.data import pipeline
from relive_tf.data import synthetic
from relive_tf.inference import generate
from relive_tf.inference import relive
from relive_tf.serving import check as check_lib
from relive_tf.serving import publish
from relive_tf.serving import servables
from relive_tf.serving import warmup

import helpers

VENV_BIN = os.path.dirname(sys.executable)
MODEL_TYPES = ("vgan", "cvgan", "lstm")
LSTM_CLIP_FRAMES = 6
# Tiny networks, trained for one step: what matters is that the trained weights are exported.
TINY = {
  "vgan": dict(
    model__noise_dim=8,
    model__generator_widths=(16, 8, 8, 4),
    model__critic_widths=(4, 8, 8, 8),
    train__critic_steps=1,
  ),
  "cvgan": dict(
    model__encoder_widths=(4, 8, 8, 8),
    model__generator_widths=(16, 8, 8, 4),
    model__critic_widths=(4, 8, 8, 8),
    train__critic_steps=1,
  ),
  "lstm": dict(
    model__encoder_widths=(4, 8, 8, 8),
    model__embedding_dim=16,
    model__lstm_units=16,
    model__decoder_widths=(8, 8, 8, 4),
    data__frames=LSTM_CLIP_FRAMES,
    train__context_frames=3,
  ),
}


@pytest.fixture(name="workdirs", scope="module")
def workdirs_fixture(trained_workdir):
  """model type -> a workdir trained for one step."""
  return {
    model_type: trained_workdir(
      model_type, train__num_steps=1, train__batch_size=2, train__num_samples=2, **TINY[model_type]
    )
    for model_type in MODEL_TYPES
  }


def _export(workdir, export_dir, **options):
  return publish.export(workdir, str(export_dir), families.FAMILIES.values(), **options)


@pytest.fixture(name="exports", scope="module")
def exports_fixture(workdirs, tmp_path_factory):
  """model type -> version 1 of it under one export root (which also holds a README); read only."""
  root = tmp_path_factory.mktemp("export")
  (root / "README.md").write_text("not a model")
  return {
    model_type: _export(workdir, root / model_type) for model_type, workdir in workdirs.items()
  }


def _copy(exports, model_type, model_dir):
  """A model folder holding version 1 of `model_type`, copied from `exports` (sooner than another
  export)."""
  shutil.copytree(os.path.dirname(exports[model_type]), model_dir)


def _network(workdir):
  trainer = helpers.restore(workdir).trainer
  return trainer.predictor if hasattr(trainer, "predictor") else trainer.sampling_generator


def _max_difference(first, second):
  return int(np.max(np.abs(first.astype(np.int64) - second.astype(np.int64))))


def _entries(folder):
  return sorted(os.listdir(folder))


def _clip(frames):
  return synthetic.moving_digits_clip(3, 5, frames=frames, size=64)


# Versions and where they are written.


def test_exports_are_numbered_versions_side_by_side(workdirs, tmp_path):
  model_dir = str(tmp_path / "vgan")
  first = _export(workdirs["vgan"], model_dir)
  second = _export(workdirs["vgan"], model_dir)
  assert (first, second) == (os.path.join(model_dir, "1"), os.path.join(model_dir, "2"))
  assert _entries(model_dir) == ["1", "2"]  # and no temporary folder left behind
  assert publish.model_versions(model_dir) == [1, 2]


def test_an_existing_version_is_refused_and_kept(workdirs, exports):
  model_dir = os.path.dirname(exports["vgan"])
  saved_model = os.path.join(exports["vgan"], "saved_model.pb")
  before = os.stat(saved_model).st_mtime_ns
  with pytest.raises(ValueError, match="already exists"):
    _export(workdirs["vgan"], model_dir, version=1)
  assert os.stat(saved_model).st_mtime_ns == before
  assert _entries(model_dir) == ["1"]


def test_another_kind_of_model_in_a_model_folder_is_refused(workdirs, exports, tmp_path, caplog):
  model_dir = tmp_path / "cvgan"
  _copy(exports, "cvgan", model_dir)
  caplog.clear()
  with caplog.at_level(logging.INFO, logger="absl"):
    with pytest.raises(ValueError, match=r"serves another kind of model \(version 1 has sig"):
      _export(workdirs["vgan"], model_dir)
  assert "exporting the video WGAN" in caplog.text
  assert "version" not in caplog.text  # no version announced that is not written
  assert _entries(model_dir) == ["1"]  # nothing new, no temporary folder left
  assert _export(workdirs["cvgan"], model_dir) == str(model_dir / "2")


def test_a_model_of_other_input_shapes_in_a_model_folder_is_refused(
  exports, trained_workdir, tmp_path
):
  # The same signature names, another noise size: every client's request would be refused.
  other = trained_workdir(
    "vgan", train__num_steps=1, train__batch_size=2, **{**TINY["vgan"], "model__noise_dim": 4}
  )
  model_dir = tmp_path / "vgan"
  _copy(exports, "vgan", model_dir)
  with pytest.raises(ValueError, match=re.escape("serving_default(noise float32 [-1, 8]); this")):
    _export(other, model_dir)
  assert _entries(model_dir) == ["1"]


def test_a_version_whose_saved_model_is_empty_is_passed_over(workdirs, tmp_path):
  # An empty saved_model.pb parses as a SavedModel of no graph: an IndexError traceback.
  model_dir = tmp_path / "vgan"
  (model_dir / "1").mkdir(parents=True)
  (model_dir / "1" / tf.saved_model.SAVED_MODEL_FILENAME_PB).write_bytes(b"")
  assert publish.signatures(str(model_dir / "1")) is None
  assert _export(workdirs["vgan"], model_dir) == str(model_dir / "2")


def test_an_explicit_version_is_used(workdirs, tmp_path):
  path = _export(workdirs["vgan"], tmp_path / "vgan", version=7)
  assert path == str(tmp_path / "vgan" / "7")


@pytest.mark.parametrize("version", [0, -3, 2**63])  # TF Serving reads versions as int64
def test_a_version_outside_1_to_the_int64_maximum_is_refused(workdirs, tmp_path, version):
  with pytest.raises(ValueError, match=f"integers from 1 to {2**63 - 1}"):
    _export(workdirs["vgan"], tmp_path / "vgan", version=version)
  assert not os.path.exists(tmp_path / "vgan" / str(version))


def test_a_version_below_the_highest_is_written_with_a_warning(workdirs, tmp_path, caplog):
  _export(workdirs["vgan"], tmp_path / "vgan", version=7)
  with caplog.at_level(logging.WARNING, logger="absl"):
    assert _export(workdirs["vgan"], tmp_path / "vgan", version=3) == str(tmp_path / "vgan" / "3")
  assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
    f"version 3 is below {tmp_path / 'vgan'}'s highest, 7, which TF Serving goes on serving"
  ]


def test_a_version_folder_as_export_dir_is_refused(workdirs, tmp_path):
  with pytest.raises(ValueError, match="export/NAME"):
    _export(workdirs["vgan"], tmp_path / "vgan" / "3")


def test_an_export_root_or_a_workdir_as_export_dir_is_refused_before_writing(
  workdirs, exports, tmp_path, monkeypatch
):
  _copy(exports, "vgan", tmp_path / "export" / "vgan")
  before = _entries(tmp_path / "export")
  with pytest.raises(ValueError, match=r"holds the models vgan: it is an export root; .*/NAME"):
    _export(workdirs["vgan"], tmp_path / "export")
  assert _entries(tmp_path / "export") == before
  (tmp_path / "other").mkdir()
  (tmp_path / "other" / publish.MODELS_CONFIG).write_text("")  # a root whose models were removed
  with pytest.raises(ValueError, match=r"holds models.config: it is an export root"):
    _export(workdirs["vgan"], tmp_path / "other")
  with pytest.raises(ValueError, match=r"is a training workdir; .*export/NAME"):
    _export(workdirs["vgan"], workdirs["vgan"])
  shipped = shutil.copytree(helpers.REPO / "relive_tf" / "assets" / "vgan_tiny", tmp_path / "s")
  with pytest.raises(ValueError, match=r"is a model shipped with relive_tf; .*export/NAME"):
    _export(workdirs["vgan"], shipped)
  # A model folder right inside a workdir would put models.config in the workdir.
  with pytest.raises(ValueError, match=r"is inside the training workdir .*, where models.config"):
    _export(workdirs["vgan"], os.path.join(workdirs["vgan"], "export"))
  monkeypatch.chdir(workdirs["vgan"])  # a relative path, given from inside the workdir
  with pytest.raises(ValueError, match=r"'export' is inside the training workdir"):
    _export(workdirs["vgan"], "export")
  assert not any(name.isdigit() or name == "export" for name in _entries(workdirs["vgan"]))
  assert publish.MODELS_CONFIG not in _entries(workdirs["vgan"])
  assert not os.path.exists(os.path.join(os.path.dirname(workdirs["vgan"]), publish.MODELS_CONFIG))


def test_an_interrupted_export_leaves_no_version_folder(workdirs, tmp_path, monkeypatch):
  def fail_midway(export_path, model_name, requests):
    del model_name, requests
    assert os.path.isfile(os.path.join(export_path, "saved_model.pb"))  # half written
    raise KeyboardInterrupt

  monkeypatch.setattr(warmup, "write_warmup_requests", fail_midway)
  with pytest.raises(KeyboardInterrupt):
    _export(workdirs["vgan"], tmp_path / "vgan")
  assert _entries(tmp_path / "vgan") == []
  assert not os.path.exists(tmp_path / publish.MODELS_CONFIG)


def test_models_config_lists_every_exported_model(exports):
  root = os.path.dirname(os.path.dirname(exports["vgan"]))
  with open(os.path.join(root, publish.MODELS_CONFIG)) as f:
    config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
  entries = [(c.name, c.base_path, c.model_platform) for c in config.model_config_list.config]
  assert entries == [(name, f"/models/{name}", "tensorflow") for name in sorted(MODEL_TYPES)]


def test_an_export_keeps_the_entries_of_models_config_it_did_not_write(workdirs, tmp_path):
  root = tmp_path / "deploy"
  _export(workdirs["vgan"], root / "vgan")
  _export(workdirs["lstm"], root / "lstm")
  config = publish.read_models_config(str(root))
  vgan_entry = next(entry for entry in config.model_config_list.config if entry.name == "vgan")
  vgan_entry.model_version_policy.all.SetInParent()  # serve every version: a hand edit
  config.model_config_list.config.add(name="remote", base_path="gs://bucket/remote")
  config.model_config_list.config.add(name="cvgan", base_path="gs://old/cvgan")  # stale
  config.model_config_list.config.add(name="remote", base_path="gs://bucket/twice")
  (root / publish.MODELS_CONFIG).write_text(text_format.MessageToString(config))
  shutil.rmtree(root / "lstm")  # a model whose folder is gone leaves the config
  _export(workdirs["cvgan"], root / "cvgan")
  listed = publish.read_models_config(str(root)).model_config_list.config
  assert [entry.name for entry in listed] == ["cvgan", "remote", "vgan"]  # one entry a name
  entries = {entry.name: entry for entry in listed}
  assert entries["remote"].base_path == "gs://bucket/remote"
  assert entries["vgan"].model_version_policy.HasField("all")
  assert entries["cvgan"].base_path == "/models/cvgan"  # the export, not what it listed before


@pytest.mark.parametrize(
  ("text", "message"),
  [
    ("model_config_list { config { nme: 'x' } }", r"is not a TF Serving model config .*; fix"),
    ("custom_model_config { }", r"holds a custom_model_config, which `relive export` cannot"),
  ],
)
def test_a_models_config_export_cannot_update_is_named_before_anything_is_written(
  workdirs, tmp_path, text, message
):
  (tmp_path / publish.MODELS_CONFIG).write_text(text)
  with pytest.raises(ValueError, match=f"models.config {message}"):
    _export(workdirs["vgan"], tmp_path / "vgan")
  assert not (tmp_path / "vgan").exists()


# What the SavedModels hold.


def test_a_clean_process_without_relive_tf_serves_what_the_keras_models_compute(
  workdirs, exports, tmp_path
):
  noise = tf.random.stateless_normal([3, 8], seed=[4, 2]).numpy()
  photos = _clip(3)
  context = _clip(2)[None]  # 2 frames: not the training context length
  np.savez(tmp_path / "inputs.npz", noise=noise, photos=photos, context=context)
  script = textwrap.dedent("""
      import sys
      sys.modules["relive_tf"] = None  # importing relive_tf now fails
      import numpy as np
      import tensorflow as tf
      vgan, cvgan, lstm = (tf.saved_model.load(path).signatures for path in sys.argv[1:])
      inputs = np.load("inputs.npz")
      np.savez("outputs.npz",
               video=vgan["serving_default"](noise=inputs["noise"])["video"],
               sample=vgan["sample"](count=tf.constant(2), seed=tf.constant(7, tf.int64))["video"],
               relived=cvgan["serving_default"](photo=inputs["photos"])["video"],
               frames=lstm["serving_default"](context=inputs["context"],
                                              future=tf.constant(3))["frames"])
      assert not [name for name in sys.modules if name.startswith("relive_tf.")]
      """)
  env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
  subprocess.run(
    [sys.executable, "-I", "-c", script, exports["vgan"], exports["cvgan"], exports["lstm"]],
    cwd=tmp_path,
    env=env,
    check=True,
  )
  outputs = np.load(tmp_path / "outputs.npz")
  generator = _network(workdirs["vgan"])
  expected = {
    "video": pipeline.to_uint8_video(generator(noise, training=False)).numpy(),
    "sample": generate.sample_videos(generator, 2, 7),  # what `relive generate --seed=7` writes
    "relived": np.concatenate(
      [relive.relive_videos(_network(workdirs["cvgan"]), photo, 1, 0) for photo in photos]
    ),
    "frames": pipeline.to_uint8_video(
      _network(workdirs["lstm"]).rollout(pipeline.to_float_video(context), 3)
    ).numpy(),
  }
  for name, value in expected.items():
    assert outputs[name].dtype == np.uint8, name
    assert outputs[name].shape == value.shape, name
    assert _max_difference(outputs[name], value) <= check_lib.CHECK_TOLERANCE, name
  assert expected["video"].shape == (3, 32, 64, 64, 3)
  assert expected["frames"].shape == (1, 3, 64, 64, 3)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_the_warmup_file_holds_one_request_per_signature_and_each_runs(exports, model_type):
  records = tf.data.TFRecordDataset(os.path.join(exports[model_type], warmup.WARMUP_FILE))
  requests = [
    prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
    for record in records
  ]
  model = tf.saved_model.load(exports[model_type])
  assert sorted(r.model_spec.signature_name for r in requests) == sorted(model.signatures)
  for request in requests:
    assert request.model_spec.name == model_type
    inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
    (output,) = model.signatures[request.model_spec.signature_name](**inputs).values()
    assert output.dtype == tf.uint8 and output.shape[2:] == (64, 64, 3)


SIGNATURES = {
  "vgan": {
    "serving_default": {"noise": ("DT_FLOAT", "(-1, 8)")},
    "sample": {"count": ("DT_INT32", "()"), "seed": ("DT_INT64", "()")},
  },
  "cvgan": {
    "serving_default": {"photo": ("DT_UINT8", "(-1, 64, 64, 3)")},
    "relive_image": {"image_bytes": ("DT_STRING", "(-1)")},
  },
  "lstm": {
    "serving_default": {
      "context": ("DT_UINT8", "(-1, -1, 64, 64, 3)"),
      "future": ("DT_INT32", "()"),
    }
  },
}


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_saved_model_cli_lists_the_signatures(exports, model_type):
  shown = subprocess.run(
    [os.path.join(VENV_BIN, "saved_model_cli"), "show", "--dir", exports[model_type], "--all"],
    capture_output=True,
    text=True,
    check=True,
  ).stdout
  listed = {}
  for block in shown.split("signature_def['")[1:]:
    name, body = block.split("']", 1)
    inputs = re.findall(r"inputs\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (.+)", body)
    listed[name] = {input_name: (dtype, shape) for input_name, dtype, shape in inputs}
  del listed["__saved_model_init_op"]
  assert listed == SIGNATURES[model_type]


# Bad requests.


BAD_SHAPES = [
  ("vgan", "serving_default", {"noise": np.zeros([2, 5], np.float32)}, r"noise \[2,5\]"),
  ("vgan", "sample", {"count": np.array([2], np.int32), "seed": np.array(0)}, r"count \[1\]"),
  (
    "cvgan",
    "serving_default",
    {"photo": np.zeros([1, 32, 32, 3], np.uint8)},
    r"photo \[1,32,32,3\]",
  ),
  (
    "lstm",
    "serving_default",
    {"context": np.zeros([1, 2, 32, 32, 3], np.uint8), "future": np.array(1, np.int32)},
    r"context \[1,2,32,32,3\]",
  ),
]


@pytest.mark.parametrize("model_type, signature, inputs, message", BAD_SHAPES)
def test_a_wrong_shape_is_rejected_naming_the_input(
  exports, model_type, signature, inputs, message
):
  function = tf.saved_model.load(exports[model_type]).signatures[signature]
  with pytest.raises(tf.errors.InvalidArgumentError, match=f"Shape of tensor {message}"):
    function(**{name: tf.constant(value) for name, value in inputs.items()})


@pytest.mark.parametrize(
  "model_type, inputs, name",
  [
    ("vgan", {"noise": tf.zeros([2, 8], tf.int32)}, "noise"),
    ("cvgan", {"photo": tf.zeros([1, 64, 64, 3], tf.float32)}, "photo"),
    (
      "lstm",
      {"context": tf.zeros([1, 2, 64, 64, 3], tf.uint8), "future": tf.constant(1, tf.int64)},
      "future",
    ),
  ],
)
def test_a_wrong_dtype_is_rejected_naming_the_input(exports, model_type, inputs, name):
  model = tf.saved_model.load(exports[model_type])
  with pytest.raises(TypeError, match=f"name='{name}'"):
    model.serving_default(**inputs)


@pytest.mark.parametrize(
  "model_type, signature, inputs, message",
  [
    (
      "vgan",
      "sample",
      {"count": np.array(0, np.int32), "seed": np.array(0)},
      "input count must be from 1 to",
    ),
    (
      "vgan",
      "sample",
      {"count": np.array(servables.MAX_VIDEOS + 1, np.int32), "seed": np.array(0)},
      "input count must be from 1 to",
    ),
    (
      "lstm",
      "serving_default",
      {"context": _clip(4)[None], "future": np.array(3, np.int32)},
      f"context frames \\+ future at most {LSTM_CLIP_FRAMES}",
    ),
    (
      "lstm",
      "serving_default",
      {"context": _clip(2)[None], "future": np.array(0, np.int32)},
      "input future must be at least 1",
    ),
    # A future of 10**9 frames was allocated before its check (the process aborted), and one near
    # 2**31 overflowed the check's sum.
    (
      "lstm",
      "serving_default",
      {"context": _clip(2)[None], "future": np.array(10**9, np.int32)},
      f"context frames \\+ future at most {LSTM_CLIP_FRAMES}",
    ),
    (
      "lstm",
      "serving_default",
      {"context": _clip(2)[None], "future": np.array(2**31 - 1, np.int32)},
      f"context frames \\+ future at most {LSTM_CLIP_FRAMES}",
    ),
    (
      "lstm",
      "serving_default",
      {"context": _clip(2)[None], "future": np.array(-1, np.int32)},
      "input future must be at least 1",
    ),
    (
      "cvgan",
      "relive_image",
      {"image_bytes": np.array([b"II*\x00 a TIFF, not a photo"])},
      "input image_bytes must hold JPEG, PNG, GIF, BMP or WebP files",
    ),
    # Batches of 0 and over the bound on one request's memory, and noise that is not a number.
    (
      "vgan",
      "serving_default",
      {"noise": np.zeros([0, 8], np.float32)},
      "the batch of input noise must hold from 1",
    ),
    (
      "vgan",
      "serving_default",
      {"noise": np.zeros([servables.MAX_VIDEOS + 1, 8], np.float32)},
      f"the batch of input noise must hold from 1 to {servables.MAX_VIDEOS}; got",
    ),
    (
      "vgan",
      "serving_default",
      {"noise": np.full([1, 8], np.nan, np.float32)},
      "input noise must be finite numbers",
    ),
    (
      "cvgan",
      "serving_default",
      {"photo": np.zeros([0, 64, 64, 3], np.uint8)},
      "the batch of input photo must hold from 1",
    ),
    (
      "cvgan",
      "relive_image",
      {"image_bytes": np.array([], bytes)},
      "the batch of input image_bytes must hold from 1",
    ),
    (
      "lstm",
      "serving_default",
      {"context": np.zeros([0, 2, 64, 64, 3], np.uint8), "future": np.array(1, np.int32)},
      "the batch of input context must hold from 1",
    ),
  ],
)
def test_a_value_out_of_range_is_rejected_naming_the_input(
  exports, model_type, signature, inputs, message
):
  function = tf.saved_model.load(exports[model_type]).signatures[signature]
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    function(**{name: tf.constant(value) for name, value in inputs.items()})


# Encoded photos.


def test_decode_photos_center_crops_the_longer_side():
  image = np.random.default_rng(0).integers(0, 256, [64, 160, 3], np.uint8)
  pictures = photos.decode_photos(tf.stack([tf.io.encode_png(image)]), 64).numpy()
  np.testing.assert_array_equal(pictures, image[None, :, 48:112])


def test_decode_photos_resizes_the_shorter_side_of_a_jpeg():
  image = np.zeros([200, 128, 3], np.uint8) + np.array([200, 40, 90], np.uint8)
  (photo,) = photos.decode_photos(tf.stack([tf.io.encode_jpeg(image, quality=100)]), 64).numpy()
  assert photo.shape == (64, 64, 3)
  assert np.abs(photo.astype(int) - [200, 40, 90]).max() <= 3


def _case_photos():
  """Photos the two paths once decoded differently: a sideways phone photo with EXIF orientation 6
  (case 17), 16-bit grays (case 18), a palette with a transparent entry, CMYK, a camera JPEG with
  a trailer."""

  def encode(image, image_format, **options):
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()

  scene = np.zeros((96, 128, 3), np.uint8)
  scene[:48], scene[48:], scene[:, :16] = (230, 30, 30), (30, 30, 230), (30, 230, 30)
  exif = Image.Exif()
  exif[0x0112] = 6
  palette = Image.new("P", (80, 64), 1)
  palette.putpalette([0, 0, 0, 200, 40, 90] + [0] * 762)
  palette.paste(0, (0, 0, 80, 20))
  jpeg = encode(Image.fromarray(scene), "JPEG", quality=90)
  return {
    "exif_orient6.jpg": encode(
      Image.fromarray(scene).transpose(Image.Transpose.ROTATE_90),
      "JPEG",
      quality=90,
      exif=exif.tobytes(),
    ),
    "gray16_uniform.png": encode(Image.fromarray(np.full((64, 80), 32768, np.uint16)), "PNG"),
    "gray16_dim.png": encode(
      Image.fromarray(np.tile(np.linspace(12288, 20480, 80).astype(np.uint16), (64, 1))), "PNG"
    ),
    "palette_alpha.png": encode(palette, "PNG", transparency=0),
    "cmyk.jpg": encode(Image.fromarray(scene).convert("CMYK"), "JPEG", quality=90),
    "trailer.jpg": jpeg + b"\x00" * 16 + jpeg,
  }


def test_the_served_signature_and_the_cli_make_the_same_video_from_the_same_bytes(
  workdirs, exports, tmp_path
):
  signature = tf.saved_model.load(exports["cvgan"]).signatures["relive_image"]
  generator = _network(workdirs["cvgan"])
  for name, data in _case_photos().items():
    (tmp_path / name).write_bytes(data)
    # What `relive relive --seed=0` makes, before the GIF or MP4 encoder.
    cli = relive.relive_videos(generator, photos.load_photo(str(tmp_path / name), 64), 1, seed=0)
    served = signature(image_bytes=tf.constant([data]))["video"].numpy()
    assert _max_difference(cli, served) <= check_lib.CHECK_TOLERANCE, name


def test_an_encoded_photo_gives_the_video_of_its_pixels(exports):
  signatures = tf.saved_model.load(exports["cvgan"]).signatures
  photos = _clip(2)
  encoded = tf.stack([tf.io.encode_png(photo) for photo in photos])
  from_bytes = signatures["relive_image"](image_bytes=encoded)["video"].numpy()
  from_pixels = signatures["serving_default"](photo=photos)["video"].numpy()
  np.testing.assert_array_equal(from_bytes, from_pixels)


# The generator users see.


@pytest.mark.parametrize("model_type", ["vgan", "cvgan"])
def test_generate_relive_and_export_use_the_moving_average_of_the_generator(
  trained_workdir, model_type, tmp_path, monkeypatch
):
  workdir = trained_workdir(
    model_type,
    train__num_steps=2,
    train__batch_size=2,
    train__num_samples=2,
    train__ema_decay=0.5,
    **TINY[model_type],
  )
  trained = helpers.restore(workdir)
  average, trained_weights = trained.trainer.ema_generator, trained.trainer.generator
  assert trained.trainer.sampling_generator is average
  # After two updates the average still lags the trained weights, so the two can be told apart.
  assert any(
    not np.array_equal(a, w) for a, w in zip(average.get_weights(), trained_weights.get_weights())
  )
  assert families.get(model_type).servable(trained).generator is average
  used = []

  class Recorded(Exception):
    """Stops the command once its generator is known: what it makes does not matter here."""

  def record(generator, *args, **kwargs):
    used.append(generator.get_weights())
    raise Recorded

  if model_type == "vgan":
    monkeypatch.setattr(generate, "sampled_batches", record)
    call = lambda: generate.generate(workdir, 1, str(tmp_path / "out"))
  else:
    monkeypatch.setattr(relive, "relive_videos", record)
    (tmp_path / "photo.png").write_bytes(tf.io.encode_png(_clip(1)[0]).numpy())
    call = lambda: relive.relive(workdir, str(tmp_path / "photo.png"), str(tmp_path / "v.gif"))
  with pytest.raises(Recorded):
    call()
  for used_weight, weight in zip(used[0], average.get_weights()):
    np.testing.assert_array_equal(used_weight, weight)


# --check.


def test_check_passes_for_a_faithful_export(workdirs, tmp_path):
  path = _export(workdirs["lstm"], tmp_path / "lstm", check=True)
  assert path == str(tmp_path / "lstm" / "1")


def test_check_fails_on_a_difference_and_publishes_nothing(workdirs, tmp_path, monkeypatch):
  faithful = servables.VideoWGANServable.reference_outputs

  def off_by_two(self, signature, inputs):
    return {
      name: np.clip(value.astype(np.int64) + 2, 0, 255).astype(np.uint8)
      for name, value in faithful(self, signature, inputs).items()
    }

  monkeypatch.setattr(servables.VideoWGANServable, "reference_outputs", off_by_two)
  with pytest.raises(check_lib.ExportCheckError, match="differs from the in-memory model by up to"):
    _export(workdirs["vgan"], tmp_path / "vgan", check=True)
  assert _entries(tmp_path / "vgan") == []


# The command line.


def test_cli_refuses_an_existing_version_with_a_message_and_no_traceback(workdirs, exports):
  result = helpers.run_cli(
    "export",
    f"--workdir={workdirs['vgan']}",
    f"--export_dir={os.path.dirname(exports['vgan'])}",
    "--version=1",
  )
  assert result.returncode == 1
  assert "relive export: error:" in result.stderr and "already exists" in result.stderr
  assert "Traceback" not in result.stderr
