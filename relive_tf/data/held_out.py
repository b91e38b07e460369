"""Clips a run never trained on: synthetic clips of the next seed, or the test split of shards."""

import os

from relive_tf import files

SPLIT = "test"
# Synthetic clips are a function of (seed, index): the next seed draws clips training never saw.
SEED_OFFSET = 1


def settings(*, source, path, seed, data=None):
  """Where the held-out clips of a run come from.

  Args:
    source: the run's data source, "synthetic" or "shards".
    path: the run's folder of prepared shards ("" for synthetic data).
    seed: the run's data seed.
    data: None for the run's own data, "synthetic", or another folder of prepared shards.

  Returns:
    {"source", "path", "seed", "split"}: keyword arguments of pipeline.clips and
    pipeline.training_batches.

  Raises:
    ValueError: `data` is neither "synthetic" nor a folder.
  """
  if data is not None and data != "synthetic":
    if not files.isdir(data):
      raise ValueError(
        f"data {data!r} is neither 'synthetic' nor a folder of prepared shards; "
        "pass one written by `relive prepare`"
      )
    source, path = "shards", data
  elif data == "synthetic":
    source, path = "synthetic", ""
  if source == "synthetic":
    return {"source": "synthetic", "path": "", "seed": seed + SEED_OFFSET, "split": SPLIT}
  return {"source": source, "path": path, "seed": seed, "split": SPLIT}


def report_tag(data):
  """What an evaluation report's file name adds for `data` (see settings): "" for the run's own
  held-out clips, else "_synthetic" or "_" + the shard folder's name, so that reports on other
  data do not overwrite one another."""
  if data is None:
    return ""
  return "_" + (os.path.basename(data.rstrip("/")) or "data")


def describe(held_out):
  """What a report says of its held-out clips: the seed of synthetic ones, the folder of shards."""
  if held_out["source"] == "synthetic":
    return {"source": "synthetic", "seed": held_out["seed"]}
  return {"source": held_out["source"], "path": held_out["path"], "split": held_out["split"]}
