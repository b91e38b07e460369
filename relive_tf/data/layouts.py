"""Dataset layouts: which files of a source folder hold clips, and the split of each one."""

import dataclasses
import os
import re
import zlib

from relive_tf.data import video_read

FORMATS = ("folder", "ucf101", "aslan", "vgan")
SPLITS = ("train", "test")

# UCF-101 names its videos v_<Class>_gGG_cCC.avi; a group's clips come from one long recording.
_UCF101_NAME = re.compile(r"^v_(?P<label>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$", re.IGNORECASE)
_SPLIT_LIST_NAME = re.compile(r"^(?P<split>train|test)list(?P<number>\d*)\.txt$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Item:
  """One source file to decode.

  Attributes:
    path: the file's path.
    id: the name stored with its clips: the path relative to the source ("/"-separated), or the
      file name for ASLAN.
    kind: "video" (a video file) or "strip" (a JPEG of frames stacked vertically).
    split: "train" or "test".
    label: the UCF-101 class; "" for the other formats.
    group: clips of one group always land in the same split.
  """

  path: str
  id: str
  kind: str
  split: str
  label: str = ""
  group: str = ""


@dataclasses.dataclass(frozen=True)
class Skipped:
  """A file of the source that gives no clips, and why."""

  path: str
  reason: str


def _relative(path, source):
  return os.path.relpath(path, source).replace(os.sep, "/")


def _walk(source, ignore=()):
  """Every non-hidden file under `source`, in a fixed (sorted) order, except those in `ignore`."""
  ignore = {os.path.abspath(path) for path in ignore}
  for folder, subfolders, files in os.walk(source):
    subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
    for name in sorted(files):
      path = os.path.join(folder, name)
      if not name.startswith(".") and os.path.abspath(path) not in ignore:
        yield path


def _by_extension(paths, extensions, what):
  """Splits paths into those with one of `extensions` and Skipped entries for the rest."""
  chosen, skipped = [], []
  for path in paths:
    extension = os.path.splitext(path)[1].lower()
    if extension in extensions:
      chosen.append(path)
    else:
      skipped.append(
        Skipped(
          path, f"extension {extension or '(none)'!r} is not {what} ({', '.join(extensions)})"
        )
      )
  return chosen, skipped


def split_groups(groups, test_fraction):
  """Picks the test groups: a fixed pseudo-random `test_fraction` of them, by a hash of the name.

  The choice depends on each group's name alone, so adding videos never moves an old group to the
  other split. With at least two groups and test_fraction > 0, both splits get at least one group.

  Args:
    groups: group names.
    test_fraction: share of the groups that goes to the test split, in [0, 1).

  Returns:
    The set of test group names.
  """
  groups = sorted(set(groups), key=lambda name: (zlib.crc32(name.encode()), name))
  count = round(test_fraction * len(groups))
  if test_fraction > 0 and len(groups) >= 2:
    count = min(max(count, 1), len(groups) - 1)
  return set(groups[:count])


def _assign_splits(items, test_fraction):
  test_groups = split_groups([item.group for item in items], test_fraction)
  return [
    dataclasses.replace(item, split="test" if item.group in test_groups else "train")
    for item in items
  ]


def _read_list(path, flag):
  """Non-empty, non-comment lines of a text file, each with its first whitespace-separated field."""
  try:
    with open(path, encoding="utf-8") as f:
      lines = [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
  except OSError as error:
    raise ValueError(
      f"cannot read {flag}={path}: {error.strerror}; give an existing text file"
    ) from None
  return lines


def _split_lists(split_files):
  """{split: [list file, ...]} from UCF-101 trainlistNN/testlistNN files.

  A single list brings its sibling (trainlist01.txt <-> testlist01.txt) from the same folder.
  """
  lists = {}
  for path in split_files:
    match = _SPLIT_LIST_NAME.match(os.path.basename(path))
    if not match:
      raise ValueError(
        f"--split_file={path}: the name must be trainlistNN.txt or testlistNN.txt, "
        "as in UCF-101's official ucfTrainTestlist folder"
      )
    lists.setdefault(match["split"].lower(), []).append(path)
    if len(split_files) == 1:
      other = "test" if match["split"].lower() == "train" else "train"
      sibling = os.path.join(os.path.dirname(path), f"{other}list{match['number']}.txt")
      if os.path.isfile(sibling):
        lists[other] = [sibling]
  return lists


def _ucf101(source, split_files, test_fraction):
  videos, skipped = _by_extension(_walk(source, ignore=split_files), (".avi",), "a UCF-101 video")
  items = []
  for path in videos:
    match = _UCF101_NAME.match(os.path.splitext(os.path.basename(path))[0])
    if not match:
      skipped.append(Skipped(path, "name does not follow UCF-101's v_<Class>_gGG_cCC.avi"))
      continue
    label = os.path.basename(os.path.dirname(path))
    items.append(
      Item(
        path,
        _relative(path, source),
        "video",
        "train",
        label=label,
        group=f"g{int(match['group']):02d}",
      )
    )
  if not split_files:
    return _assign_splits(items, test_fraction), skipped
  # The official lists name videos as <Class>/<file>.avi; one class differs in case from its files.
  listed_as = {}  # lower-case entry -> (split, entry as written)
  for split, paths in _split_lists(split_files).items():
    for list_path in paths:
      for entry in _read_list(list_path, "--split_file"):
        listed_as[entry.lower()] = (split, entry)
  listed = []
  for item in items:
    split, _ = listed_as.pop(item.id.lower(), (None, None))
    if split is None:
      skipped.append(Skipped(item.path, "not listed in the --split_file lists"))
    else:
      listed.append(dataclasses.replace(item, split=split))
  skipped.extend(
    Skipped(os.path.join(source, entry), "listed in a --split_file list but missing")
    for _, entry in sorted(listed_as.values())
  )
  return listed, skipped


def _vgan(source, index_file, test_fraction):
  if index_file:
    strips, skipped = [], []
    for entry in _read_list(index_file, "--index_file"):
      path = entry if os.path.isabs(entry) else os.path.join(source, entry)
      if os.path.isfile(path):
        strips.append(path)
      else:
        skipped.append(Skipped(path, "listed in --index_file but missing"))
  else:
    strips, skipped = _by_extension(_walk(source), video_read.STRIP_EXTENSIONS, "a JPEG strip")
  items = [
    Item(path, _relative(path, source), "strip", "train", group=_relative(path, source))
    for path in strips
  ]
  return _assign_splits(items, test_fraction), skipped


def discover(layout, source, *, split_files=(), index_file=None, test_fraction=0.1):
  """Finds the files of a dataset layout and assigns each to the train or test split.

  Layouts:
    folder: any tree of video files, searched recursively; each video is its own group.
    ucf101: UCF-101/<Class>/v_<Class>_gGG_cCC.avi. The official trainlistNN/testlistNN files give
      the splits (one of the pair is enough when the other sits beside it); without them the groups
      gGG are split, so clips of one group never land on both sides. The class is the label.
    aslan: a folder of ASLAN videos; the id is the file name.
    vgan: Vondrick et al.'s JPEG strips (frames stacked vertically), listed by `index_file` (paths
      relative to `source`) or found recursively.

  Args:
    layout: one of FORMATS (the --format flag).
    source: the dataset's folder.
    split_files: ucf101 only: the official split lists.
    index_file: vgan only: a text file listing the strips, one per line.
    test_fraction: share of groups in the test split when no split files are given.

  Returns:
    (items, skipped): a list of Item in a fixed order, and Skipped entries for the other files
    under `source` (with `index_file`: for the listed files that are missing; the unlisted ones
    are not looked at, since a subset of a large tree is what an index is for).

  Raises:
    ValueError: unknown layout, a missing or unreadable source or list, or no usable file.
  """
  if layout not in FORMATS:
    raise ValueError(f"--format={layout!r} is not a known layout; use one of {', '.join(FORMATS)}")
  if not os.path.isdir(source):
    raise ValueError(
      f"--source={source} is not a folder; give the folder that holds the {layout} videos"
    )
  if not 0 <= test_fraction < 1:
    raise ValueError(f"--test_fraction={test_fraction} must be in [0, 1)")
  if split_files and layout != "ucf101":
    raise ValueError(f"--split_file is for --format=ucf101, not {layout}; drop it")
  if index_file and layout != "vgan":
    raise ValueError(f"--index_file is for --format=vgan, not {layout}; drop it")
  if layout == "ucf101":
    items, skipped = _ucf101(source, list(split_files), test_fraction)
  elif layout == "vgan":
    items, skipped = _vgan(source, index_file, test_fraction)
  else:
    videos, skipped = _by_extension(_walk(source), video_read.VIDEO_EXTENSIONS, "a video format")
    items = []
    for path in videos:
      item_id = os.path.basename(path) if layout == "aslan" else _relative(path, source)
      items.append(Item(path, item_id, "video", "train", group=_relative(path, source)))
    items = _assign_splits(items, test_fraction)
  if not items:
    raise ValueError(
      f"--source={source} holds no usable {layout} files ({len(skipped)} other files "
      f"found); check --source and --format"
    )
  return items, skipped
