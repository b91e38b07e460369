"""Peak memory of decoding large photos in one request, as the relive_image signature does.

  python bench/photo_memory.py                      # both forms, each in a process of its own
  python bench/photo_memory.py --photos=3 --side=6000

decode_photos takes the photos of a request one at a time; `tf.map_fn`'s default decodes up to 10
at once in a graph. Each form runs in a fresh subprocess (peak RSS never goes down) and prints its
peak RSS before and after decoding --photos black --side x --side PNGs to 64x64 in a tf.function.
"""

import io
import pathlib
import resource
import subprocess
import sys

from absl import app
from absl import flags

flags.DEFINE_integer("photos", 3, "photos in the request")
flags.DEFINE_integer("side", 6000, "their width and height in pixels")
flags.DEFINE_enum("form", None, ["one_at_a_time", "map_fn_default"], "run one form (internal)")
FLAGS = flags.FLAGS
REPO = pathlib.Path(__file__).resolve().parents[1]


def _gib():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(form):
  import relive_tf  # noqa: F401, I001, PLC0415 (turns oneDNN on before TensorFlow loads)

  import tensorflow as tf  # noqa: PLC0415
  from PIL import Image  # noqa: PLC0415

  from relive_tf.data import photos  # noqa: PLC0415

  buffer = io.BytesIO()
  Image.new("L", (FLAGS.side, FLAGS.side)).save(buffer, "PNG")
  data = tf.constant([buffer.getvalue()] * FLAGS.photos)
  if form == "one_at_a_time":
    decode = tf.function(lambda batch: photos.decode_photos(batch, 64))
  else:
    spec = tf.TensorSpec([64, 64, 3], tf.uint8)
    decode = tf.function(
      lambda batch: tf.map_fn(lambda x: photos.decode_photo(x, 64), batch, fn_output_signature=spec)
    )
  before = _gib()
  decode(data)
  print(f"{form}: peak RSS {_gib():.2f} GiB (before decoding {before:.2f})")


def main(_):
  if FLAGS.form:
    measure(FLAGS.form)
    return
  print(f"{FLAGS.photos} black {FLAGS.side}x{FLAGS.side} PNGs to 64x64 in one call")
  for form in ("one_at_a_time", "map_fn_default"):
    command = [sys.executable, __file__, f"--form={form}", f"--photos={FLAGS.photos}"]
    command.append(f"--side={FLAGS.side}")
    lines = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
    print(lines.strip())


if __name__ == "__main__":
  sys.path.insert(0, str(REPO))
  app.run(main)
