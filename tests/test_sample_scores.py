"""The sample scores on hand-made clips, and the evaluation networks shipped with the package."""

import keras
import numpy as np
import pytest

from relive_tf.data import held_out
from relive_tf.data import synthetic
from relive_tf.metrics import digit_labels
from relive_tf.metrics import digit_recognizer
from relive_tf.metrics import feature_network
from relive_tf.metrics import features
from relive_tf.metrics import network_files
from relive_tf.metrics import sample_scores

# Clips of a seed neither shipped network trained or was measured on.
_SEED, _FRAMES = 7, 16


@pytest.fixture(name="recognizer", scope="module")
def recognizer_fixture():
  """The digit recogniser shipped with the package."""
  return digit_recognizer.DigitRecognizer()


def _clips(indices, seed=_SEED, frames=_FRAMES):
  return np.stack([synthetic.moving_digits_clip(seed, i, frames=frames) for i in indices])


def _one_digit_clips(count, seed=_SEED):
  """Indices of `count` clips of `seed` that hold one digit each, every digit different."""
  found = {}
  for index in range(200):
    tracks = digit_labels.digit_tracks(seed, index)
    if len(tracks) == 1 and tracks[0].digit not in found:
      found[tracks[0].digit] = index
    if len(found) == count:
      return list(found.values())
  raise AssertionError(f"fewer than {count} one-digit clips of distinct digits")


def _probabilities(present):
  """Hand-made recogniser output: probability 1 for each listed digit of each frame, else 0.

  Args:
    present: [clips][frames] lists of digits.
  """
  probabilities = np.zeros([len(present), len(present[0]), 10], np.float32)
  for clip, frames in enumerate(present):
    for frame, digits in enumerate(frames):
      probabilities[clip, frame, list(digits)] = 1.0
  return probabilities


# The scores' definitions, on hand-made recogniser outputs.


def test_digit_score_is_the_share_of_frames_with_a_digit():
  probabilities = _probabilities([[[3], [], [3, 5], []]])
  assert sample_scores.digit_score(probabilities) == 0.5


def test_identity_consistency_compares_every_pair_of_frames_in_which_a_digit_is_seen():
  # Frames 0-1 show a 3, frames 2-3 a 5, frame 4 none: each of the 10 pairs holds a frame with a
  # digit, and only frames 0-1 and frames 2-3 agree (a digit that vanishes changes too).
  probabilities = _probabilities([[[3], [3], [5], [5], []]])
  assert sample_scores.identity_consistency(probabilities) == pytest.approx(2 / 10)


def test_identity_consistency_leaves_out_pairs_without_a_digit_and_is_nan_without_any():
  assert sample_scores.identity_consistency(_probabilities([[[3], [], []]])) == 0.0
  assert np.isnan(sample_scores.identity_consistency(_probabilities([[[], [], []]])))


def test_frame_scores_of_batches_give_the_scores_of_all_the_clips():
  rng = np.random.default_rng(0)
  probabilities = rng.uniform(0, 1, [6, 5, 10]).astype(np.float32) ** 4
  videos = rng.integers(0, 256, [6, 5, 4, 4, 3], dtype=np.uint8)
  whole = sample_scores.FrameScores.of(probabilities, videos).summary()
  parts = sample_scores.FrameScores.concatenate(
    [sample_scores.FrameScores.of(probabilities[i : i + 2], videos[i : i + 2]) for i in (0, 2, 4)]
  )
  assert parts.summary() == pytest.approx(whole)
  assert whole["motion"] == pytest.approx(sample_scores.motion(videos))


# The shipped recogniser on rendered clips.


def test_real_built_in_clips_score_high(recognizer):
  clips = _clips(range(8))
  probabilities = recognizer.probabilities(clips)
  assert sample_scores.digit_score(probabilities) >= 0.95
  assert sample_scores.identity_consistency(probabilities) >= 0.8
  assert 2.0 < sample_scores.motion(clips) < 12.0


def test_blank_and_noise_clips_score_near_zero(recognizer):
  rng = np.random.default_rng(0)
  grey = np.full([2, _FRAMES, 64, 64, 3], 128, np.uint8)
  colours = np.broadcast_to(
    rng.integers(0, 256, [2, 1, 1, 1, 3], dtype=np.uint8), grey.shape
  ).copy()
  noise = rng.integers(0, 256, [4, _FRAMES, 64, 64, 3], dtype=np.uint8)
  for clips in (grey, colours, noise):
    assert sample_scores.digit_score(recognizer.probabilities(clips)) <= 0.05


def test_a_frozen_clip_has_no_motion_and_keeps_its_digits(recognizer):
  frozen = np.repeat(_clips(range(4))[:, :1], _FRAMES, axis=1)
  probabilities = recognizer.probabilities(frozen)
  assert sample_scores.motion(frozen) == 0.0
  assert sample_scores.digit_score(probabilities) >= 0.95
  assert sample_scores.identity_consistency(probabilities) == 1.0


def test_a_digit_that_changes_identity_halfway_scores_low_consistency(recognizer):
  first, second = _clips(_one_digit_clips(2))
  half = _FRAMES // 2
  changed = np.concatenate([first[:half], second[half:]])[None]
  for clip in (first, second):
    assert sample_scores.identity_consistency(recognizer.probabilities(clip[None])) >= 0.9
  probabilities = recognizer.probabilities(changed)
  assert sample_scores.digit_score(probabilities) >= 0.95
  # Only the pairs within each half agree: 2 * 8 * 7 / 2 of the 16 * 15 / 2.
  assert sample_scores.identity_consistency(probabilities) <= 0.6


# The shipped networks match their descriptions (measured on more clips when they were trained).


def test_the_shipped_digit_recognizer_scores_held_out_frames_as_its_description_says(recognizer):
  info = recognizer.info
  frames, labels = digit_recognizer.labelled_frames(info["seed"] + 1, 150)  # 450 frames
  seen = recognizer.probabilities(frames[:, None])[:, 0] >= sample_scores.SEEN
  has_digit = labels.max(axis=1) > 0.5
  assert np.mean(np.all(seen == (labels > 0.5), axis=1)) == pytest.approx(
    info["digit_set_accuracy"], abs=0.05
  )
  assert np.mean(seen[has_digit].any(axis=1)) == pytest.approx(
    info["real_frames_with_a_digit_seen"], abs=0.03
  )
  assert np.mean(seen[~has_digit].any(axis=1)) <= info["digit_free_frames_with_a_digit_seen"] + 0.03
  clips = digit_recognizer.held_out_clips(info["seed"], 16)
  probabilities = recognizer.probabilities(clips)
  assert sample_scores.digit_score(probabilities) == pytest.approx(
    info["real_clip_digit_score"], abs=0.03
  )
  assert sample_scores.identity_consistency(probabilities) == pytest.approx(
    info["real_clip_identity_consistency"], abs=0.1
  )


def test_the_shipped_feature_network_names_held_out_digits_as_its_description_says():
  extract = features.BuiltinFeatures(feature_network.SHIPPED)
  info = extract.info
  extract.check_clip_shape(32, 64)  # the built-in clips of the GAN configs
  model = keras.models.load_model(f"{feature_network.SHIPPED}/{network_files.MODEL_FILE}")
  batches = feature_network.labeled_batches(
    seed=info["seed"] + held_out.SEED_OFFSET,
    frames=info["frames"],
    size=info["size"],
    batch_size=16,
  )
  exact = []
  for videos, labels in batches.take(8):  # 128 of the 256 clips of its description
    logits = keras.ops.convert_to_numpy(model(videos, training=False)["digits"])
    exact.extend(np.all((logits > 0) == (labels["digits"].numpy() > 0.5), axis=1))
  assert np.mean(exact) == pytest.approx(info["digit_set_accuracy"], abs=0.1)


def test_a_folder_without_a_recognizer_is_named_with_the_command_that_trains_one(tmp_path):
  with pytest.raises(ValueError, match="relive_tf.metrics.shipped"):
    digit_recognizer.DigitRecognizer(str(tmp_path))
