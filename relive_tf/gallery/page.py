"""The gallery's HTML: a section's media tiles, and the page from templates/index.html.j2."""

import datetime
import os
import urllib.parse

import jinja2
import markupsafe
import numpy as np
import tensorflow as tf
from PIL import Image

from relive_tf import files
from relive_tf.data import video_io

INDEX_FILE = "index.html"
MEDIA_DIR = "media"
# In every index.html the gallery writes (templates/index.html.j2): how a rebuild knows its own.
TITLE = "relive_tf gallery"
# On-page size of a video tile: the 64x64 clips are upscaled with pixelated rendering.
TILE_PIXELS = 128

_TEMPLATES = jinja2.Environment(
  loader=jinja2.PackageLoader("relive_tf.gallery", "templates"),
  autoescape=True,
  keep_trailing_newline=True,
)


def strip(frames):
  """uint8 [n, h, w, 3] -> one image [h, n * (w + 2) - 2, 3] of the frames left to right."""
  count, height, width, _ = frames.shape
  image = np.full((height, count * (width + 2) - 2, 3), 255, np.uint8)
  for i, frame in enumerate(frames):
    image[:, i * (width + 2) : i * (width + 2) + width] = frame
  return image


def _write_png(path, image):
  """uint8 [height, width, 3] -> a PNG file, written atomically."""
  with files.atomic_write(path, suffix=".png") as temporary:
    Image.fromarray(np.asarray(image)).save(temporary)


class Page:
  """One workdir's section: its HTML parts, and its media, which index.html finds under
  media/<section>/.

  Media are referred to relative to index.html, so that the site opens from disk and can be copied
  anywhere. Text given to the tile methods is escaped; `add` takes HTML.
  """

  def __init__(self, media_dir, media_url):
    """media_dir: where the media are written (a staging folder while the site is rebuilt);
    media_url: where index.html finds them, "media/<section>"."""
    self.media_dir = media_dir
    self.media_url = media_url
    self.parts = []

  def path(self, name):
    tf.io.gfile.makedirs(self.media_dir)
    return os.path.join(self.media_dir, name)

  def url(self, name):
    return urllib.parse.quote(f"{self.media_url}/{name}")

  def add(self, markup):
    self.parts.append(markupsafe.Markup(markup))

  def note(self, heading, text):
    """An <h3> heading (None: none) over a paragraph of plain text."""
    title = markupsafe.Markup("<h3>{}</h3>").format(heading) if heading else ""
    self.add(title + markupsafe.Markup('<p class="note">{}</p>').format(text))

  def video(self, name, video, caption):
    """Writes uint8 [frames, h, w, 3] as NAME.mp4 and NAME.gif; returns a tile that plays the MP4
    (the page's script swaps in the GIF where the browser cannot play H.264)."""
    video_io.write_video(self.path(f"{name}.mp4"), video)
    video_io.write_video(self.path(f"{name}.gif"), video)
    width = TILE_PIXELS * video.shape[2] // video.shape[1]
    return markupsafe.Markup(
      '<figure><video src="{mp4}" data-gif="{gif}" width="{width}" height="{height}" autoplay '
      'loop muted playsinline></video><figcaption>{caption} <a href="{gif}">gif</a> '
      '<a href="{mp4}">mp4</a></figcaption></figure>'
    ).format(
      mp4=self.url(name + ".mp4"),
      gif=self.url(name + ".gif"),
      width=width,
      height=TILE_PIXELS,
      caption=caption,
    )

  def strip(self, name, frames, caption):
    """Writes uint8 [n, h, w, 3] as one PNG, the frames left to right; returns its <img>."""
    _write_png(self.path(f"{name}.png"), strip(frames))
    return markupsafe.Markup('<img class="strip" src="{}" alt="{}">').format(
      self.url(name + ".png"), caption
    )

  def image(self, name, image, caption):
    """Writes uint8 [h, w, 3] as NAME.png; returns its tile."""
    _write_png(self.path(f"{name}.png"), image)
    width = TILE_PIXELS * image.shape[1] // image.shape[0]
    return markupsafe.Markup(
      '<figure><img src="{src}" width="{width}" height="{height}" alt="{caption}">'
      "<figcaption>{caption}</figcaption></figure>"
    ).format(src=self.url(name + ".png"), width=width, height=TILE_PIXELS, caption=caption)

  def chart(self, name, svg, alt, css_class="curve"):
    """Writes an SVG chart (charts.line_chart_svg) as NAME; returns its <img>."""
    files.write_text(self.path(name), svg)
    return markupsafe.Markup('<img class="{}" src="{}" alt="{}">').format(
      css_class, self.url(name), alt
    )

  def body(self):
    return markupsafe.Markup("").join(self.parts)


def grid(tiles):
  """Tiles side by side, wrapping."""
  return markupsafe.Markup('<div class="grid">{}</div>').format(markupsafe.Markup("").join(tiles))


def side_by_side(columns):
  """Columns of tiles beside each other, each under its heading: [(heading, tiles)]."""
  markup = markupsafe.Markup
  return markup('<div class="versus">{}</div>').format(
    markup("").join(
      markup('<div class="column"><h4>{}</h4>{}</div>').format(heading, grid(tiles))
      for heading, tiles in columns
    )
  )


def _number(value):
  return f"{value:.3g}"


def table(rows, row_labels, column_labels, missing="inf"):
  """An HTML table of {row: {column: number}}.

  Args:
    rows: {row key: {column key: number or None}}, in display order.
    row_labels: {row key: label}; keys without one show as they are.
    column_labels: {column key: label}, in display order.
    missing: what a None shows as (JSON's null: an infinite PSNR, nothing measured).
  """
  markup = markupsafe.Markup
  head = markup("").join(markup("<th>{}</th>").format(label) for label in column_labels.values())
  body = markup("").join(
    markup("<tr><th>{}</th>{}</tr>").format(
      row_labels.get(row, row),
      markup("").join(
        markup("<td>{}</td>").format(
          missing if values.get(column) is None else _number(values[column])
        )
        for column in column_labels
      ),
    )
    for row, values in rows.items()
  )
  return markup('<table class="metrics"><tr><th></th>{}</tr>{}</table>').format(head, body)


def write_index(out_dir, sections):
  """Renders templates/index.html.j2 with the sections into OUT_DIR/index.html.

  Args:
    out_dir: the site folder.
    sections: dicts of index, name, slug, model_type, step_text, path, summary [(key, value)],
      full_config (text) and body (Markup).

  Returns:
    The path of index.html.
  """
  built = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
  path = os.path.join(out_dir, INDEX_FILE)
  html = _TEMPLATES.get_template("index.html.j2").render(
    sections=sections, built=built, title=TITLE
  )
  files.write_text(path, html)
  return path


def is_gallery_index(path):
  """Whether the HTML file at `path` is an index.html the gallery wrote (its <title>)."""
  return f"<title>{TITLE}</title>" in files.read_bytes(path).decode("utf-8", "replace")
