"""Checks of a config's settings that need no TensorFlow, so that `relive train` refuses a bad
value before TensorFlow loads (in half a second, not 5) and the loop refuses it for API callers."""

import math

from relive_tf.training import family as family_lib

# What the loop does when a loss or a weight becomes NaN or infinite (train.nan_policy).
NAN_POLICIES = ("stop", "restore")
# Where training clips come from (data.source): the built-in moving digits, or prepared shards.
DATA_SOURCES = ("synthetic", "shards")


def with_loop_keys(config):
  """The config, with the loop's newer keys (family.LOOP_ADDED_KEYS) at their defaults where a
  family's own config lacks them."""
  missing = {
    key.split(".", 1)[1]: value
    for key, value in family_lib.LOOP_ADDED_KEYS.items()
    if key.split(".", 1)[1] not in config.train
  }
  if not missing:
    return config
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.train.update(missing)
  return config


def validate(config):
  """Rejects settings the loop cannot run, naming the key, the value and what it needs.

  Raises:
    ValueError: a count, size, width or learning rate that is not positive, a negative seed,
      count or weight, or an unknown data source.
    KeyError: a key the loop reads is missing (a config not made from configs/*.py).
  """
  train = config.train
  for key in (
    "num_steps",
    "batch_size",
    "log_every",
    "summary_every",
    "checkpoint_every",
    "num_samples",
    "max_checkpoints",
  ):
    if train[key] <= 0:
      raise ValueError(f"train.{key} is {train[key]}; it must be a positive integer")
  for key in ("frames", "size"):
    if config.data[key] <= 0:
      raise ValueError(f"data.{key} is {config.data[key]}; it must be a positive integer")
  if config.seed < 0:
    raise ValueError(f"seed is {config.seed}; it must be 0 or more")
  for key, value in config.model.items():
    # Counts the networks check only for being given (0 or empty: none), which fail deep inside
    # a layer when negative.
    widths = value if key.endswith("_widths") and isinstance(value, (list, tuple)) else ()
    negative = key in ("noise_dim", "motion_kernels") and value < 0
    if negative or any(not isinstance(w, int) or w <= 0 for w in widths):
      raise ValueError(
        f"model.{key} is {value!r}; it must be " + ("positive integers" if widths else "0 or more")
      )
  if train.nan_policy not in NAN_POLICIES:
    raise ValueError(f"train.nan_policy is {train.nan_policy!r}; use one of {NAN_POLICIES}")
  if not 0 < train.nan_lr_factor <= 1:
    raise ValueError(
      f"train.nan_lr_factor is {train.nan_lr_factor}; it must be in (0, 1], the factor a restore "
      "multiplies the learning rates by"
    )
  if train.nan_max_restores < 0:
    raise ValueError(f"train.nan_max_restores is {train.nan_max_restores}; use 0 or more")
  if not 0 < train.learning_rate < math.inf:
    raise ValueError(f"train.learning_rate is {train.learning_rate}; it must be a positive number")
  # 0: the learning rate; evaluation off; no such term.
  for key in ("critic_learning_rate", "eval_every", *(k for k in train if k.endswith("_weight"))):
    if not 0 <= train.get(key, 0) < math.inf:  # NaN fails both comparisons
      raise ValueError(f"train.{key} is {train[key]}; it must be a number, 0 or more")
  for key in ("adam_beta1", "adam_beta2", "ema_decay"):  # decays: 1 would never move
    if not 0 <= train.get(key, 0) < 1:
      raise ValueError(f"train.{key} is {train[key]}; it must be in [0, 1)")
  if config.data.source not in DATA_SOURCES:
    raise ValueError(f"data.source is {config.data.source!r}; use one of {DATA_SOURCES}")
  if config.data.source == "shards" and not config.data.path:
    raise ValueError(
      "data.source is 'shards' but data.path is empty: set data.path to a folder "
      "written by `relive prepare`"
    )
  try:
    config.data.get("path", "").encode("utf-8")
  except UnicodeEncodeError:  # TensorFlow's file functions take UTF-8 names only
    raise ValueError(
      f"data.path {config.data.path!r} is not valid UTF-8, and TensorFlow opens UTF-8 names only: "
      "rename the folder"
    ) from None
