"""One photo decoder in TensorFlow ops, for `relive relive` and the served relive_image."""

import re

import tensorflow as tf

from relive_tf import files
from relive_tf.data import video_read

FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WebP")
MATTE = 255.0  # the grey level that shows through transparent pixels (white)
# Larger images are refused before decoding, by the size their header gives: one would need
# gigabytes (200 bytes a pixel on the way through the float resize), and a small WebP or GIF can
# give 16,000 x 9,000. 128 megapixels is a 16-bit-per-channel 13,000 x 9,800 photo.
MAX_PIXELS = 1 << 27
_UNKNOWN = "input image_bytes must hold JPEG, PNG, GIF, BMP or WebP files"
# EXIF sits in the JPEG's first APP1 segment (at most 64 KB, after SOI and maybe APP0) or in a PNG
# eXIf chunk before the image data; only the head of a file is searched.
_HEAD_BYTES = 1 << 17
_MAX_SEGMENTS = 64  # JPEG segments or PNG chunks looked at before giving up
_MAX_IFD_ENTRIES = 64  # TIFF tags of IFD0 looked at; Orientation (0x0112) sorts early
_ORIENTATION_TAG = 0x0112
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _head(data):
  """The first _HEAD_BYTES bytes of a string scalar as int64 [_HEAD_BYTES], zero-padded."""
  head = tf.cast(tf.io.decode_raw(tf.strings.substr(data, 0, _HEAD_BYTES), tf.uint8), tf.int64)
  return tf.pad(head, [[0, _HEAD_BYTES - tf.shape(head, out_type=tf.int64)[0]]])


def _byte(head, index):
  """head[index] for int64 indices of any shape; 0 outside the head."""
  inside = (index >= 0) & (index < _HEAD_BYTES)
  return tf.where(inside, tf.gather(head, tf.clip_by_value(index, 0, _HEAD_BYTES - 1)), 0)


def _bytes_equal(head, start, expected):
  """Whether head[start:start + len(expected)] equals the bytes `expected`."""
  indices = start + tf.range(len(expected), dtype=tf.int64)
  return tf.reduce_all(tf.equal(_byte(head, indices), tf.constant(list(expected), tf.int64)))


def _integer(head, offset, size, little_endian):
  """The unsigned integer in head[offset:offset + size], int64, for offsets of any shape; its byte
  order little- or big-endian by `little_endian`, a bool or a bool tensor (TIFF says which)."""
  weights = [256**k for k in range(size)]
  weights = tf.where(
    little_endian, tf.constant(weights, tf.int64), tf.constant(weights[::-1], tf.int64)
  )
  offset = tf.convert_to_tensor(offset, tf.int64)[..., None]
  return tf.reduce_sum(_byte(head, offset + tf.range(size, dtype=tf.int64)) * weights, axis=-1)


def _jpeg_exif_start(head):
  """Offset of the TIFF header in a JPEG's "Exif\\0\\0" APP1 segment, or -1."""

  def searching(count, position, found):
    marker = _byte(head, position + 1)
    return (
      (count < _MAX_SEGMENTS)
      & (found < 0)
      & (_byte(head, position) == 0xFF)
      & (marker != 0xDA)
      & (marker != 0xD9)
      & (position + 4 < _HEAD_BYTES)
    )

  def next_segment(count, position, found):
    length = _integer(head, position + 2, 2, little_endian=False)
    is_exif = (_byte(head, position + 1) == 0xE1) & _bytes_equal(head, position + 4, b"Exif\0\0")
    return count + 1, position + 2 + length, tf.where(is_exif, position + 10, found)

  start = (tf.constant(0), tf.constant(2, tf.int64), tf.constant(-1, tf.int64))
  return tf.while_loop(searching, next_segment, start)[2]


def _png_chunk_start(head, name):
  """Offset of the data of a PNG's chunk `name` (4 bytes) before its image data, or -1."""

  def searching(count, position, found):
    return (
      (count < _MAX_SEGMENTS)
      & (found < 0)
      & (position + 8 <= _HEAD_BYTES)
      & ~_bytes_equal(head, position + 4, b"IDAT")
      & ~_bytes_equal(head, position + 4, b"IEND")
    )

  def next_chunk(count, position, found):
    length = _integer(head, position, 4, little_endian=False)
    is_named = _bytes_equal(head, position + 4, name)
    return count + 1, position + 12 + length, tf.where(is_named, position + 8, found)

  start = (tf.constant(0), tf.constant(len(_PNG_SIGNATURE), tf.int64), tf.constant(-1, tf.int64))
  return tf.while_loop(searching, next_chunk, start)[2]


def _tiff_orientation(head, start):
  """The Orientation tag (1..8) of the TIFF structure at head[start:], or 1 (none, or invalid)."""
  little = _bytes_equal(head, start, b"II")
  big = _bytes_equal(head, start, b"MM")

  def number(offset, size):
    return _integer(head, offset, size, little)

  directory = start + number(start + 4, 4)
  entries = directory + 2 + 12 * tf.range(_MAX_IFD_ENTRIES, dtype=tf.int64)
  kinds = number(entries + 2, 2)
  # SHORT (3) by the standard; some writers store a LONG (4), whose value takes 4 bytes.
  values = tf.where(kinds == 4, number(entries + 8, 4), number(entries + 8, 2))
  is_orientation = (
    (tf.range(_MAX_IFD_ENTRIES, dtype=tf.int64) < number(directory, 2))
    & (number(entries, 2) == _ORIENTATION_TAG)
    & ((kinds == 3) | (kinds == 4))
  )
  value = tf.reduce_max(tf.where(is_orientation, values, 0))
  valid = (start >= 0) & (little | big) & (value >= 1) & (value <= 8)
  return tf.cast(tf.where(valid, value, 1), tf.int32)


def exif_orientation(data):
  """The EXIF orientation of a JPEG (APP1 segment) or PNG (eXIf chunk), parsed with TF ops.

  Args:
    data: string [], an encoded image.

  Returns:
    int32 [] in 1..8 (the EXIF values: 1 upright, 6 stored turned a quarter counter-clockwise...);
    1 for other formats and for files without a valid Orientation tag.
  """
  return _orientation(_head(data))


def _orientation(head):
  """exif_orientation of the file whose _head is `head`."""
  start = tf.switch_case(
    _format_index(head),
    [
      lambda: _jpeg_exif_start(head),
      lambda: _png_chunk_start(head, b"eXIf"),
    ],
    default=lambda: tf.constant(-1, tf.int64),
  )
  return _tiff_orientation(head, start)


def apply_orientation(image, orientation):
  """Turns an image [height, width, channels] upright by its EXIF orientation (1..8).

  The transforms are those of PIL's ImageOps.exif_transpose: 2 mirror, 3 half turn, 4 flip, 5
  transpose, 6 quarter turn clockwise, 7 transverse, 8 quarter turn counter-clockwise.
  """
  transposed = lambda: tf.transpose(image, [1, 0, 2])
  return tf.switch_case(
    tf.convert_to_tensor(orientation, tf.int32) - 1,
    [
      lambda: image,
      lambda: tf.reverse(image, [1]),
      lambda: tf.reverse(image, [0, 1]),
      lambda: tf.reverse(image, [0]),
      transposed,
      lambda: tf.reverse(transposed(), [1]),
      lambda: tf.reverse(transposed(), [0, 1]),
      lambda: tf.reverse(transposed(), [0]),
    ],
  )


def _format_index(head):
  """0..4: the FORMATS entry whose signature the file of `head` starts with; 5 for none."""
  known = tf.stack(
    [
      _bytes_equal(head, 0, b"\xff\xd8\xff"),
      _bytes_equal(head, 0, _PNG_SIGNATURE),
      _bytes_equal(head, 0, b"GIF87a") | _bytes_equal(head, 0, b"GIF89a"),
      _bytes_equal(head, 0, b"BM"),
      _bytes_equal(head, 0, b"RIFF") & _bytes_equal(head, 8, b"WEBP"),
      True,
    ]
  )
  return tf.cast(tf.argmax(tf.cast(known, tf.int32)), tf.int32)


def is_still_photo(path):
  """Whether a file starts like a JPEG, PNG, BMP or WebP, whatever its name says (a .jfif, a .jpe,
  none): what `relive predict` reads as a photo rather than a video (a GIF is a video there)."""
  # open() takes names that are not valid UTF-8 (surrogate-escaped), as files.read_bytes does.
  with tf.io.gfile.GFile(path, "rb") if files.is_remote(path) else open(path, "rb") as f:
    head = f.read(_HEAD_BYTES)
  return int(_format_index(_head(tf.constant(head)))) in (0, 1, 3, 4)  # not GIF (2), nor none


def _webp_pixel_count(head):
  """Canvas width x height of a WebP: its VP8X chunk, else the lossy (VP8) or lossless (VP8L)
  bitstream's header; 0 when none is found."""

  def number(offset, size):  # RIFF is little-endian
    return _integer(head, offset, size, little_endian=True)

  vp8x = (1 + number(24, 3)) * (1 + number(27, 3))
  # VP8: 14 bits of width and of height, each under 2 bits of scale; VP8L: a 0x2F byte, then
  # width - 1 and height - 1 in 14 bits each.
  lossy = (number(26, 2) % (1 << 14)) * (number(28, 2) % (1 << 14))
  bits = number(21, 4)
  lossless = (1 + bits % (1 << 14)) * (1 + bits // (1 << 14) % (1 << 14))
  return tf.where(
    _bytes_equal(head, 12, b"VP8X"),
    vp8x,
    tf.where(
      _bytes_equal(head, 12, b"VP8 "),
      lossy,
      tf.where(_bytes_equal(head, 12, b"VP8L"), lossless, tf.constant(0, tf.int64)),
    ),
  )


def header_pixel_count(data):
  """Width x height of an encoded image by its header, read before decoding: what MAX_PIXELS
  bounds.

  Args:
    data: string [], a JPEG, PNG, GIF (its logical screen), BMP or WebP (its canvas) file.

  Returns:
    int64 []; 0 for other formats and where the header does not say.
  """
  return _pixel_count(data, _head(data))


def _pixel_count(data, head):
  """header_pixel_count of the file whose _head is `head`."""
  png_sides = [_integer(head, offset, 4, little_endian=False) for offset in (16, 20)]
  # A BMP's sides are signed 32-bit (a negative height: rows stored top down).
  bmp_sides = [_integer(head, offset, 4, little_endian=True) for offset in (18, 22)]
  bmp_sides = [tf.where(side >= 1 << 31, (1 << 32) - side, side) for side in bmp_sides]
  return tf.switch_case(
    _format_index(head),
    [
      lambda: tf.reduce_prod(tf.io.extract_jpeg_shape(data, output_type=tf.int64)[:2]),
      lambda: tf.where(_bytes_equal(head, 12, b"IHDR"), png_sides[0] * png_sides[1], 0),
      lambda: _integer(head, 6, 2, little_endian=True) * _integer(head, 8, 2, little_endian=True),
      lambda: bmp_sides[0] * bmp_sides[1],
      lambda: _webp_pixel_count(head),
    ],
    default=lambda: tf.constant(0, tf.int64),
  )


def _with_alpha(image, alpha_range=None):
  """uint [h, w, 3 or 4] -> float32 [h, w, 4]: RGB in grey levels (0..255 as floats), alpha 0..1.

  With alpha_range, the image has 4 channels whose values span 0..alpha_range (65535 for 16-bit PNG,
  whose colors are scaled by 257, the format's range: 65535 / 255).
  """
  image = tf.cast(image, tf.float32)
  if alpha_range is None:
    return tf.concat([image, tf.ones_like(image[..., :1])], axis=-1)
  return tf.concat([image[..., :3] * (255.0 / alpha_range), image[..., 3:] / alpha_range], axis=-1)


def _decode_rgba(data, head):
  """An encoded image -> float32 [h, w, 4] (see _with_alpha), the first frame of an animation."""

  def webp():
    frame = tf.io.decode_webp(data)[0]  # 3 or 4 channels, as stored
    opaque = tf.fill(tf.concat([tf.shape(frame)[:2], [1]], 0), tf.constant(255, tf.uint8))
    rgba = tf.cond(
      tf.shape(frame)[-1] == 4, lambda: frame, lambda: tf.concat([frame[..., :3], opaque], axis=-1)
    )
    return _with_alpha(tf.ensure_shape(rgba, [None, None, 4]), 255.0)

  def png():
    # Every PNG as 16 bits (8-bit ones come back x257, so /257 restores them exactly), but one of
    # fewer than 8 bits a pixel without a tRNS chunk, whose alpha TF's decoder gives as the
    # depth's largest value (1 of 255 for 1 bit: the photo went white); it is opaque.
    bits = _byte(head, tf.constant(24, tf.int64))
    return tf.cond(
      (bits < 8) & (_png_chunk_start(head, b"tRNS") < 0),
      lambda: _with_alpha(tf.io.decode_png(data, channels=3)),
      lambda: _with_alpha(tf.io.decode_png(data, channels=4, dtype=tf.uint16), 65535.0),
    )

  return tf.switch_case(
    _format_index(head),
    [
      lambda: _with_alpha(tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")),
      png,
      lambda: _with_alpha(tf.io.decode_gif(data)[0]),
      lambda: _with_alpha(_decode_bmp(data, head)),
      webp,
    ],
  )


def _decode_bmp(data, head):
  """A BMP of 8, 24 or 32 bits a pixel -> uint8 [h, w, 3].

  TF's decoder reads an 8-bit BMP's palette indices as grey levels: they are looked up in its
  color table here (4 bytes an entry, blue, green, red, unused, after the info header). 32-bit
  BMPs often hold 0 where alpha would be: their fourth byte is not trusted.
  """
  bits = _integer(head, 28, 2, little_endian=True)
  readable = tf.debugging.Assert(
    (bits == 8) | (bits == 24) | (bits == 32),
    [
      "input image_bytes holds a BMP of 1, 4 or 16 bits a pixel, which relive does not read; "
      "save it as PNG, or as a BMP of 24 bits"
    ],
  )

  def from_palette():
    indices = tf.cast(tf.io.decode_bmp(data, channels=0)[..., 0], tf.int64)
    entries = 14 + _integer(head, 14, 4, little_endian=True) + 4 * tf.range(256, dtype=tf.int64)
    table = tf.stack([_byte(head, entries + 2), _byte(head, entries + 1), _byte(head, entries)], -1)
    return tf.cast(tf.gather(table, indices), tf.uint8)

  with tf.control_dependencies([readable]):
    return tf.cond(bits == 8, from_palette, lambda: tf.io.decode_bmp(data, channels=3))


def decode_photo(data, size):
  """One encoded photo as the conditional WGAN takes it.

  TF Serving runs the exported signature without relive_tf, so this is made of TF ops only; the
  command line calls the same function (load_photo), so both give the same pixels. What TF's
  decoders leave out is done here. The photo is upright by its EXIF orientation; palette,
  grayscale and CMYK become RGB; 16-bit PNGs are scaled by 65535 / 255, so a 50 % grey stays 128
  whatever the image's own range; alpha is composited over white (MATTE); an animated GIF, PNG or
  WebP gives its first frame; bytes after a JPEG's end (a camera's second image or trailer) are
  ignored. Then the shorter side is resized to `size` (Lanczos, antialiased) and the longer one
  center-cropped.

  Args:
    data: string [], a whole JPEG, PNG, GIF, BMP or WebP file.
    size: side of the square photo in pixels.

  Returns:
    uint8 [size, size, 3].

  Raises:
    tf.errors.InvalidArgumentError: not one of these formats, over MAX_PIXELS, or a corrupt file.
  """
  head = _head(data)
  known = tf.debugging.Assert(_format_index(head) < len(FORMATS), [_UNKNOWN])
  # TF 2.21's WebP decoder gives an animation without the alpha flag 3 channels of memory and
  # writes 4 into it: the process dies of heap corruption. Its VP8X flags (byte 20) tell.
  vp8x_flags = tf.where(_bytes_equal(head, 12, b"VP8X"), _byte(head, tf.constant(20, tf.int64)), 0)
  safe = tf.debugging.Assert(
    (_format_index(head) != 4) | (vp8x_flags & 0x02 == 0) | (vp8x_flags & 0x10 != 0),
    [
      "input image_bytes holds an animated WebP without alpha, which TensorFlow's decoder cannot "
      "read safely; give its first frame as PNG or JPEG"
    ],
  )
  with tf.control_dependencies([known, safe]):
    small = tf.debugging.Assert(
      _pixel_count(data, head) <= MAX_PIXELS,
      [
        f"input image_bytes holds an image whose header gives over {MAX_PIXELS} pixels: resize "
        "it, or it is corrupt"
      ],
    )
  with tf.control_dependencies([small]):
    image = apply_orientation(_decode_rgba(data, head), _orientation(head))
  image = image[..., :3] * image[..., 3:] + MATTE * (1.0 - image[..., 3:])
  height, width = tf.shape(image)[0], tf.shape(image)[1]
  scale = size / tf.cast(tf.minimum(height, width), tf.float32)
  resized = [
    tf.maximum(size, tf.cast(tf.round(tf.cast(side, tf.float32) * scale), tf.int32))
    for side in (height, width)
  ]
  image = tf.image.resize(image, resized, method="lanczos3", antialias=True)
  top, left = (resized[0] - size) // 2, (resized[1] - size) // 2
  image = image[top : top + size, left : left + size]
  return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def decode_photos(image_bytes, size):
  """decode_photo over a batch: string [batch] -> uint8 [batch, size, size, 3].

  One photo at a time: a large one takes gigabytes on its way to size x size (docs/benchmarks.md,
  "Serving"), and map_fn would otherwise decode up to 10 at once in a graph.
  """
  return tf.map_fn(
    lambda data: decode_photo(data, size),
    image_bytes,
    fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8),
    parallel_iterations=1,
  )


def _not_a_photo(path, reason):
  return ValueError(f"{path!r} {reason}: give a {', '.join(FORMATS[:-1])} or {FORMATS[-1]} photo")


def load_photo(path, size):
  """Reads a photo file the way the served relive_image signature reads its bytes (decode_photos).

  Args:
    path: a JPEG, PNG, GIF, BMP or WebP file (str, bytes or os.PathLike; any name).
    size: side of the square result in pixels.

  Returns:
    uint8 [size, size, 3].

  Raises:
    ValueError: the file is missing, not one of these formats, too large, or corrupt.
  """
  if not files.isfile(path):
    raise _not_a_photo(path, "is not a file" if files.isdir(path) else "does not exist")
  data = files.read_bytes(path)
  if not data:
    raise _not_a_photo(path, "is an empty file (0 bytes)")
  if _format_index(_head(tf.constant(data))) == len(FORMATS):
    raise _not_a_photo(path, f"is in a format relive does not read (it starts with {data[:8]!r})")
  if data.startswith(b"\xff\xd8\xff") and video_read.jpeg_is_cut(data):
    raise ValueError(
      f"{path!r} is cut short: its JPEG data stops before the image ends (an unfinished download "
      "or copy?): give the whole file"
    )
  try:
    return decode_photos(tf.constant([data]), size).numpy()[0]
  except tf.errors.InvalidArgumentError as error:
    raise _not_a_photo(path, f"cannot be decoded ({_complaint(error.message)})") from None


def _complaint(message):
  """The decoder's or the assertion's own words in a TF error message, without TF's call sites,
  function names and graph nodes."""
  # Python quotes the bytes with " when they hold a ' (TensorFlow's).
  summarized = re.search(r"Summarized data: b(['\"])(.*)\1", message)
  if summarized:
    return summarized[2]
  line = message.strip().splitlines()[-1]
  line = re.sub(r"^\s*\w+Error: |\{\{[^}]*\}\}\s*|\s*\[Op:.*$|\s*\[\[.*$", "", line)
  return line.removeprefix("assertion failed: ").strip("[] ")
