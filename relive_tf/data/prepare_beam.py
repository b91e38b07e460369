"""`relive prepare --runner=beam`: the decode, cut and encode steps of prepare.py on Apache Beam."""

import collections
import dataclasses
import os
import shlex
import socket

import apache_beam as beam
from absl import logging
from apache_beam.options import pipeline_options

from relive_tf import files
from relive_tf.data import layouts
from relive_tf.data import prepare
from relive_tf.data import shards
from relive_tf.data import video_read
from relive_tf.data import workers


@dataclasses.dataclass(frozen=True)
class Decoded:
  """One decoded file of the dataset.

  Attributes:
    position: the file's place in the dataset's fixed order (layouts.discover).
    item: the layouts.Item.
    clips: (start frame, encoded clip) pairs; empty when skipped.
    warning: the reader's warning (a cut file) or None.
    reason: why the file gives no clip, or None.
    worker: the Beam worker that decoded it, "host:process".
  """

  position: int
  item: layouts.Item
  clips: list
  warning: str | None
  reason: str | None
  worker: str


class DecodeFiles(beam.DoFn):
  """(position, layouts.Item) -> Decoded, by prepare.decode_file in a decoding process of this
  worker's own (workers.DecodingPool): a file that crashes or hangs the decoder is skipped with
  its reason, as on the processes runner. A remote file is copied to a local one first."""

  def __init__(self, spec, timeout_s):
    self._spec = spec
    self._timeout_s = timeout_s
    self._pool = None
    self._worker = None

  def setup(self):
    self._pool = workers.DecodingPool(1, self._timeout_s)
    self._worker = f"{socket.gethostname()}:{os.getpid()}"

  def process(self, element):
    position, item = element
    try:
      with video_read.local_file(item.path) as local:
        result, reason = self._pool.call(
          prepare.decode_file, dataclasses.replace(item, path=local), self._spec
        )
    except video_read.UnusableVideoError as error:
      result, reason = None, str(error)
    clips, warning = result if reason is None else ([], None)
    yield Decoded(position, item, clips, warning, reason, self._worker)

  def teardown(self):
    if self._pool is not None:
      self._pool.close()


def shard_plan(sizes, shard_bytes):
  """Where each file's clips go: a split's clips in the dataset's order, cut into consecutive runs
  of about equal bytes (each clip goes to the shard its middle byte falls in), as many runs as the
  split's bytes hold shards of `shard_bytes` (one at least, at most one per clip).

  Args:
    sizes: (split, position, [encoded bytes of each clip]) of every decoded file.
    shard_bytes: the shard size asked for, in bytes.

  Returns:
    {split: {"before": {position: (clips, bytes) of the split before the file's first clip},
    "bytes": the split's bytes, "shards": its shard count}}.
  """
  plan = {}
  for split in {split for split, _, _ in sizes}:
    before, clips, total = {}, 0, 0
    for position, clip_sizes in sorted((p, c) for s, p, c in sizes if s == split):
      before[position] = (clips, total)
      clips += len(clip_sizes)
      total += sum(clip_sizes)
    shards_count = min(clips, max(1, round(total / shard_bytes)))
    plan[split] = {"before": before, "bytes": total, "shards": shards_count}
  return plan


def _sizes(decoded):
  return decoded.item.split, decoded.position, [len(clip) for _, clip in decoded.clips]


def _records(decoded, plan):
  """((split, shard number), (clip number in the split, serialized record)) for each clip."""
  split = plan[decoded.item.split]
  item = decoded.item
  number, offset = split["before"][decoded.position]
  for start_frame, clip in decoded.clips:
    middle = (offset + len(clip) / 2) / max(split["bytes"], 1)
    shard = min(split["shards"] - 1, int(middle * split["shards"]))
    record = shards.clip_example(clip, video_id=item.id, label=item.label, start_frame=start_frame)
    yield (item.split, shard), (number, record)
    number += 1
    offset += len(clip)


def _write_shard(keyed, out):
  """Writes one shard's records in clip order; returns its manifest entry."""
  (split, number), records = keyed
  writer = shards.ShardWriter(out, split, shard_bytes=float("inf"), first_number=number)
  for _, record in sorted(records, key=lambda numbered: numbered[0]):
    writer.write(record)
  return writer.close()


def _summary(decoded):
  """What the manifest needs of a decoded file: its clips' count, not their bytes."""
  return {
    "position": decoded.position,
    "split": decoded.item.split,
    "path": decoded.item.path,
    "clips": len(decoded.clips),
    "warning": decoded.warning,
    "reason": decoded.reason,
    "worker": decoded.worker,
  }


def _write_manifest(_, summaries, shard_entries, out, fields, fingerprint):
  """Adds up the files and shards of every split into manifest.json (shards.manifest_of)."""
  splits = {split: shards.empty_split() for split in layouts.SPLITS}
  for summary in sorted(summaries, key=lambda summary: summary["position"]):
    state = splits[summary["split"]]
    path, worker = summary["path"], summary["worker"]
    if summary["reason"] is None:
      state["videos"] += 1
      state["clips"] += summary["clips"]
      if summary["warning"]:
        state["warnings"].append({"path": path, "warning": summary["warning"], "worker": worker})
    else:
      state["skipped"].append({"path": path, "reason": summary["reason"], "worker": worker})
  for entry in sorted(shard_entries, key=lambda entry: entry["file"]):
    splits[entry["split"]]["shards"].append(entry)
  shards.write_manifest(out, shards.manifest_of(fields, splits, fingerprint))


def run(
  items,
  spec,
  *,
  source,
  out,
  fields,
  fingerprint,
  shard_bytes,
  timeout_s,
  overwrite,
  beam_pipeline_options,
  **_,
):
  """Runs prepare's steps on Beam and returns the manifest it wrote (see prepare.prepare).

  The pipeline decodes the files in parallel, numbers each split's clips in the dataset's order,
  groups consecutive clips into shards of about equal bytes and writes them (ShardWriter: whole
  files under their final names), then manifest.json. A Beam run does not resume part-way: the
  runner retries failed work itself; the shards an interrupted run left are refused, so a run
  started again needs `overwrite` (an interrupted processes run of the same settings is
  replaced). On a finished `out` it does nothing.

  Args:
    items: the layouts.Item of every file, in the dataset's order.
    spec: a prepare.ClipSpec.
    source: the dataset's folder (for the error when no clip is cut).
    out: the shard folder, held by the caller (files.exclusive_use).
    fields: the manifest's own fields (shards.manifest_of).
    fingerprint: the run's digest (shards.claim).
    shard_bytes: shard size asked for, in bytes.
    timeout_s: a file still decoding after this many seconds is skipped.
    overwrite: replace another run's shards in `out`.
    beam_pipeline_options: Beam's flags as one string; empty for the DirectRunner.

  Returns:
    The manifest.

  Raises:
    ValueError: `out` holds another run's shards (without overwrite), or no clip was cut.
  """
  manifest, progress = shards.claim(out, fingerprint, overwrite)
  if manifest:
    logging.info("%s already holds these shards (%d clips); nothing to do", out, manifest["clips"])
    return manifest
  if progress:
    logging.info("%s holds an unfinished run of these settings: Beam writes it again", out)
    shards.claim(out, fingerprint, overwrite=True)
  options = pipeline_options.PipelineOptions(shlex.split(beam_pipeline_options))
  logging.info(
    "decoding %d files with Apache Beam (%s)",
    len(items),
    options.view_as(pipeline_options.StandardOptions).runner or "DirectRunner",
  )
  with beam.Pipeline(options=options) as pipeline:
    decoded = (
      pipeline
      | "list files" >> beam.Create(list(enumerate(items)))
      | "spread files" >> beam.Reshuffle()
      | "decode" >> beam.ParDo(DecodeFiles(spec, timeout_s))
    )
    plan = (
      decoded
      | "sizes" >> beam.Map(_sizes)
      | "all sizes" >> beam.combiners.ToList()
      | "plan shards" >> beam.Map(shard_plan, shard_bytes)
    )
    shard_entries = (
      decoded
      | "records" >> beam.FlatMap(_records, plan=beam.pvalue.AsSingleton(plan))
      | "group shards" >> beam.GroupByKey()
      | "write shards" >> beam.Map(_write_shard, out)
    )
    summaries = decoded | "summaries" >> beam.Map(_summary)
    _ = (
      pipeline
      | "manifest once" >> beam.Create([None])
      | "write manifest"
      >> beam.Map(
        _write_manifest,
        summaries=beam.pvalue.AsList(summaries),
        shard_entries=beam.pvalue.AsList(shard_entries),
        out=out,
        fields=fields,
        fingerprint=fingerprint,
      )
    )
  manifest = shards.read_manifest(out)
  if not manifest["clips"]:
    files.discard(os.path.join(out, shards.MANIFEST))
    decode_reasons = collections.Counter(
      entry["reason"] for entry in manifest["skipped"] if "worker" in entry
    )
    raise prepare.no_clip_error(len(items), source, decode_reasons)
  return manifest
