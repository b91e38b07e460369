"""The one photo decoder of `relive relive` and relive_image (cases 17, 18 of issue 14)."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from PIL import ImageOps

from relive_tf.data import photos

SIZE = 16


def encode(image, image_format, **options):
  """The bytes of a PIL image saved as `image_format`."""
  buffer = io.BytesIO()
  image.save(buffer, image_format, **options)
  return buffer.getvalue()


def decode(data, size=SIZE):
  return photos.decode_photos(tf.constant([data]), size).numpy()[0]


def noise_image(height, width, seed=0):
  return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8))


def with_orientation(image, orientation, image_format="PNG"):
  exif = Image.Exif()
  exif[0x0112] = orientation
  options = {"quality": 95} if image_format == "JPEG" else {}
  return encode(image, image_format, exif=exif.tobytes(), **options)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_image_as_pil_does(orientation):
  data = with_orientation(noise_image(6, 10), orientation)
  assert int(photos.exif_orientation(tf.constant(data))) == orientation
  upright = photos.apply_orientation(tf.io.decode_png(data), orientation).numpy()
  np.testing.assert_array_equal(
    upright, np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
  )


@pytest.mark.parametrize(
  "data",
  [
    b"",
    b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00*\x00\x00\x00\xff",
    b"\x89PNG\r\n\x1a\n",
    encode(noise_image(4, 4), "GIF"),
    encode(noise_image(4, 4), "JPEG"),
  ],
)
def test_files_without_a_valid_orientation_are_upright(data):
  assert int(photos.exif_orientation(tf.constant(data))) == 1


def test_17_a_photo_stored_sideways_is_decoded_upright(tmp_path):
  upright = np.zeros((96, 128, 3), np.uint8)
  upright[:48] = (230, 30, 30)  # red sky above a blue sea, a green bar on the left
  upright[48:] = (30, 30, 230)
  upright[:, :16] = (30, 230, 30)
  # As the sensor stored it.
  sideways = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
  (tmp_path / "exif_orient6.jpg").write_bytes(with_orientation(sideways, 6, "JPEG"))
  photo = photos.load_photo(str(tmp_path / "exif_orient6.jpg"), 96)
  expected = decode(encode(Image.fromarray(upright), "PNG"), 96)
  assert np.abs(photo.astype(int) - expected).mean() < 2  # JPEG's loss only
  assert tuple(photo[10, 60]) > (200, 0, 0) and photo[80, 60, 2] > 200  # red on top, blue below


@pytest.mark.parametrize("value", [0, 257 * 7, 32768, 65535])
def test_18_a_uniform_16_bit_gray_keeps_its_level(value):
  data = encode(Image.fromarray(np.full((20, 24), value, np.uint16)), "PNG")
  np.testing.assert_array_equal(decode(data), round(value / 257))


def test_18_a_dim_16_bit_ramp_stays_dim():
  ramp = np.tile(np.linspace(12288, 20480, 64).astype(np.uint16), (64, 1))  # 48..80 of 255
  photo = decode(encode(Image.fromarray(ramp), "PNG"), 64)
  np.testing.assert_allclose(photo[0, :, 0], np.round(ramp[0] / 257), atol=1)


def test_an_8_bit_png_keeps_every_pixel():
  image = noise_image(SIZE, SIZE)
  np.testing.assert_array_equal(decode(encode(image, "PNG")), np.asarray(image))


@pytest.mark.parametrize(
  "mode, pixel, expected",
  [
    ("RGBA", (10, 200, 30, 0), (255, 255, 255)),  # transparent: the white matte
    ("RGBA", (10, 200, 30, 255), (10, 200, 30)),
    ("RGBA", (0, 0, 0, 128), (127, 127, 127)),  # half black over white
    ("LA", (0, 51), (204, 204, 204)),
  ],
)
def test_alpha_is_composited_over_white(mode, pixel, expected):
  data = encode(Image.new(mode, (SIZE, SIZE), pixel), "PNG")
  np.testing.assert_allclose(decode(data), np.broadcast_to(expected, (SIZE, SIZE, 3)), atol=1)


def test_a_palette_with_a_transparent_entry_shows_white_there():
  image = Image.new("P", (SIZE, SIZE), 1)
  image.putpalette([0, 0, 0, 200, 40, 90] + [0] * 762)
  image.paste(0, (0, 0, SIZE, SIZE // 2))  # the top half uses the transparent entry
  photo = decode(encode(image, "PNG", transparency=0))
  np.testing.assert_array_equal(photo[: SIZE // 2 - 2], 255)
  np.testing.assert_array_equal(
    photo[SIZE // 2 + 2 :], np.broadcast_to((200, 40, 90), (SIZE // 2 - 2, SIZE, 3))
  )


def _blocks():
  """A 16x16 RGB image of four coloured blocks."""
  blocks = np.zeros((SIZE, SIZE, 3), np.uint8)
  blocks[: SIZE // 2, : SIZE // 2] = (200, 0, 25)
  blocks[: SIZE // 2, SIZE // 2 :] = (0, 120, 250)
  blocks[SIZE // 2 :] = (30, 30, 30)
  return Image.fromarray(blocks)


# PIL writes palettes of at most 2, 4 and 16 colours with 1, 2 and 4 bits a pixel; TF's decoder,
# asked for 16 bits, returned them nearly white (an alpha of 1 in 65535).
@pytest.mark.parametrize("colors", [2, 4, 16])
def test_a_palette_png_of_fewer_than_8_bits_keeps_its_colors(colors):
  image = _blocks().convert("P", palette=Image.Palette.ADAPTIVE, colors=colors)
  data = encode(image, "PNG", bits=max(1, (colors - 1).bit_length()))
  assert data[24] < 8  # the IHDR bit depth
  np.testing.assert_array_equal(decode(data), np.asarray(image.convert("RGB")))


def test_a_1_bit_black_and_white_png_keeps_its_black():
  image = _blocks().convert("1")
  np.testing.assert_array_equal(decode(encode(image, "PNG")), np.asarray(image.convert("RGB")))


def test_an_8_bit_palette_bmp_is_looked_up_in_its_color_table():
  image = _blocks().convert("P", palette=Image.Palette.ADAPTIVE, colors=3)
  data = encode(image, "BMP")
  assert data[28] == 8  # bits a pixel
  np.testing.assert_array_equal(decode(data), np.asarray(image.convert("RGB")))


def test_a_grey_bmp_stays_grey():
  image = _blocks().convert("L")
  np.testing.assert_array_equal(decode(encode(image, "BMP")), np.asarray(image.convert("RGB")))


def test_a_1_bit_bmp_is_refused_saying_what_to_save_it_as(tmp_path):
  (tmp_path / "bw.bmp").write_bytes(encode(_blocks().convert("1"), "BMP"))
  with pytest.raises(
    ValueError, match="holds a BMP of 1, 4 or 16 bits a pixel, which relive does not read"
  ):
    photos.load_photo(str(tmp_path / "bw.bmp"), SIZE)


def test_a_cmyk_jpeg_is_converted_to_rgb():
  rgb = Image.new("RGB", (SIZE, SIZE), (200, 120, 40))
  photo = decode(encode(rgb.convert("CMYK"), "JPEG", quality=95))
  assert np.abs(photo.astype(int) - (200, 120, 40)).max() <= 4


@pytest.mark.parametrize("image_format, mode", [("GIF", "RGB"), ("PNG", "RGB"), ("WEBP", "RGBA")])
def test_an_animation_gives_its_first_frame(image_format, mode):
  # A WebP animation needs alpha (see the next test); 254 keeps PIL from dropping it.
  first, second = (
    Image.new(mode, (SIZE, SIZE), color + (254,)) for color in ((250, 0, 0), (0, 0, 250))
  )
  data = encode(first, image_format, save_all=True, append_images=[second], lossless=True)
  assert np.abs(decode(data).astype(int) - (250, 0, 0)).max() <= 4


def test_an_animated_webp_without_alpha_is_refused_rather_than_crashing_tensorflow(tmp_path):
  first, second = (Image.new("RGB", (SIZE, SIZE), color) for color in ((250, 0, 0), (0, 0, 250)))
  (tmp_path / "a.webp").write_bytes(encode(first, "WEBP", save_all=True, append_images=[second]))
  with pytest.raises(ValueError, match="animated WebP without alpha") as raised:
    photos.load_photo(str(tmp_path / "a.webp"), SIZE)
  assert "cannot be decoded (input image_bytes holds an animated WebP" in str(raised.value)
  assert "Summarized data" not in str(raised.value)  # the words alone, not TensorFlow's wrapping


def test_a_camera_jpeg_with_data_after_its_end_is_a_jpeg():
  jpeg = encode(noise_image(32, 32), "JPEG", quality=90)
  trailer = b"\x00" * 64 + encode(noise_image(8, 8, seed=1), "JPEG")  # a second image, as in MPO
  np.testing.assert_array_equal(decode(jpeg + trailer), decode(jpeg))


@pytest.mark.parametrize("image_format", ["BMP", "WEBP", "GIF"])
def test_other_formats_decode(image_format):
  photo = decode(encode(Image.new("RGB", (SIZE, 2 * SIZE), (40, 90, 200)), image_format))
  assert np.abs(photo.astype(int) - (40, 90, 200)).max() <= 6


def test_a_larger_photo_is_resized_and_center_cropped():
  wide = np.zeros((128, 256, 3), np.uint8)
  wide[..., 2] = 255
  wide[:, 48:208] = (255, 0, 0)  # a red middle, blue sides cropped away
  np.testing.assert_array_equal(
    decode(encode(Image.fromarray(wide), "PNG"), 64),
    np.broadcast_to(np.uint8([255, 0, 0]), (64, 64, 3)),
  )


def test_a_png_whose_header_is_over_the_pixel_limit_is_refused_before_decoding(tmp_path):
  data = bytearray(encode(Image.new("RGB", (4, 4)), "PNG"))
  data[16:24] = (200_000).to_bytes(4, "big") * 2  # 200,000 x 200,000 in IHDR
  (tmp_path / "huge.png").write_bytes(bytes(data))
  with pytest.raises(ValueError, match="header gives over 134217728 pixels"):
    photos.load_photo(str(tmp_path / "huge.png"), SIZE)


# A few kilobytes of WebP or GIF decoded to 16,000 x 9,000 took 7 to 8 GB: their headers' sizes
# are checked too. Each is a small image whose header is rewritten to 16,000 x 9,000.
def _huge(image_format):
  image = Image.new("RGB", (4, 4), (40, 90, 200))
  if image_format == "GIF":
    data = bytearray(encode(image, "GIF"))
    data[6:10] = (16000).to_bytes(2, "little") + (9000).to_bytes(2, "little")
  elif image_format == "BMP":
    data = bytearray(encode(image, "BMP"))
    data[18:26] = (16000).to_bytes(4, "little") + (-9000).to_bytes(4, "little", signed=True)
  elif image_format == "VP8L":
    data = bytearray(encode(image, "WEBP", lossless=True))
    assert data[12:16] == b"VP8L"
    bits = int.from_bytes(data[21:25], "little") & ~((1 << 28) - 1)
    data[21:25] = (bits | 15999 | 8999 << 14).to_bytes(4, "little")
  else:  # lossy VP8
    data = bytearray(encode(image, "WEBP", quality=80))
    assert data[12:16] == b"VP8 "
    data[26:30] = (16000).to_bytes(2, "little") + (9000).to_bytes(2, "little")
  return bytes(data)


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "VP8L", "VP8"])
def test_a_gif_bmp_or_webp_whose_header_is_over_the_pixel_limit_is_refused(tmp_path, image_format):
  (tmp_path / "huge").write_bytes(_huge(image_format))
  with pytest.raises(ValueError, match="header gives over 134217728 pixels"):
    photos.load_photo(str(tmp_path / "huge"), SIZE)


@pytest.mark.parametrize(
  "image_format, options",
  [("GIF", {}), ("BMP", {}), ("WEBP", {"lossless": True}), ("WEBP", {"quality": 80}), ("PNG", {})],
)
def test_the_pixel_count_read_from_a_header_is_the_images_own(image_format, options):
  data = encode(Image.new("RGB", (40, 24), (40, 90, 200)), image_format, **options)
  assert int(photos.header_pixel_count(tf.constant(data))) == 40 * 24


@pytest.mark.parametrize(
  "name, data, reason",
  [
    (
      "notes.jpg",
      b"not an image",
      r"is in a format relive does not read \(it starts with "
      r"b'not an i'\)",
    ),
    ("cut.png", encode(noise_image(64, 64), "PNG")[:300], "cannot be decoded"),
    ("photo.tif", encode(noise_image(4, 4), "TIFF"), "is in a format relive does not read"),
  ],
)
def test_bad_photos_are_refused_naming_the_file(tmp_path, name, data, reason):
  (tmp_path / name).write_bytes(data)
  with pytest.raises(
    ValueError,
    match=rf"{name}' {reason}.*: give a JPEG, PNG, GIF, BMP or WebP "
    "photo",
  ):
    photos.load_photo(str(tmp_path / name), SIZE)


def _with_thumbnail():
  """EXIF holding a JPEG thumbnail, whose own scan and end markers come before the photo's."""
  exif = Image.Exif()
  exif[0x0112] = 1
  return exif.tobytes() + encode(noise_image(8, 8, seed=1), "JPEG")


@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"exif": _with_thumbnail()}])
def test_a_cut_jpeg_is_refused_as_cut_short_and_libjpeg_prints_nothing(tmp_path, capfd, options):
  whole = encode(noise_image(64, 64), "JPEG", **options)
  path = tmp_path / "cut.jpg"
  path.write_bytes(whole)
  np.testing.assert_array_equal(photos.load_photo(str(path), SIZE), decode(whole))
  for size in (4, 300, len(whole) // 2, len(whole) - 2):
    path.write_bytes(whole[:size])
    with pytest.raises(ValueError, match=r"cut.jpg' is cut short: .* give the whole file$"):
      photos.load_photo(str(path), SIZE)
  assert "JPEG library" not in capfd.readouterr().err  # libjpeg's own line about a cut file


def test_a_missing_photo_is_refused(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    photos.load_photo(str(tmp_path / "missing.png"), SIZE)


def test_a_graph_decodes_bit_identically_to_the_command_line(tmp_path):
  # The served signature runs decode_photos in a graph; `relive relive` runs it eagerly.
  files = {
    "a.jpg": with_orientation(noise_image(40, 56), 6, "JPEG"),
    "b.png": encode(Image.fromarray(np.full((30, 20), 40000, np.uint16)), "PNG"),
    "c.png": encode(Image.new("RGBA", (50, 30), (10, 200, 30, 77)), "PNG"),
  }
  graph = tf.function(lambda data: photos.decode_photos(data, SIZE))
  served = graph(tf.constant(list(files.values()))).numpy()
  for (name, data), photo in zip(files.items(), served):
    (tmp_path / name).write_bytes(data)
    np.testing.assert_array_equal(photos.load_photo(str(tmp_path / name), SIZE), photo)
