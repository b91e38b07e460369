"""The evaluator protocol, and `relive evaluate`: a workdir's family picks its evaluation."""

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from relive_tf.training import checkpoints
from relive_tf.training import workdir as workdir_lib


class Evaluator(Protocol):
  """Measures a trainer, as big_vision's evaluators do: built once, run at any step.

  An evaluator holds what it compares against (held-out clips, their features) and yields named
  values; the training loop logs them as eval/<name> every train.eval_every steps, and reports
  collect them. More measurements are more (name, value) pairs.
  """

  def run(self, trainer) -> Iterator[tuple[str, Any]]:
    """Yields (name, value) pairs: floats, or per-horizon arrays for a predictor."""


@dataclasses.dataclass(frozen=True)
class Evaluation:
  """What `relive evaluate` does for a family (Family.evaluation).

  Attributes:
    run: fn(trained, **options) -> report dict, written as JSON; report["path"] is where. Its
      keyword names are the options it takes.
    table: fn(report) -> the report as a console table.
  """

  run: Callable[..., dict]
  table: Callable[[dict], str]


def evaluate(workdir, families, **options):
  """Runs the evaluation of a workdir's family (`relive evaluate`).

  Args:
    workdir: a workdir written by `relive train`.
    families: the registered Families (relive_tf/families.py); those with an evaluation are taken.
    **options: options of the family's evaluation (e.g. num_samples); an option another family's
      evaluation takes is refused.

  Returns:
    (report, its table as text).

  Raises:
    ValueError: a workdir without an evaluation, an option that does not apply, or bad options.
  """
  evaluable = [family for family in families if family.evaluation is not None]
  config, family = workdir_lib.load_config(workdir, evaluable, "evaluation")
  taken = inspect.signature(family.evaluation.run).parameters
  others = sorted(name for name in options if name not in taken)
  if others:
    raise ValueError(
      f"{', '.join(others)} {'does' if len(others) == 1 else 'do'} not apply to the "
      f"{family.title} workdir {workdir!r}; leave {'it' if len(others) == 1 else 'them'} "
      "out"
    )
  trained = checkpoints.restore(workdir, config, family)
  report = family.evaluation.run(trained, **options)
  return report, family.evaluation.table(report)
