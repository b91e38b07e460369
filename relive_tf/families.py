"""The model families, registered once: each model type's trainer and what the commands do with it.

A family's training module declares its name, config and trainer (training/<family>.py: FAMILY);
the entry here adds the pieces the packages above training hold: its evaluation, servable, gallery
section and command. Everything that serves any model type looks the type up here, and the CLI
passes this registry down; adding a family is its own files and one entry below.
"""

import dataclasses

from relive_tf.evaluation import gan
from relive_tf.evaluation import predictor
from relive_tf.gallery import sections
from relive_tf.serving import servables
from relive_tf.training import cvgan
from relive_tf.training import lstm
from relive_tf.training import vgan

FAMILIES = {
  family.name: family
  for family in (
    dataclasses.replace(
      vgan.FAMILY,
      training_evaluators=gan.training_evaluators,
      evaluation=gan.EVALUATION,
      servable=servables.video_wgan,
      gallery_section=sections.video_wgan,
      command="generate",
    ),
    dataclasses.replace(
      cvgan.FAMILY,
      training_evaluators=gan.training_evaluators,
      evaluation=gan.EVALUATION,
      servable=servables.conditional_wgan,
      gallery_section=sections.conditional_wgan,
      command="relive",
    ),
    dataclasses.replace(
      lstm.FAMILY,
      training_evaluators=predictor.training_evaluators,
      evaluation=predictor.EVALUATION,
      servable=servables.predictor,
      gallery_section=sections.predictor,
      command="predict",
    ),
  )
}


def get(model_type):
  """The registered family of a model_type.

  Raises:
    ValueError: no family has that name.
  """
  if model_type not in FAMILIES:
    raise ValueError(f"unknown model_type {model_type!r}; known: {sorted(FAMILIES)}")
  return FAMILIES[model_type]
