"""Dataset layouts: which files of a source folder hold clips, and the split of each one."""

import codecs
import collections
import dataclasses
import os
import re
import zlib

from relive_tf import files
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
  if files.is_remote(source):
    return path[len(source.rstrip("/")) + 1 :]
  return os.path.relpath(path, source).replace(os.sep, "/")


def _walk(source, ignore=()):
  """Every file under `source`, following symbolic links to folders and files; each real file once.

  Hidden names (".*") are passed over. The order is fixed: a folder's files sorted by name, then
  its sub-folders in turn. A link to a folder already searched (a loop, or a second way in) and a
  second name of a file already listed are skipped with the first path in the reason, so the
  manifest shows them; so are broken links and folders that cannot be listed. Names that are not
  valid UTF-8 come as os.listdir gives them (surrogate escapes), which every later step handles.

  A remote `source` (gs://...) is searched in the same order; such filesystems have no links.

  Args:
    source: the folder to search.
    ignore: files to pass over silently (the split lists inside a UCF-101 tree).

  Returns:
    (paths, skipped): file paths under `source`, and Skipped entries.
  """
  if files.is_remote(source):
    return _walk_remote(source, ignore)
  ignore = {os.path.realpath(path) for path in ignore}
  paths, skipped = [], []
  status = os.stat(source)
  first_path = {(status.st_dev, status.st_ino): source}  # every file and folder met -> first path
  folders = [source]
  while folders:
    folder = folders.pop()
    try:
      entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
      skipped.append(Skipped(folder, f"folder cannot be listed: {error.strerror}"))
      continue
    subfolders = []
    for entry in entries:
      if entry.name.startswith("."):
        continue
      try:
        status = entry.stat()  # of the link's target
      except OSError:
        skipped.append(Skipped(entry.path, "broken symbolic link: its target does not exist"))
        continue
      key = (status.st_dev, status.st_ino)
      if key in first_path:
        kind = "folder" if entry.is_dir() else "file"
        skipped.append(
          Skipped(entry.path, f"the same {kind} as {first_path[key]} (a symbolic link): read once")
        )
        continue
      first_path[key] = entry.path
      if entry.is_dir():
        subfolders.append(entry.path)
      elif os.path.realpath(entry.path) not in ignore:
        paths.append(entry.path)
    folders.extend(reversed(subfolders))
  return paths, skipped


def _walk_remote(source, ignore):
  """_walk of a remote folder, through tf.io.gfile."""
  ignore = set(ignore)
  paths, skipped = [], []
  folders = [source.rstrip("/")]
  while folders:
    folder = folders.pop()
    try:
      names = sorted(files.listdir(folder))
    except OSError as error:
      skipped.append(Skipped(folder, f"folder cannot be listed: {error.strerror}"))
      continue
    subfolders = []
    for name in names:
      path = f"{folder}/{name}"
      if name.startswith(".") or path in ignore:
        continue
      if files.isdir(path):
        subfolders.append(path)
      else:
        paths.append(path)
    folders.extend(reversed(subfolders))
  return paths, skipped


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


def _files_of(source, extensions, what, ignore=()):
  """The files under `source` with one of `extensions`, and Skipped entries for all the others."""
  paths, skipped = _walk(source, ignore)
  chosen, others = _by_extension(paths, extensions, what)
  return chosen, skipped + others


def split_groups(groups, test_fraction):
  """Picks the test groups: those whose name hashes into the first `test_fraction` of the hash
  range, about that share of them.

  Each group's name decides, so adding videos moves no old group to the other split while the
  hash alone gives both splits a group. With at least two groups and test_fraction > 0, both
  splits get one: where the hash leaves a split empty (a few groups), the groups nearest the
  threshold move, and an added group can take that place. A single group stays in train.

  Args:
    groups: group names.
    test_fraction: share of the groups that goes to the test split, in [0, 1).

  Returns:
    The set of test group names.
  """

  def position(name):  # in [0, 1); surrogateescape: a name that is not UTF-8 hashes as its bytes
    return zlib.crc32(name.encode("utf-8", "surrogateescape")) / 2**32

  groups = sorted(set(groups), key=lambda name: (position(name), name))
  if len(groups) < 2:
    return set()
  count = sum(position(name) < test_fraction for name in groups)
  if test_fraction > 0:
    count = min(max(count, 1), len(groups) - 1)
  return set(groups[:count])


def _assign_splits(items, test_fraction):
  test_groups = split_groups([item.group for item in items], test_fraction)
  return [
    dataclasses.replace(item, split="test" if item.group in test_groups else "train")
    for item in items
  ]


def read_list(path, flag):
  """The first whitespace-separated field of each line of a text list, blank and "#" lines left out.

  Lists come as editors save them: a UTF-8 byte-order mark is ignored, and lines may end in LF,
  CRLF or CR. Bytes that are not UTF-8 (a Latin-1 file name) decode as os.listdir decodes such
  names, so the entry matches the file.

  Args:
    path: the text file.
    flag: the command-line flag that named it, for errors.

  Returns:
    A list of str.

  Raises:
    ValueError: the file cannot be read.
  """
  try:
    data = files.read_bytes(path)
  except OSError as error:
    raise ValueError(
      f"cannot read {flag}={path}: {error.strerror}; give an existing text file"
    ) from None
  if data.startswith(codecs.BOM_UTF8):
    data = data[len(codecs.BOM_UTF8) :]
  lines = data.decode("utf-8", "surrogateescape").splitlines()
  return [line.split()[0] for line in lines if line.strip() and not line.lstrip().startswith("#")]


def split_lists(split_files):
  """{split: [list file, ...]} from UCF-101 trainlistNN/testlistNN files.

  A single list brings its sibling (trainlist01.txt <-> testlist01.txt) from the same folder.

  Raises:
    ValueError: a file's name is not trainlistNN.txt or testlistNN.txt.
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
      if files.isfile(sibling):
        lists[other] = [sibling]
  return lists


def _where_listed(source, entries):
  """The folder one level above or below `source` that holds the listed files, or None.

  A source given one level off (the folder above the data set, or one of its sub-folders) is the
  commonest reason why no listed file is found.
  """
  sample = [entry for entry in entries if not os.path.isabs(entry)][:20]
  parent = os.path.dirname(files.absolute(source).rstrip("/"))
  try:
    children = sorted(
      os.path.join(source, name)
      for name in files.listdir(source)
      if files.isdir(os.path.join(source, name))
    )
  except OSError:
    children = []
  for candidate in [parent] + children:
    if any(files.isfile(os.path.join(candidate, entry)) for entry in sample):
      return candidate
  return None


def _nothing_listed_is_there(source, flag, entries, found):
  """The ValueError for lists none of whose entries is under `source`: where they are, if one level
  off, else what `source` holds instead."""
  where = _where_listed(source, entries)
  head = (
    f"--source={source}: none of the {len(entries)} files named in {flag} (e.g. "
    f"{entries[0]!r}) is there"
  )
  if where:
    return ValueError(f"{head}, but they are under {where}: use --source={where}")
  return ValueError(
    f"{head}; it holds {found}. Entries are paths relative to --source: give the "
    "folder they are relative to"
  )


def _ucf101(source, split_files, test_fraction):
  videos, skipped = _files_of(
    source, video_read.VIDEO_EXTENSIONS, "a video format", ignore=split_files
  )
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
  for split, paths in split_lists(split_files).items():
    for list_path in paths:
      for entry in read_list(list_path, "--split_file"):
        listed_as[entry.lower()] = (split, entry)
  listed = []
  for item in items:
    split, _ = listed_as.pop(item.id.lower(), (None, None))
    if split is None:
      skipped.append(Skipped(item.path, "not listed in the --split_file lists"))
    else:
      listed.append(dataclasses.replace(item, split=split))
  if listed_as and not listed:
    example = f", e.g. {items[0].id!r}" if items else ""
    raise _nothing_listed_is_there(
      source,
      "the --split_file lists",
      [entry for _, entry in sorted(listed_as.values())],
      f"{len(items)} UCF-101 videos{example}",
    )
  skipped.extend(
    Skipped(os.path.join(source, entry), "listed in a --split_file list but missing")
    for _, entry in sorted(listed_as.values())
  )
  return listed, skipped


def _vgan(source, index_file, test_fraction):
  if index_file:
    strips, skipped = [], []
    entries = read_list(index_file, "--index_file")
    for entry in entries:
      path = (
        entry if os.path.isabs(entry) or files.is_remote(entry) else os.path.join(source, entry)
      )
      if files.isfile(path):
        strips.append(path)
      else:
        skipped.append(Skipped(path, "listed in --index_file but missing"))
    if entries and not strips:
      found, _ = _walk(source)
      raise _nothing_listed_is_there(source, "--index_file", entries, _describe(found))
  else:
    strips, skipped = _files_of(source, video_read.STRIP_EXTENSIONS, "a JPEG strip")
  items = [
    Item(path, _relative(path, source), "strip", "train", group=_relative(path, source))
    for path in strips
  ]
  return _assign_splits(items, test_fraction), skipped


def _describe(paths):
  """What a list of files is, for errors: "12 files: 10 .txt, 2 .csv"."""
  if not paths:
    return "no files"
  extensions = collections.Counter(
    os.path.splitext(path)[1].lower() or "(no extension)" for path in paths
  )
  common = ", ".join(f"{count} {extension}" for extension, count in extensions.most_common(4))
  return f"{len(paths)} files: {common}" + (", ..." if len(extensions) > 4 else "")


def discover(layout, source, *, split_files=(), index_file=None, test_fraction=0.1):
  """Finds the files of a dataset layout and assigns each to the train or test split.

  Folders are searched recursively, following symbolic links (each real file once); see _walk.
  Text lists may carry a byte-order mark and CRLF line ends (read_list).

  Layouts:
    folder: any tree of video files (video_read.VIDEO_EXTENSIONS); each video is its own group.
    ucf101: UCF-101/<Class>/v_<Class>_gGG_cCC.avi (or another video extension). The official
      trainlistNN/testlistNN files give
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
    ValueError: unknown layout, a missing or unreadable source or list, no usable file (saying
      what was found and what was expected), or lists none of whose files is under `source`
      (saying where they are when `source` is one level off).
  """
  if layout not in FORMATS:
    raise ValueError(f"--format={layout!r} is not a known layout; use one of {', '.join(FORMATS)}")
  if not files.isdir(source):
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
    videos, skipped = _files_of(source, video_read.VIDEO_EXTENSIONS, "a video format")
    items = []
    for path in videos:
      item_id = os.path.basename(path) if layout == "aslan" else _relative(path, source)
      items.append(Item(path, item_id, "video", "train", group=_relative(path, source)))
    items = _assign_splits(items, test_fraction)
  if not items:
    expected = {
      "ucf101": "UCF-101 videos named v_<Class>_gGG_cCC.avi",
      "vgan": f"JPEG strips ({', '.join(video_read.STRIP_EXTENSIONS)})",
    }.get(layout, f"videos ({', '.join(video_read.VIDEO_EXTENSIONS)})")
    raise ValueError(
      f"--source={source} holds no usable {layout} files: found "
      f"{_describe([entry.path for entry in skipped])}, expected {expected}; check "
      "--source and --format"
    )
  return items, skipped
