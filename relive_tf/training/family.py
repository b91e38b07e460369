"""A model family: a model type's trainer and what the `relive` commands do with a trained one."""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

# Keys of the training loop in every family's config, newer than some workdirs (whose runs
# stopped on any NaN or infinity).
LOOP_ADDED_KEYS = {
  "train.nan_policy": "stop",
  "train.nan_lr_factor": 0.5,
  "train.nan_max_restores": 3,
}


@dataclasses.dataclass(frozen=True)
class Family:
  """One model type, from its config file to its servable.

  A family's training module declares the fields up to `added_keys`; relive_tf/families.py registers
  the family with the rest, which live in the packages above training. Adding a family is its own
  files (config, models, trainer, and whichever of the fields below it supports) and one entry
  there.

  Attributes:
    name: the config's model_type, saved in config.json ("vgan").
    title: what people call it, for messages ("video WGAN").
    config: the config file that describes one ("configs/vgan.py").
    build_trainer: fn(config, strategy, sample_batch=None) -> a Trainer (training/trainer.py) built
      in the strategy's scope. With a sample batch it is ready to train; with None it holds the
      networks alone (weights created, no optimizers), which is all a restored workdir needs.
    added_keys: {"section.key": value} of config keys newer than some workdirs, with the value that
      reproduces how those were trained; filled in when an older config.json is read.
    shape_keys: config keys outside `model` that set the networks' weight shapes (the clips'
      frame size, and for networks that see a whole clip at once its length): a resumed run may
      not change them, as it may not change `model`.
    training_evaluators: fn(config) -> [Evaluator] measured every train.eval_every steps, or None
      when the family has no evaluation during training.
    evaluation: fn(trained, **options) -> report dict for `relive evaluate`, or None.
    servable: fn(trained) -> the servable `relive export` writes (serving/servables.py), or None.
    gallery_section: fn(page, trained, num_videos, seed) -> None adding the family's media to a
      gallery page, or None.
    command: the `relive` subcommand that uses a trained model of the family ("generate"), or "".
  """

  name: str
  title: str
  config: str
  build_trainer: Callable[..., Any]
  added_keys: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  shape_keys: tuple[str, ...] = ("data.size",)
  training_evaluators: Callable[..., Any] | None = None
  evaluation: Callable[..., Any] | None = None
  servable: Callable[..., Any] | None = None
  gallery_section: Callable[..., Any] | None = None
  command: str = ""

  def describe(self):
    """ "a video WGAN ('vgan', trained with configs/vgan.py)", for messages."""
    return f"a {self.title} ({self.name!r}, trained with {self.config})"


@dataclasses.dataclass(frozen=True)
class Trained:
  """A workdir's model as restored from its latest checkpoint.

  Attributes:
    workdir: the workdir's path.
    config: the config it was trained with (config.json, older keys filled in).
    family: its Family.
    trainer: the Trainer holding the restored networks (e.g. trainer.generator); no optimizers.
    step: the checkpoint's step.
  """

  workdir: str
  config: Any
  family: Family
  trainer: Any
  step: int
