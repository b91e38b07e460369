"""Line charts in SVG: the gallery's training curves and the predictor's per-horizon plots."""

import html

COLORS = ("#1f6feb", "#d62728", "#2ca02c", "#9467bd")
_MARKED_POINTS = 30  # a series this short is easier to read with its points marked


def _nice(number):
  return f"{number:.3g}"


def line_chart_svg(title, xs, series, *, x_label="step", width=320, height=180):
  """A line chart of one or more series over shared x values, as an SVG document.

  Args:
    title: shown above the plot (a TensorBoard tag, a metric's name).
    xs: numbers [n], increasing, n >= 1.
    series: {label: values [n]}; a value may be None (e.g. an infinite PSNR), left out of its line.
      With more than one series, a legend names them.
    x_label: what x counts, written under the first x value.
    width, height: size of the drawing in pixels.

  Returns:
    The SVG text.
  """
  legend_width = 110 if len(series) > 1 else 0
  left, right, top, bottom = 56, 12 + legend_width, 26, 24
  plot_width, plot_height = width - left - right, height - top - bottom
  finite = [float(v) for values in series.values() for v in values if v is not None]
  low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
  if high - low < 1e-12 * max(1.0, abs(high)):
    low, high = low - max(1.0, abs(low)) * 0.05, high + max(1.0, abs(high)) * 0.05
  first, last = float(xs[0]), float(xs[-1])
  span = max(last - first, 1)

  def x_of(x):
    return left + plot_width / 2 if len(xs) == 1 else left + (float(x) - first) / span * plot_width

  def y_of(value):
    return top + (high - float(value)) / (high - low) * plot_height

  parts = [
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
    f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
    f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    f'<text x="{left}" y="16" font-size="12" font-weight="bold" fill="#222">'
    f"{html.escape(title)}</text>",
  ]
  for fraction in (0.0, 0.5, 1.0):
    y = top + fraction * plot_height
    parts.append(
      f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_width}" y2="{y:.1f}" stroke="#e3e3e3"/>'
    )
    parts.append(
      f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
      f"{_nice(high - fraction * (high - low))}</text>"
    )
  parts.append(
    f'<text x="{left}" y="{height - 6}" fill="#555">{html.escape(x_label)} {_nice(first)}</text>'
  )
  if last != first:
    parts.append(
      f'<text x="{left + plot_width}" y="{height - 6}" text-anchor="end" fill="#555">'
      f"{_nice(last)}</text>"
    )
  for number, (label, values) in enumerate(series.items()):
    color = COLORS[number % len(COLORS)]
    points = [(x_of(x), y_of(v)) for x, v in zip(xs, values) if v is not None]
    parts.append(
      f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}" '
      f'fill="none" stroke="{color}" stroke-width="1.5"/>'
    )
    if len(points) <= _MARKED_POINTS:
      parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in points)
    if legend_width:
      y = top + 8 + 16 * number
      parts.append(
        f'<line x1="{width - legend_width}" y1="{y}" x2="{width - legend_width + 18}" '
        f'y2="{y}" stroke="{color}" stroke-width="3"/>'
      )
      parts.append(
        f'<text x="{width - legend_width + 24}" y="{y + 4}" fill="#222">{html.escape(label)}</text>'
      )
  parts.append("</svg>")
  return "\n".join(parts) + "\n"
