"""The conditional WGAN: shapes, names, the L2 term, reliving photos of any kind, clear errors."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from relive_tf import families
from relive_tf.data import photos
from relive_tf.data import pipeline
from relive_tf.data import synthetic
from relive_tf.evaluation import conditioning
from relive_tf.inference import relive
from relive_tf.metrics import image_quality
from relive_tf.models import cvgan
from relive_tf.training import trainer as trainer_lib
from relive_tf.training import workdir as workdir_lib

import helpers

TINY = dict(train__num_steps=1, train__batch_size=2, train__critic_steps=1, train__num_samples=1)


def _generator(model, noise_dim=None, skip_connections=True):
  return cvgan.ConditionalGenerator(
    model.noise_dim if noise_dim is None else noise_dim,
    model.encoder_widths,
    model.generator_widths,
    frames=32,
    size=64,
    skip_connections=skip_connections,
  )


def _photos(count, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (count, 64, 64, 3)).astype(np.float32)


def _keys(config, prefix=""):
  return {
    key
    for name, value in config.items()
    for key in (_keys(value, f"{prefix}{name}.") if hasattr(value, "items") else {prefix + name})
  }


@pytest.mark.parametrize("variant", ["default", "tiny"])
def test_the_config_has_the_video_wgans_keys_and_the_conditional_ones(make_config, variant):
  extra = _keys(make_config("cvgan", variant)) - _keys(make_config("vgan", variant))
  assert extra == {
    "model.condition_frame",
    "model.encoder_widths",
    "model.skip_connections",
    "train.l2_weight",
    "train.diversity_weight",
    "train.diversity_cap",
  }


@pytest.mark.parametrize("variant", ["default", "tiny"])
def test_encoder_code_video_and_critic_score_shapes(make_config, variant):
  model = make_config("cvgan", variant).model
  generator = _generator(model)
  photos = _photos(2)
  noise = np.ones((2, model.noise_dim), np.float32)
  code, scales = generator.encoder(photos)
  assert code.shape == (2, 2, 4, 4, model.generator_widths[0])
  assert [scale.shape for scale in scales] == [
    (2, 64 // 2**i, 64 // 2**i, width) for i, width in enumerate(model.encoder_widths, start=1)
  ]
  assert generator.latent_code(photos, noise).shape == (
    2,
    2,
    4,
    4,
    model.generator_widths[0] + model.noise_dim,
  )
  video = generator(photos, noise)
  assert video.shape == (2, 32, 64, 64, 3) and np.all(np.abs(video) <= 1.0)
  critic = cvgan.ConditionalCritic(model.critic_widths, model.critic_norm)
  assert critic(video, photos).shape == (2,)
  assert critic.get_layer("disc1").kernel.shape[-2] == 6  # the video's 3 channels and the photo's


def test_default_latent_code_is_the_posters(make_config):
  model = make_config("cvgan", "default").model
  assert _generator(model).encoder(_photos(1))[0].shape == (1, 2, 4, 4, 512)


def test_weights_read_like_the_poster_when_built_through_video_and_mask(make_config):
  model = make_config("cvgan", "tiny").model
  generator = _generator(model)
  photos, noise = _photos(1), np.zeros((1, model.noise_dim), np.float32)
  video, _ = generator.video_and_mask(photos, noise)  # how the trainer first calls it
  critic = cvgan.ConditionalCritic(model.critic_widths)
  critic(video, photos)
  paths = {v.path for v in generator.weights + critic.weights}
  assert {f"generator/encoder/encode{i}/kernel" for i in range(1, 6)} <= paths
  assert "generator/foreground_stream/deconv1/kernel" in paths
  assert "generator/background_stream/deconv1/kernel" in paths
  assert {f"discriminator/disc{i}/kernel" for i in range(1, 6)} <= paths


@pytest.mark.parametrize("skip_connections", [True, False])
def test_skips_give_each_background_layer_the_encoders_features(make_config, skip_connections):
  model = make_config("cvgan", "tiny").model
  generator = _generator(model, skip_connections=skip_connections)
  generator(_photos(1), np.zeros((1, model.noise_dim), np.float32))
  stream = generator.background_stream
  # A transposed convolution's kernel is [k, k, out, in]; the coarsest skip (4x4) comes first.
  inputs = [layer.kernel.shape[-1] for layer in [*stream.deconvs, stream.image_head]]
  widths = model.generator_widths
  skips = model.encoder_widths[::-1] if skip_connections else [0] * len(inputs)
  assert inputs == [width + skip for width, skip in zip(widths, skips)]


def test_noise_gives_one_photo_several_videos(make_config):
  model = make_config("cvgan", "tiny").model
  generator = _generator(model)
  photos = np.repeat(_photos(1), 2, axis=0)
  noise = np.random.default_rng(0).normal(size=(2, model.noise_dim)).astype(np.float32)
  video = generator(photos, noise)
  assert not np.allclose(video[0], video[1], atol=1e-4)


def test_a_generator_without_noise_takes_the_photo_alone(make_config):
  generator = _generator(make_config("cvgan", "tiny").model, noise_dim=0)
  assert generator(_photos(1)).shape == (1, 32, 64, 64, 3)


@pytest.mark.parametrize(
  "condition_frame,index", [("middle", 16), ("first", 0), ("7", 7), (31, 31)]
)
def test_condition_frame_names_an_index(condition_frame, index):
  assert cvgan.condition_index(condition_frame, frames=32) == index


@pytest.mark.parametrize("condition_frame", ["last", "32", "-1", 40])
def test_a_bad_condition_frame_is_refused(condition_frame):
  with pytest.raises(ValueError, match="model.condition_frame is .* from 0 to 31"):
    cvgan.condition_index(condition_frame, frames=32)


# The L2 term: a tiny model fit to one clip.


def _one_clip(make_config, **overrides):
  """A tiny model, a batch of one clip twice, and train(steps), fitting the model to the batch."""
  config = make_config(
    "cvgan", "tiny", train__batch_size=2, train__critic_steps=1, train__num_samples=2, **overrides
  )
  clip = pipeline.to_float_video(synthetic.moving_digits_clip(seed=0, index=3))
  batch = {
    "index": tf.constant([0, 1], tf.int64),
    "video": tf.stack([clip, clip]),
    "noise": tf.random.stateless_normal([2, config.model.noise_dim], seed=[0, 1]),
  }
  strategy = helpers.one_device()
  trainer = trainer_lib.build(families.get("cvgan"), config, strategy, batch)
  iterator = iter(
    strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch).repeat())
  )

  def train(steps):
    for _ in range(steps):
      trainer.train_step(iterator)

  return trainer, batch, train


# Measured with batch statistics (training=True), as the losses see the videos: batchnorm's moving
# averages (momentum 0.99) take hundreds of steps to catch up.


def _conditioning_psnr(trainer, batch):
  index = trainer.condition_index
  video = trainer.generator(trainer.photos(batch), batch["noise"], training=True)
  return float(
    tf.reduce_mean(
      image_quality.frame_psnr(video[:, index : index + 1], batch["video"][:, index : index + 1])
    )
  )


def _noise_spread(trainer, batch):
  """Mean |video - video from other noise| for the batch's photos, pixels in [-1, 1]."""
  photos = trainer.photos(batch)
  other = tf.random.stateless_normal(tf.shape(batch["noise"]), seed=[7, 7])
  return float(
    tf.reduce_mean(
      tf.abs(
        trainer.generator(photos, batch["noise"], training=True)
        - trainer.generator(photos, other, training=True)
      )
    )
  )


def test_the_l2_term_pulls_the_conditioning_frame_to_the_photo(make_config):
  trainer, batch, train = _one_clip(make_config)
  before = _conditioning_psnr(trainer, batch)
  train(15)
  after = _conditioning_psnr(trainer, batch)
  # The untrained generator scores about 12 dB; +5 dB is a squared error 3x smaller.
  assert after > before + 5.0, (before, after)


def test_the_diversity_term_makes_the_noise_change_the_video(make_config):
  spreads = {}
  for weight in (0.0, 10.0):
    trainer, batch, train = _one_clip(make_config, train__diversity_weight=weight)
    train(15)
    spreads[weight] = _noise_spread(trainer, batch)
  assert spreads[10.0] > 2 * spreads[0.0], spreads


@pytest.mark.parametrize(
  "overrides,message",
  [
    ({"train__diversity_weight": -1.0}, "diversity_weight is -1.0"),
    ({"train__diversity_cap": 0.0}, "diversity_cap 0.0"),
    ({"train__diversity_cap": float("nan")}, "diversity_cap nan"),
    ({"train__diversity_weight": 1.0, "model__noise_dim": 0}, "model.noise_dim is 0"),
  ],
)
def test_bad_diversity_settings_are_refused(make_config, overrides, message):
  config = make_config("cvgan", "tiny", **overrides)
  with pytest.raises(ValueError, match=message):
    trainer_lib.build(families.get("cvgan"), config, helpers.one_device())


# Reliving photos end to end.


@pytest.fixture(name="cvgan_workdir", scope="module")
def cvgan_workdir_fixture(trained_workdir):
  return trained_workdir("cvgan", **TINY)


def test_the_shared_loop_writes_encoder_histograms(cvgan_workdir):
  tags = set(helpers.summary_values(cvgan_workdir))
  assert {
    "generator/encoder/encode1/kernel",
    "generator/foreground_stream/deconv1/kernel",
    "discriminator/disc1/kernel",
    "train/conditioning_l2",
    "train/samples",
  } <= tags


def _write_image(path, mode, size, image_format):
  rng = np.random.default_rng(len(path))
  channels = {"L": None, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
  shape = size[::-1] if channels is None else (*size[::-1], channels)
  Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path, image_format)
  return path


PHOTO_KINDS = {
  "landscape.jpg": ("RGB", (120, 80), "JPEG"),
  "portrait_gray.jpg": ("L", (48, 100), "JPEG"),
  "gray_alpha.png": ("LA", (300, 200), "PNG"),
  "tiny.bmp": ("RGB", (20, 30), "BMP"),
  "alpha.webp": ("RGBA", (100, 64), "WEBP"),
}


@pytest.mark.parametrize("name", sorted(PHOTO_KINDS))
def test_every_image_kind_is_relived(cvgan_workdir, tmp_path, name):
  photo = _write_image(str(tmp_path / name), *PHOTO_KINDS[name])
  out = relive.relive(cvgan_workdir, photo, str(tmp_path / "video.gif"))
  with Image.open(out) as gif:
    assert (gif.n_frames, gif.size) == (32, (64, 64))


def test_side_by_side_mp4_holds_the_photo_then_each_video(cvgan_workdir, tmp_path):
  import imageio.v2 as imageio  # noqa: PLC0415 (loads ffmpeg, for this test only)

  ramp = np.linspace(0, 255, 80).astype(np.uint8)  # smooth, so that H.264 keeps it nearly intact
  photo = str(tmp_path / "photo.png")
  Image.fromarray(np.stack([np.tile(ramp, (64, 1))] * 3, axis=-1)).save(photo)
  out = relive.relive(
    cvgan_workdir, photo, str(tmp_path / "out" / "video.mp4"), num=2, side_by_side=True
  )
  frames = np.stack(imageio.mimread(out, format="FFMPEG"))
  assert frames.shape == (32, 64, 3 * 64, 3)
  # The left tile is the photo held still (up to H.264's loss).
  still = photos.load_photo(photo, 64).astype(np.float32)
  assert np.abs(frames[:, :, :64].astype(np.float32) - still).mean() < 4


def test_a_workdir_of_another_model_type_is_refused(make_config, tmp_path):
  workdir_lib.save_config(str(tmp_path), make_config("vgan", "tiny"))
  photo = _write_image(str(tmp_path / "photo.png"), "RGB", (64, 64), "PNG")
  with pytest.raises(ValueError, match="holds a model of type 'vgan'.*conditional WGAN"):
    relive.relive(str(tmp_path), photo, str(tmp_path / "video.gif"))


def test_an_unknown_video_extension_is_refused(cvgan_workdir, tmp_path):
  photo = _write_image(str(tmp_path / "photo.png"), "RGB", (64, 64), "PNG")
  with pytest.raises(ValueError, match="extension must be one of"):
    relive.relive(cvgan_workdir, photo, str(tmp_path / "video.avi"))


def test_held_out_scores_cover_every_frame_of_held_out_clips(cvgan_workdir):
  result = conditioning.held_out_scores(cvgan_workdir, num_clips=3, data_seed=1, batch_size=2)
  assert result["condition_index"] == 16 and result["step"] == 1
  for name in ("psnr", "still_psnr", "motion", "real_motion"):
    assert result[name].shape == (32,), name
  assert np.all(np.isfinite(result["psnr"]))
  # Holding the photo still reproduces its own frame exactly and no other.
  assert result["still_psnr"][16] == np.inf and np.all(
    np.isfinite(np.delete(result["still_psnr"], 16))
  )
  # The real digits move away from where the photo shows them, more with distance.
  assert result["real_motion"][16] == 0 and result["real_motion"][0] > result["real_motion"][15] > 0
  assert result["motion"].min() > 0  # an untrained generator copies no frame exactly
  assert result["noise_spread"] > 0 and np.isfinite(result["background_psnr"])


def test_held_out_scores_leave_out_what_the_model_lacks(make_config, tmp_path):
  config = make_config(
    "cvgan",
    "tiny",
    model__noise_dim=0,
    model__two_stream=False,
    train__num_steps=1,
    train__batch_size=2,
    train__critic_steps=1,
    train__num_samples=2,
  )
  helpers.train(config, tmp_path)
  result = conditioning.held_out_scores(str(tmp_path), num_clips=2)
  assert result["noise_spread"] is None and result["background_psnr"] is None
  assert result["psnr"].shape == (32,)


def test_held_out_scores_refuse_the_training_clips(cvgan_workdir):
  with pytest.raises(ValueError, match="data_seed is 0, the training seed"):
    conditioning.held_out_scores(cvgan_workdir, num_clips=1, data_seed=0)


def test_the_cli_relives_a_photo(cvgan_workdir, tmp_path):
  photo = _write_image(str(tmp_path / "photo.png"), "RGBA", (64, 96), "PNG")
  done = helpers.run_cli(
    "relive", f"--workdir={cvgan_workdir}", f"--photo={photo}", f"--out={tmp_path / 'video.gif'}"
  )
  assert done.returncode == 0, done.stderr
  with Image.open(tmp_path / "video.gif") as gif:
    assert (gif.n_frames, gif.size) == (32, (64, 64))


def test_the_cli_names_a_file_that_is_not_an_image_without_a_traceback(cvgan_workdir, tmp_path):
  not_a_photo = tmp_path / "notes.jpg"
  not_a_photo.write_text("not an image")
  done = helpers.run_cli(
    "relive",
    f"--workdir={cvgan_workdir}",
    f"--photo={not_a_photo}",
    f"--out={tmp_path / 'video.gif'}",
  )
  assert done.returncode == 1
  assert f"relive relive: error: '{not_a_photo}' is in a format relive does not read" in done.stderr
  assert "Traceback" not in done.stderr
  assert not os.path.exists(tmp_path / "video.gif")


def test_a_workdir_saved_before_the_later_keys_restores_as_it_was_trained(make_config, tmp_path):
  config = make_config(
    "cvgan",
    "tiny",
    model__skip_connections=False,
    train__num_steps=1,
    train__batch_size=2,
    train__critic_steps=1,
    train__num_samples=1,
  )
  helpers.train(config, tmp_path)
  photo = synthetic.moving_digits_clip(seed=1, index=0)[16]
  expected = relive.relive_videos(helpers.restore(tmp_path).trainer.generator, photo, num=1, seed=0)
  saved = json.loads((tmp_path / "config.json").read_text())
  del saved["model"]["skip_connections"], saved["train"]["diversity_weight"]
  del saved["train"]["diversity_cap"]
  (tmp_path / "config.json").write_text(json.dumps(saved))
  trainer = helpers.restore(tmp_path).trainer
  assert trainer.diversity_weight == 0.0
  np.testing.assert_array_equal(
    relive.relive_videos(trainer.generator, photo, num=1, seed=0), expected
  )


def test_relived_videos_come_a_batch_at_a_time_and_are_the_same_videos(cvgan_workdir):
  generator = helpers.restore(cvgan_workdir).trainer.sampling_generator
  photo = synthetic.moving_digits_clip(seed=1, index=0, frames=2)[0]
  whole = relive.relive_videos(generator, photo, num=5, seed=3)
  batched = relive.relive_videos(generator, photo, num=5, seed=3, batch_size=2)
  assert whole.shape[0] == 5 and len({video.tobytes() for video in whole}) == 5
  # The same videos in the same order; oneDNN sums in another order at another batch size, which
  # can move a value that sits on a rounding edge by one level.
  difference = np.abs(batched.astype(np.int16) - whole)
  assert difference.max() <= 1 and np.count_nonzero(difference) < 1e-4 * difference.size
