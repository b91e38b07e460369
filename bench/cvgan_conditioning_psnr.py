"""How closely a conditional WGAN's videos match held-out clips, by distance from the photo's frame.

  python bench/cvgan_conditioning_psnr.py --workdir=runs/cvgan_tiny [--num_clips=256 --data_seed=1]

Prints a Markdown table (docs/results.md): the PSNR of the generated frames against the held-out
clip's true frames, averaged over the frames at each distance from the conditioning frame, beside
the baseline that holds the photo still, and how far generated and real frames move from the photo.
Then: the background stream's image against the photo, and how much a second noise draw changes the
video.
"""

import relive_tf  # noqa: F401, I001 (sets TensorFlow's environment before its import)

import numpy as np
from absl import app
from absl import flags

from relive_tf.evaluation import conditioning

_WORKDIR = flags.DEFINE_string("workdir", None, "a conditional WGAN workdir")
_NUM_CLIPS = flags.DEFINE_integer("num_clips", 256, "held-out clips")
_DATA_SEED = flags.DEFINE_integer(
  "data_seed", 1, "seed of the held-out clips (training uses the config's seed, 0 by default)"
)
flags.mark_flag_as_required("workdir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  result = conditioning.held_out_scores(
    _WORKDIR.value, num_clips=_NUM_CLIPS.value, data_seed=_DATA_SEED.value
  )
  index, psnr, still = result["condition_index"], result["psnr"], result["still_psnr"]
  motion, real_motion = result["motion"], result["real_motion"]
  distance = np.abs(np.arange(len(psnr)) - index)
  print(
    f"{_WORKDIR.value} at step {result['step']}: {_NUM_CLIPS.value} held-out clips (data seed "
    f"{_DATA_SEED.value}), conditioning frame {index}\n"
  )
  print(
    "| frames from the photo | generated PSNR (dB) | photo held still (dB) "
    "| generated: change from the photo | real: change from the photo |"
  )
  print("|---:|---:|---:|---:|---:|")
  for d in np.unique(distance):
    at = distance == d
    still_text = "exact" if d == 0 else f"{still[at].mean():.2f}"
    print(
      f"| {d} | {psnr[at].mean():.2f} | {still_text} | {motion[at].mean():.1f} "
      f"| {real_motion[at].mean():.1f} |"
    )
  others = distance > 0
  print(
    f"| all but the photo's | {psnr[others].mean():.2f} | {still[others].mean():.2f} "
    f"| {motion[others].mean():.1f} | {real_motion[others].mean():.1f} |"
  )
  print(
    "\nA change is the mean absolute difference between a frame and the photo, in grey levels "
    "(0-255)."
  )
  if result["background_psnr"] is not None:
    print(f"background stream's image against the photo: {result['background_psnr']:.2f} dB")
  if result["noise_spread"] is not None:
    print(
      "noise spread (mean absolute difference between the videos of two noise draws, grey "
      f"levels): {result['noise_spread']:.2f}"
    )


if __name__ == "__main__":
  app.run(main)
