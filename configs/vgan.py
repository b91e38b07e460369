"""Video GAN of the poster: noise -> 32 frames of 64x64 RGB, two-stream generator, 3D critic.

  relive train --config=configs/vgan.py --workdir=runs/vgan                 # the poster's sizes
  relive train --config=configs/vgan.py:tiny --workdir=runs/vgan_tiny       # CPU-sized widths
  relive train --config=configs/vgan.py:poster --workdir=runs/poster        # the poster's recipe
  relive train --config=configs/vgan.py:tiny,poster --workdir=runs/poster_tiny

Variants (comma-separated): default, tiny, poster, gp. The default recipe is what learnt digits
fastest on 2 CPU cores (docs/results.md): the non-saturating logistic loss with an R1 penalty
(Mescheder et al. 2018), Adam, resize-then-convolve upsampling (Odena et al. 2016), a second, 2D
critic on single frames (Tulyakov et al. 2018). `poster` keeps the poster's recipe: a WGAN with
weight clipping, RMSprop, 4x4x4 transposed convolutions and one 3D critic with batchnorm; `gp` a
WGAN-GP.
"""

import ml_collections


def get_config(arg="default"):
  variants = set(arg.split(","))  # "configs/X.py:" gives "": refused, as ":tiny," is
  unknown = variants - {"default", "tiny", "poster", "gp"}
  if unknown:
    raise ValueError(
      f"unknown variant(s) {sorted(unknown)} of configs/vgan.py: use default, tiny, poster, gp"
    )
  if {"poster", "gp"} <= variants:
    raise ValueError("configs/vgan.py: poster and gp are two recipes; give one of them")

  config = ml_collections.ConfigDict()
  config.model_type = "vgan"
  config.seed = 0

  config.model = ml_collections.ConfigDict()
  config.model.noise_dim = 100
  # generator_widths[0] is the latent code's channels (2x4x4x512); the rest feed the streams.
  config.model.generator_widths = (512, 256, 128, 64)
  config.model.critic_widths = (64, 128, 256, 512)
  config.model.two_stream = True
  # batch (with clipping), spectral (Miyato et al. 2018), layer or none (with a gradient penalty
  # or R1)
  config.model.critic_norm = "none"
  # transposed: 4x4x4 stride-2 transposed convolutions (the poster's); resize: nearest-neighbour
  # doubling then a 3x3x3 convolution, which draws no checkerboard.
  config.model.upsample = "resize"
  # Widths of a second, 2D critic on frames_judged evenly spaced frames of each video (MoCoGAN's
  # image discriminator); (): none.
  config.model.frame_critic_widths = (64, 128, 256, 256)
  config.model.frames_judged = 4
  # True: the frame critic sees those frames stacked along channels, so it also judges whether they
  # show the same digit (identity consistency); False: each frame alone.
  config.model.frames_stacked = False

  config.data = ml_collections.ConfigDict()
  config.data.source = "synthetic"  # or "shards" (written by `relive prepare`)
  config.data.path = ""  # folder of prepared shards
  # A damaged shard stops training with an error naming it; True leaves out its records from the
  # first damaged one on, instead, and counts them in the data/skipped_records summary.
  config.data.skip_corrupt = False
  config.data.frames = 32
  config.data.size = 64

  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 20_000  # generator updates
  config.train.batch_size = 64  # global, split over the replicas
  config.train.critic_steps = 1  # critic updates per generator update
  # logistic: the non-saturating GAN loss; hinge; wgan: weight clipping (the poster's); wgan-gp:
  # a gradient penalty.
  config.train.loss = "logistic"
  config.train.optimizer = "adam"  # adam, or rmsprop (WGAN paper)
  config.train.learning_rate = 2e-4
  config.train.critic_learning_rate = 0.0  # 0: learning_rate; else the two time-scale rule
  config.train.adam_beta1 = 0.0
  config.train.adam_beta2 = 0.99
  config.train.clip_value = 0.01  # wgan
  config.train.gradient_penalty_weight = 10.0
  config.train.r1_weight = 1.0  # gamma of an R1 penalty on real videos (Mescheder et al. 2018)
  # The R1 penalty at one critic update in r1_every, weighted r1_every times (StyleGAN2's lazy
  # regularization): its double backpropagation is a third of a tiny step's arithmetic. At 16 a
  # tiny step took 0.77 of the time, with no fewer digits at equal steps (docs/results.md).
  config.train.r1_every = 16
  # Decay of a moving average of the generator's weights that samples and exports use; 0: none. At
  # 0.999 its samples held no more digits than the trained generator's (docs/results.md).
  config.train.ema_decay = 0.0
  config.train.mask_l1_weight = 0.0  # sparsity of the foreground mask
  config.train.log_every = 10
  config.train.summary_every = 200
  config.train.checkpoint_every = 1000
  config.train.max_checkpoints = 3
  # A NaN or infinite loss or weight: "stop" the run, or "restore" the last checkpoint and go on
  # with the learning rates times nan_lr_factor, at most nan_max_restores times in one run.
  config.train.nan_policy = "stop"
  config.train.nan_lr_factor = 0.5
  config.train.nan_max_restores = 3
  # Keras dtype policy: float32, mixed_bfloat16 or mixed_float16 (16-bit layers, float32 weights and
  # losses; for GPUs and CPUs with bf16 units); docs/benchmarks.md measures each: mixed_bfloat16
  # takes 0.45 to 0.48 of float32's default step on a CPU with AMX, its samples unmeasured there.
  config.train.precision = "float32"
  config.train.jit_compile = False  # XLA-compile each replica's update (compiles slowly on CPU)
  config.train.num_samples = 8  # videos in each GIF summary
  # Built-in distance to held-out clips and the sample scores (digit score, identity consistency,
  # motion) in the eval/ summaries every eval_every steps (0: off). The networks that measure them:
  # "" for those shipped with the package, or folders that `python -m relive_tf.metrics.shipped`
  # wrote (docs/metrics.md).
  config.train.eval_every = 0
  config.train.eval_samples = 64
  config.train.feature_network = ""
  config.train.digit_recognizer = ""

  if "poster" in variants:
    config.model.critic_norm = "batch"
    config.model.upsample = "transposed"
    config.model.frame_critic_widths = ()
    config.train.critic_steps = 5
    config.train.loss = "wgan"
    config.train.optimizer = "rmsprop"
    config.train.learning_rate = 5e-5
    config.train.r1_weight = 0.0

  if "gp" in variants:
    config.train.loss = "wgan-gp"
    config.train.learning_rate = 1e-4
    config.train.adam_beta2 = 0.9
    config.train.r1_weight = 0.0
    config.model.critic_norm = "layer"

  if "tiny" in variants:
    config.model.noise_dim = 32
    config.model.generator_widths = (64, 32, 16, 8)
    config.model.critic_widths = (8, 16, 32, 64)
    config.model.frame_critic_widths = (16, 32, 64, 64) if "poster" not in variants else ()
    config.train.num_steps = 800  # make demo trains it in about 2 minutes (README)
    config.train.batch_size = 8
    config.train.log_every = 10
    config.train.summary_every = 100
    config.train.checkpoint_every = 200
    config.train.num_samples = 4
    if "poster" in variants:
      # Small nets tolerate, and need, a larger step; with two critic updates per generator update
      # instead of five, 600 steps reach half the Frechet distance of the poster's recipe after
      # 500 steps that cost more (docs/results.md).
      config.train.num_steps = 600
      config.train.summary_every = 50
      config.train.checkpoint_every = 100
      config.train.learning_rate = 1e-3
      config.train.critic_steps = 2
    elif "gp" not in variants:
      # Small nets tolerate a larger step: 5e-4 found more digits than 2e-4 in 1,000 steps.
      config.train.learning_rate = 5e-4

  return config.lock()
