"""What the built-in feature network tells apart: distances of altered real clips to real clips.

  python bench/feature_sensitivity.py [--feature_network=DIR] [--num_samples=256]

Prints a Markdown table (docs/metrics.md) of the Frechet and kernel distances between a reference
set of held-out synthetic clips and: other real clips (the floor), the same clips altered in one
way each, and uniform noise. The network is the one shipped with the package unless
--feature_network names another.
"""

import relive_tf  # noqa: F401, I001 (sets TensorFlow's environment before its import)

from absl import app
from absl import flags
import cv2
import numpy as np

from relive_tf.data import synthetic
from relive_tf.metrics import feature_network
from relive_tf.metrics import features
from relive_tf.metrics import frechet

_FEATURE_NETWORK = flags.DEFINE_string(
  "feature_network", feature_network.SHIPPED, "a train_feature_network directory"
)
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 256, "clips per set")
_SEED = flags.DEFINE_integer("seed", 7, "data seed of the clips (the network trains on 1000)")


def _blur(videos):
  """Each frame downsampled 2x and back (bilinear)."""
  count, frames, size = videos.shape[:3]
  out = np.empty_like(videos)
  for index in np.ndindex(count, frames):
    small = cv2.resize(videos[index], (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    out[index] = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
  return out


def _alterations(real, rng):
  """{name: altered copy of real}, real float32 [n, frames, size, size, 3] in [-1, 1]."""
  noisy = lambda sigma: np.clip(real + rng.normal(0, sigma, real.shape), -1, 1).astype(np.float32)
  return {
    "Gaussian noise, std 0.05 (6/255)": noisy(0.05),
    "Gaussian noise, std 0.1": noisy(0.1),
    "Gaussian noise, std 0.2": noisy(0.2),
    "blur (2x down and up)": _blur(real),
    "colors swapped (RGB -> BGR)": real[..., ::-1],
    "time reversed": real[:, ::-1],
    "frames shuffled": np.stack([clip[rng.permutation(len(clip))] for clip in real]),
    "frozen (first frame repeated)": np.repeat(real[:, :1], real.shape[1], axis=1),
    "uniform noise": rng.uniform(-1, 1, real.shape).astype(np.float32),
  }


def main(argv):
  del argv
  extract = features.BuiltinFeatures(_FEATURE_NETWORK.value)
  frames, size, count = extract.info["frames"], extract.info["size"], _NUM_SAMPLES.value
  clips = lambda start: (
    np.stack(
      [
        synthetic.moving_digits_clip(_SEED.value, index, frames=frames, size=size)
        for index in range(start, start + count)
      ]
    ).astype(np.float32)
    / 127.5
    - 1
  )
  reference = extract(clips(0))
  real = clips(count)
  rows = {"other real clips (floor)": real, **_alterations(real, np.random.default_rng(0))}
  print(f"{count} clips per set, {frames}x{size}x{size}, {extract.description}\n")
  print("| compared with real clips | Frechet | kernel |\n|---|---:|---:|")
  for name, videos in rows.items():
    embedded = extract(videos)
    print(
      f"| {name} | {frechet.frechet_distance(reference, embedded):.3g} | "
      f"{frechet.kernel_distance(reference, embedded):.3g} |"
    )


if __name__ == "__main__":
  app.run(main)
