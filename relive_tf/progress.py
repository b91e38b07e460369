"""Progress of long jobs other than training (a tqdm bar), and durations and counts as people read
them."""

import sys

import tqdm

# A bar redraws on a terminal; in a log file each redraw is a line, so it redraws less often there.
_TERMINAL_SECONDS = 0.2
_LOG_SECONDS = 10.0


def bar(*, total, desc, unit, initial=0, disable=False):
  """A tqdm progress bar on stderr: done / total, rate and time left. Use as a context manager.

  Args:
    total: units of work in all.
    desc: what is being done, the bar's label.
    unit: what is counted ("file", "clip", "step").
    initial: units already done (a resumed job).
    disable: count without showing anything (a job run inside another that reports itself).
  """
  return tqdm.tqdm(
    total=total,
    desc=desc,
    unit=unit,
    initial=initial,
    disable=disable,
    file=sys.stderr,
    mininterval=_TERMINAL_SECONDS if sys.stderr.isatty() else _LOG_SECONDS,
    dynamic_ncols=True,
  )


def format_duration(seconds):
  """Seconds as "4m07s", or "2h05m" from an hour on."""
  seconds = int(seconds)
  if seconds >= 3600:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
  return f"{seconds // 60}m{seconds % 60:02d}s"


def counted(number, noun):
  """ "1 clip", "0 clips", "2 processes": a count and its noun, plural unless the count is one."""
  if number == 1:
    return f"{number} {noun}"
  return f"{number} {noun}es" if noun.endswith(("s", "x", "ch", "sh")) else f"{number} {noun}s"
