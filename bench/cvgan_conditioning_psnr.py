"""How closely a conditional WGAN's videos match held-out clips, by distance from the photo's frame.

  python bench/cvgan_conditioning_psnr.py --workdir=runs/cvgan_tiny [--num_clips=256 --data_seed=1]

Prints a Markdown table (docs/results.md): the PSNR of the generated frames against the held-out
clip's true frames, averaged over the frames at each distance from the conditioning frame, beside the
baseline that holds the photo still.
"""

import relive_tf  # pylint: disable=unused-import (sets TensorFlow's environment before its import)

from absl import app
from absl import flags
import numpy as np

from relive_tf import relive

_WORKDIR = flags.DEFINE_string("workdir", None, "a conditional WGAN workdir")
_NUM_CLIPS = flags.DEFINE_integer("num_clips", 256, "held-out clips")
_DATA_SEED = flags.DEFINE_integer("data_seed", 1, "seed of the held-out clips (training uses the "
                                  "config's seed, 0 by default)")
flags.mark_flag_as_required("workdir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  result = relive.conditioning_psnr(_WORKDIR.value, num_clips=_NUM_CLIPS.value,
                                    data_seed=_DATA_SEED.value)
  index, psnr, still = result["condition_index"], result["psnr"], result["still_psnr"]
  distance = np.abs(np.arange(len(psnr)) - index)
  print(f"{_WORKDIR.value} at step {result['step']}: {_NUM_CLIPS.value} held-out clips (data seed "
        f"{_DATA_SEED.value}), conditioning frame {index}\n")
  print("| frames from the photo | generated PSNR (dB) | photo held still (dB) |")
  print("|---:|---:|---:|")
  for d in np.unique(distance):
    at = distance == d
    still_text = "exact" if d == 0 else f"{still[at].mean():.2f}"
    print(f"| {d} | {psnr[at].mean():.2f} | {still_text} |")
  others = distance > 0
  print(f"| all but the photo's | {psnr[others].mean():.2f} | {still[others].mean():.2f} |")


if __name__ == "__main__":
  app.run(main)
