"""The poster's LSTM next-frame predictor: frames encoded to vectors, an LSTM, next frames decoded.

  relive train --config=configs/lstm.py --workdir=runs/lstm            # the poster's sizes
  relive train --config=configs/lstm.py:tiny --workdir=runs/lstm_tiny  # CPU-sized widths
  relive predict --workdir=runs/lstm_tiny --video=clip.mp4 --context=10 --future=10 --out=p.gif

Variants: default, tiny.
"""

import ml_collections


def get_config(arg="default"):
  variants = set(arg.split(","))  # "configs/X.py:" gives "": refused, as ":tiny," is
  unknown = variants - {"default", "tiny"}
  if unknown:
    raise ValueError(f"unknown variant(s) {sorted(unknown)} of configs/lstm.py: use default, tiny")

  config = ml_collections.ConfigDict()
  config.model_type = "lstm"
  config.seed = 0

  config.model = ml_collections.ConfigDict()
  # Each encoder convolution halves the frame: 64x64 -> 4x4x512, flattened, then to the embedding.
  config.model.encoder_widths = (64, 128, 256, 512)
  config.model.embedding_dim = 1024  # the poster's "input vector of size 1024"
  config.model.lstm_units = 1024
  # decoder_widths[0] is the channels of the 4x4 code the LSTM output is projected to; each width
  # after it is a transposed convolution doubling the side, and a last one makes the RGB frame.
  config.model.decoder_widths = (512, 256, 128, 64)
  # Two additions to the poster's decoder, which learns far slower without them (docs/results.md,
  # "LSTM next-frame predictor"); both False is the poster's model exactly.
  # blend_input: the decoder also draws a mask, and the prediction is mask * decoded +
  # (1 - mask) * input frame, so still pixels are copied instead of redrawn through the embedding.
  config.model.blend_input = True
  # skip_connections: the decoder also sees the encoder's feature maps of the input frame, so the
  # appearance of what moves need not pass through the embedding either.
  config.model.skip_connections = True
  # motion_kernels: k kernels from the LSTM output move the input frame (Finn et al. 2016's CDNA),
  # blended per pixel with the decoded frame, so moving digits stay sharp; 0: off.
  config.model.motion_kernels = 0
  config.model.kernel_size = 7  # odd; moves of up to 3 pixels a frame
  # Widths of a 2D critic on the last given frame and the predicted frames after it, stacked along
  # channels, whose adversarial term (train.adversarial_weight) pushes the decoder to draw sharp,
  # moving digits instead of the blur an L2 loss averages the possible futures into (Mathieu et
  # al. 2016); (): none (the poster's). A model key: a workdir keeps the critic it started with.
  config.model.critic_widths = ()
  # Every config declares the keys the shared code reads; the predictor draws no noise.
  config.model.noise_dim = 0

  config.data = ml_collections.ConfigDict()
  config.data.source = "synthetic"  # or "shards" (written by `relive prepare`)
  config.data.path = ""  # folder of prepared shards
  # A damaged shard stops training with an error naming it; True leaves out its records from the
  # first damaged one on, instead, and counts them in the data/skipped_records summary.
  config.data.skip_corrupt = False
  config.data.frames = 32  # training clip length; evaluation and exports roll out at most this
  # (context + future); `relive predict` goes past it with a warning
  config.data.size = 64

  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 50_000
  config.train.batch_size = 32  # global, split over the replicas
  config.train.optimizer = "adam"
  config.train.learning_rate = 2e-4
  config.train.adam_beta1 = 0.9
  config.train.adam_beta2 = 0.999
  # Frames always given as true frames; later inputs may be the model's own predictions.
  config.train.context_frames = 10
  # Scheduled sampling (Bengio et al. 2015): after context_frames, each input frame is the model's
  # own previous prediction with a probability that rises linearly from 0 at sampling_start_step to
  # sampling_probability sampling_ramp_steps later. 0 trains with teacher forcing alone.
  config.train.sampling_probability = 0.5
  config.train.sampling_start_step = 10_000
  config.train.sampling_ramp_steps = 20_000
  # Weight of Mathieu et al. 2016's gradient difference loss (edges as strong as the true frames')
  # beside the L2 loss, which scores an edge blurred over its possible places lower; 0: none.
  # At 0.1 it did not keep the tiny predictor's digits (docs/results.md, "Two more tries").
  config.train.gradient_difference_weight = 0.0
  # Weight of the critic's non-saturating logistic loss in the predictor's loss, > 0 exactly when
  # model.critic_widths is given (the L2 loss is about 0.01 at tiny widths, the logistic loss starts
  # near 0.7), and gamma of the critic's R1 penalty on true frames (Mescheder et al. 2018; the
  # critic's score is its frames' mean logit; 0: none).
  config.train.adversarial_weight = 0.0
  config.train.r1_weight = 1.0
  config.train.log_every = 50
  config.train.summary_every = 500
  config.train.checkpoint_every = 2000
  config.train.max_checkpoints = 3
  # A NaN or infinite loss or weight: "stop" the run, or "restore" the last checkpoint and go on
  # with the learning rates times nan_lr_factor, at most nan_max_restores times in one run.
  config.train.nan_policy = "stop"
  config.train.nan_lr_factor = 0.5
  config.train.nan_max_restores = 3
  # Keras dtype policy: float32, mixed_bfloat16 or mixed_float16 (16-bit layers, float32 weights and
  # losses; for GPUs and CPUs with bf16 units); docs/benchmarks.md measures each.
  config.train.precision = "float32"
  config.train.jit_compile = False  # XLA-compile each replica's update (compiles slowly on CPU)
  config.train.num_samples = 8  # clips in each GIF summary: context + prediction beside the truth
  # Every eval_every steps (0: off), the eval/ summaries: per-horizon MSE, PSNR, SSIM and sample
  # scores (digit score, identity consistency, motion) of rollouts after context_frames on
  # eval_samples held-out clips, beside the baselines (docs/metrics.md). The digit recogniser: ""
  # for the one shipped with the package, or a folder `python -m relive_tf.metrics.shipped` wrote.
  config.train.eval_every = 0
  config.train.eval_samples = 64
  config.train.digit_recognizer = ""

  if "tiny" in variants:
    config.model.encoder_widths = (16, 32, 64, 128)
    config.model.embedding_dim = 256
    config.model.lstm_units = 256
    config.model.decoder_widths = (128, 64, 32, 16)
    config.data.frames = 20  # 10 context + 10 future frames
    config.train.num_steps = 2400  # about 30 minutes on 2 shared CPU cores
    config.train.batch_size = 8
    config.train.learning_rate = 1e-3
    config.train.sampling_start_step = 1000
    config.train.sampling_ramp_steps = 1000
    config.train.log_every = 10
    config.train.summary_every = 200
    config.train.checkpoint_every = 200
    config.train.num_samples = 4

  return config.lock()
