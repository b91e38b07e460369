"""Reliving a photo: a trained conditional WGAN makes the video the photo could have come from."""

import os

import numpy as np
import tensorflow as tf
from absl import logging
from PIL import Image
from PIL import ImageOps
from PIL import UnidentifiedImageError

from relive_tf.data import pipeline
from relive_tf.data import video_io
from relive_tf.training import checkpoints
from relive_tf.training import cvgan as cvgan_training
from relive_tf.training import workdir as workdir_lib

PHOTO_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")
_MATTE = (255, 255, 255)  # what shows through transparent pixels


def _not_a_photo(path, reason):
  return ValueError(f"{path!r} {reason}: give a JPEG, PNG, BMP or WebP photo")


def load_photo(path, size):
  """Reads a photo as the conditional WGAN sees it.

  Any size and aspect; grayscale, palette and 16-bit images become RGB, transparent pixels show
  white, camera rotation (EXIF) is applied. The shorter side is resized to `size` and the longer one
  center-cropped.

  Args:
    path: a JPEG, PNG, BMP or WebP file (the first frame of an animated one).
    size: side of the square result in pixels.

  Returns:
    uint8 [size, size, 3].

  Raises:
    ValueError: the file is missing, not an image, of another format, or unreadable.
  """
  if not os.path.isfile(path):
    raise _not_a_photo(path, "is not a file" if os.path.exists(path) else "does not exist")
  try:
    with Image.open(path) as image:
      if image.format not in PHOTO_FORMATS:
        raise _not_a_photo(path, f"is a {image.format} image")
      image = ImageOps.exif_transpose(image)
      image.load()
  except UnidentifiedImageError:
    raise _not_a_photo(path, "is not an image") from None
  except (OSError, Image.DecompressionBombError) as error:  # truncated, corrupt or huge
    raise _not_a_photo(path, f"cannot be read ({error})") from None
  image = _to_rgb(image)
  width, height = image.size
  scale = size / min(width, height)
  resized = (max(size, round(width * scale)), max(size, round(height * scale)))
  image = image.resize(resized, Image.Resampling.LANCZOS, reducing_gap=3.0)
  left, top = (resized[0] - size) // 2, (resized[1] - size) // 2
  return np.asarray(image.crop((left, top, left + size, top + size)), np.uint8)


def _to_rgb(image):
  """A PIL image of any mode -> RGB, alpha composited over the matte."""
  if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
    # 16-bit and float grayscale: scale to 8 bits by the image's own range rather than clipping.
    values = np.asarray(image, np.float64)
    low, high = values.min(), values.max()
    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    image = Image.fromarray(np.round(scaled).astype(np.uint8), "L")
  if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
    matte = Image.new("RGBA", image.size, _MATTE + (255,))
    return Image.alpha_composite(matte, image.convert("RGBA")).convert("RGB")
  return image.convert("RGB")


def relive_videos(generator, photo, num, seed):
  """num videos made around one photo, each from its own noise.

  Args:
    generator: a trained cvgan.ConditionalGenerator.
    photo: uint8 [size, size, 3].
    num: number of videos.
    seed: noise seed: the same seed gives the same videos.

  Returns:
    uint8 [num, frames, size, size, 3].
  """
  photos = tf.repeat(pipeline.to_float_video(photo)[None], num, axis=0)
  noise = (
    tf.random.stateless_normal([num, generator.noise_dim], seed=[seed, 0])
    if generator.noise_dim
    else None
  )
  return pipeline.to_uint8_video(generator(photos, noise, training=False)).numpy()


def relive(workdir, photo, out, num=1, seed=0, side_by_side=False):
  """Writes the video(s) a trained conditional WGAN makes around a photo.

  Args:
    workdir: a conditional WGAN workdir written by `relive train --config=configs/cvgan.py`.
    photo: path of a JPEG, PNG, BMP or WebP image.
    out: the video to write, GIF or MP4 by its extension.
    num: videos to make from the photo, laid out side by side in one file.
    seed: noise seed: the same seed gives the same videos.
    side_by_side: put the photo, held still, to the left of the videos.

  Returns:
    out.

  Raises:
    ValueError: num below 1, an unknown video extension, a photo that cannot be read, or a workdir
      without a trained conditional WGAN.
  """
  if num <= 0:
    raise ValueError(f"num is {num}; ask for at least one video")
  extension = os.path.splitext(out)[1].lower().lstrip(".")
  if extension not in video_io.VIDEO_FORMATS:
    raise ValueError(f"out is {out!r}; its extension must be one of {video_io.VIDEO_FORMATS}")
  config, family = workdir_lib.load_config(workdir, cvgan_training.FAMILY, "reliving a photo")
  picture = load_photo(photo, config.data.size)
  trained = checkpoints.restore(workdir, config, family)
  if num > 1 and not config.model.noise_dim:
    logging.warning("this model has no noise (model.noise_dim=0): the %d videos are the same", num)
  logging.info(
    "reliving %s with %s at step %d (the photo is frame %d of %d)",
    photo,
    workdir,
    trained.step,
    trained.trainer.condition_index,
    config.data.frames,
  )
  videos = relive_videos(trained.trainer.generator, picture, num, seed)
  if side_by_side:
    still = np.repeat(picture[None, None], config.data.frames, axis=1)
    videos = np.concatenate([still, videos], axis=0)
  if os.path.dirname(out):
    os.makedirs(os.path.dirname(out), exist_ok=True)
  video_io.write_video(out, video_io.tile_videos(videos, columns=len(videos)))
  return out
