"""Keras's Adam against fused_adam.FusedAdam: the weights' update alone, and the whole train step.

  python bench/optimizer_update.py [--configs=vgan:tiny,cvgan:tiny] [--rounds=5] [--steps=10]

Both trainers of a config are built in one process from the same config; one gets Keras's Adam
(what relive_tf trains with), the other FusedAdam (keras.optimizers.Adam swapped for it while
make_optimizer builds the trainer).
Rounds alternate between them, so load and clock changes fall on both alike. Printed per config:
the ops in one traced update of every optimizer's weights, the median seconds of that
update (random gradients, the weights of the real networks), and the median seconds of a train
step on cached batches; and each ratio fused / Keras.
"""

import relive_tf  # noqa: F401, I001 (turns oneDNN on before TensorFlow loads, as relive does)

import pathlib
import sys
from unittest import mock

import keras
import tensorflow as tf
from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import fused_adam  # noqa: E402
import harness  # noqa: E402

flags.DEFINE_list("configs", ["vgan:tiny"], "MODEL:VARIANT entries whose optimizer is Adam")
flags.DEFINE_integer("rounds", 5, "alternating rounds")
flags.DEFINE_integer("steps", 10, "timed calls per round, after one warm-up call")
flags.DEFINE_integer("threads", 0, "TensorFlow threads (0: TensorFlow's defaults)")
FLAGS = flags.FLAGS


def _update_of(trainer):
  """(update(): one Adam update of every trainable weight, the ops in its graph)."""
  pairs = []
  for optimizer in trainer.optimizers.values():
    weights = optimizer._trainable_variables  # noqa: SLF001 (the weights it was built for)
    gradients = [tf.random.normal(weight.shape, stddev=1e-3, seed=1) for weight in weights]
    pairs.append((optimizer, gradients, weights))

  @tf.function
  def update():
    for optimizer, gradients, weights in pairs:
      optimizer.apply_gradients(zip(gradients, weights))
    return tf.constant(0.0)

  ops = len(update.get_concrete_function().graph.get_operations())
  return (lambda: float(update())), ops


def _arms(config):
  """{"keras": trainer, "fused": trainer} of the config."""
  keras_trainer = harness.build_trainer(config)
  with mock.patch.object(keras.optimizers, "Adam", fused_adam.FusedAdam):
    fused_trainer = harness.build_trainer(config)
  return {"keras": keras_trainer, "fused": fused_trainer}


def main(parsed):
  _, overrides = parsed
  harness.set_tensorflow_threads(FLAGS.threads)
  print(f"load average {harness.load_average():.2f}")
  for entry in FLAGS.configs:
    model, variant = harness.parse_entry(entry)
    config = harness.load_config(harness.config_spec(model, variant), overrides)
    if config.train.optimizer != "adam":
      print(f"{entry}: train.optimizer is {config.train.optimizer}, not adam: skipped")
      continue
    arms = _arms(config)
    work = {}
    for name, trainer in arms.items():
      update, ops = _update_of(trainer)
      step = harness.tensorflow_step(trainer, harness.cached_iterator(config, trainer))
      work[name] = {"update": update, "step": step, "ops": ops, "times": {"update": [], "step": []}}
    for round_index in range(FLAGS.rounds):
      order = list(work) if round_index % 2 == 0 else list(reversed(work))
      for name in order:
        for kind in ("update", "step"):
          seconds = harness.time_steps(work[name][kind], FLAGS.steps)
          work[name]["times"][kind].append(harness.median(seconds))
    print(f"{entry} (batch {config.train.batch_size}, {FLAGS.rounds} rounds of {FLAGS.steps}):")
    for kind in ("update", "step"):
      medians = {name: harness.median(work[name]["times"][kind]) for name in work}
      print(
        f"  {kind}: keras {medians['keras'] * 1e3:.1f} ms, fused {medians['fused'] * 1e3:.1f} ms, "
        f"fused / keras {medians['fused'] / medians['keras']:.2f}"
      )
    print(f"  ops in one update: keras {work['keras']['ops']}, fused {work['fused']['ops']}")


if __name__ == "__main__":
  app.run(main, flags_parser=harness.parse_flags)
