"""Conditional WGAN of the poster: one photo -> the 32-frame 64x64 video around it.

  relive train --config=configs/cvgan.py --workdir=runs/cvgan            # the poster's sizes
  relive train --config=configs/cvgan.py:tiny --workdir=runs/cvgan_tiny  # CPU-sized widths
  relive relive --workdir=runs/cvgan_tiny --photo=photo.jpg --out=photo.gif

Variants (comma-separated): default, tiny. The keys are configs/vgan.py's, plus model.condition_frame,
model.encoder_widths and train.l2_weight.
"""

import ml_collections


def get_config(arg="default"):
  variants = set(arg.split(",")) if arg else {"default"}
  unknown = variants - {"default", "tiny"}
  if unknown:
    raise ValueError(f"unknown variant(s) {sorted(unknown)} of configs/cvgan.py: use default, tiny")

  config = ml_collections.ConfigDict()
  config.model_type = "cvgan"
  config.seed = 0

  config.model = ml_collections.ConfigDict()
  # The frame the photo stands for: "middle" (the poster's), "first" (the abstract's) or an index
  # such as "7" (a string, so that all three forms can be given with --config.model.condition_frame).
  config.model.condition_frame = "middle"
  # Widths of the encoder's four stride-2 layers (64x64 -> 4x4); its fifth layer makes the code.
  config.model.encoder_widths = (64, 128, 256, 512)
  # Noise joined to the code so that one photo can give several videos; 0: one video per photo.
  config.model.noise_dim = 16
  # generator_widths[0] is the latent code's channels (2x4x4x512); the rest feed the streams.
  config.model.generator_widths = (512, 256, 128, 64)
  config.model.critic_widths = (64, 128, 256, 512)
  config.model.two_stream = True
  config.model.critic_norm = "batch"  # batch (with clipping), layer or none (with a gradient penalty)

  config.data = ml_collections.ConfigDict()
  config.data.source = "synthetic"  # or "shards" (written by `relive prepare`)
  config.data.path = ""  # folder of prepared shards
  config.data.frames = 32
  config.data.size = 64

  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 20_000  # generator updates
  config.train.batch_size = 64  # global, split over the replicas
  config.train.critic_steps = 5  # critic updates per generator update
  config.train.loss = "wgan"  # wgan: weight clipping (the poster's); wgan-gp: gradient penalty
  config.train.optimizer = "rmsprop"  # rmsprop (WGAN paper) or adam
  config.train.learning_rate = 5e-5
  config.train.adam_beta1 = 0.0
  config.train.adam_beta2 = 0.9
  config.train.clip_value = 0.01  # wgan
  config.train.gradient_penalty_weight = 10.0  # wgan-gp
  config.train.mask_l1_weight = 0.0  # sparsity of the foreground mask
  # Weight of the squared error between the generated frame at condition_frame and the photo
  # (pix2pix's 100). Much smaller weights leave the photo unlearnt in a CPU-sized run.
  config.train.l2_weight = 100.0
  config.train.log_every = 10
  config.train.summary_every = 200
  config.train.checkpoint_every = 1000
  config.train.max_checkpoints = 3
  config.train.num_samples = 8  # photos (and their videos) in each GIF summary
  # Built-in distance to held-out clips in the eval/ summaries every eval_every steps (0: off); needs
  # a feature network folder (`relive evaluate` trains one into WORKDIR/feature_network).
  config.train.eval_every = 0
  config.train.eval_samples = 64
  config.train.feature_network = ""

  if "tiny" in variants:
    config.model.encoder_widths = (16, 32, 64, 64)
    config.model.noise_dim = 8
    config.model.generator_widths = (64, 32, 16, 8)
    config.model.critic_widths = (8, 16, 32, 64)
    config.train.num_steps = 300
    config.train.batch_size = 8
    config.train.summary_every = 50
    config.train.checkpoint_every = 100
    config.train.num_samples = 4
    config.train.learning_rate = 2e-4  # small nets tolerate, and need, a larger step

  return config.lock()
