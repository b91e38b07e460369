"""Conditional WGAN of the poster: one photo -> the 32-frame 64x64 video around it.

  relive train --config=configs/cvgan.py --workdir=runs/cvgan            # the poster's sizes
  relive train --config=configs/cvgan.py:tiny --workdir=runs/cvgan_tiny  # CPU-sized widths
  relive train --config=configs/cvgan.py:tiny,logistic --workdir=runs/cvgan_logistic
  relive relive --workdir=runs/cvgan_tiny --photo=photo.jpg --out=photo.gif

Variants (comma-separated): default, tiny, poster, logistic. The conditional WGAN trains with the
poster's recipe (`configs/vgan.py:poster`; `poster` names it, and is the default): it keeps the
photo's frame at 30 dB and beats holding the photo still, where the video GAN's logistic + R1
recipe (`logistic`) paints more digits but loses the photo (docs/results.md). The keys are
configs/vgan.py's, plus model.condition_frame, model.encoder_widths, model.skip_connections,
train.l2_weight, train.diversity_weight and train.diversity_cap.
"""

import importlib.util
import pathlib


def _video_wgan_config(variant):
  """configs/vgan.py's config, which this one extends; loaded by path, as config files are."""
  path = pathlib.Path(__file__).with_name("vgan.py")
  spec = importlib.util.spec_from_file_location("vgan_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(variant)


def get_config(arg="default"):
  variants = set(arg.split(","))  # "configs/X.py:" gives "": refused, as ":tiny," is
  unknown = variants - {"default", "tiny", "poster", "logistic"}
  if unknown:
    raise ValueError(
      f"unknown variant(s) {sorted(unknown)} of configs/cvgan.py: use default, tiny, poster, "
      "logistic"
    )
  if {"poster", "logistic"} <= variants:
    raise ValueError("configs/cvgan.py: poster and logistic are two recipes; give one of them")

  recipe = set() if "logistic" in variants else {"poster"}
  config = _video_wgan_config(",".join(sorted((variants - {"logistic"}) | recipe)))
  with config.unlocked():
    config.model_type = "cvgan"
    # The frame the photo stands for: "middle" (the poster's), "first" (the abstract's) or an index
    # such as "7" (a string, so that all three forms can be given with
    # --config.model.condition_frame).
    config.model.condition_frame = "middle"
    # Widths of the encoder's four stride-2 layers (64x64 -> 4x4); its fifth layer makes the code.
    config.model.encoder_widths = (64, 128, 256, 512)
    # U-Net skips from the encoder's four scales into the background stream, so that the photo's
    # detail reaches the video without passing through the 4x4 code (not in the poster).
    config.model.skip_connections = True
    # Noise joined to the code so that one photo can give several videos; 0: one video per photo.
    config.model.noise_dim = 16
    # Weight of the squared error between the generated frame at condition_frame and the photo
    # (pix2pix's 100). Much smaller weights leave the photo unlearnt in a CPU-sized run.
    config.train.l2_weight = 100.0
    # Weight of the diversity term (Yang et al. 2019): videos from two noises for one photo should
    # differ, by up to diversity_cap times their noises' mean absolute difference (pixels in
    # [-1, 1]); 0: off.
    config.train.diversity_weight = 0.0
    config.train.diversity_cap = 0.1

    if "tiny" in variants:
      config.model.encoder_widths = (16, 32, 64, 64)
      config.model.noise_dim = 8
      config.train.num_steps = 300
  return config.lock()
