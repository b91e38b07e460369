"""The pieces of the video WGAN's step that were rewritten for speed, timed against their old form.

  python bench/step_pieces.py                   # 20 calls after 2, 2 rounds, the tiny sizes
  python bench/step_pieces.py --calls=50 --rounds=3

- heads: the generator's video (3 channels) and mask (1 channel) heads (resize upsampling, tanh
  and sigmoid), each called on its own, against vgan.upsampling_heads, which runs them as one
  transposed convolution, at the tiny generator's last layer (batch 8, 16x32x32x8 -> 32x64x64),
  forward and with gradients.
- compose: mask * foreground + (1 - mask) * background (four full-size operations) against
  vgan.compose_video (three), forward and with gradients.
- kernel: the resize layers' 4-wide transposed kernels from their 3-wide ones (the tiny foreground
  stream's four), by per-axis einsums against ResizeConv.transposed_kernel's one matmul.
- outputs: from the joined heads' phases to the video and mask (interleaving, bias, split, tanh and
  sigmoid, composition) as TensorFlow ops against vgan.composed_heads, the same arithmetic
  compiled by XLA into one kernel, what training runs.
- phases, phases64: the joined heads' transposed convolution (what inference runs) against
  phases.phase_convolution, its output phases interleaved by XLA (what training runs), at the tiny
  generator's last layer (8 channels in) and at the poster's widths (64), forward and with
  gradients.
- critic, critic64: the gradient toward the video of the critic's first layer (batch 8,
  32x64x64x3 -> 16x32x32x8, and 64 channels: the poster's widths) by keras.layers.Conv3D against
  phases.PhaseGradientConv3D (the input gradient by phases), the same weights.
- gif: the training loop's sample GIF (4 moving-digit clips side by side, 32 frames) with
  Pillow's median cut and fast octree palettes, and each one's mean error in 0..255 levels.

Each figure is the mean of --calls calls after 2 warm-up calls, the forms alternating by round.
docs/benchmarks.md ("Three rewrites") keeps the figures.
"""

import io
import pathlib
import sys
import time

import numpy as np
from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for bench/
from bench import harness  # noqa: E402

flags.DEFINE_integer("calls", 20, "timed calls per form and round")
flags.DEFINE_integer("rounds", 2, "rounds; each times every form once")
FLAGS = flags.FLAGS


def mean_seconds(function, calls):
  function()
  function()
  start = time.perf_counter()
  for _ in range(calls):
    function()
  return (time.perf_counter() - start) / calls


def head_forms():
  """{form: (forward, forward and gradients)} of the two head forms, as tf.functions."""
  import tensorflow as tf  # noqa: PLC0415

  from relive_tf.models import vgan  # noqa: PLC0415

  features = tf.random.normal([8, 16, 32, 32, 8])
  video = vgan.upsampling_conv(3, 3, "resize", "video", activation="tanh")
  mask = vgan.upsampling_conv(3, 1, "resize", "mask", activation="sigmoid")
  video.build(features.shape)
  mask.build(features.shape)
  weights = video.weights + mask.weights
  forms = (
    ("two transposed convolutions", lambda x: [video(x), mask(x)]),
    ("one, kernels joined", lambda x: vgan.upsampling_heads(x, [video, mask])),
  )
  return {name: _timed_pair(form, [features], weights) for name, form in forms}


def compose_forms():
  import tensorflow as tf  # noqa: PLC0415

  from relive_tf.models import vgan  # noqa: PLC0415

  inputs = [
    tf.random.normal([8, 32, 64, 64, 3]),
    tf.random.uniform([8, 32, 64, 64, 1]),
    tf.random.normal([8, 64, 64, 3]),
  ]

  def four(foreground, mask, background):
    return [mask * foreground + (1.0 - mask) * background[:, None]]

  return {
    "four operations": _timed_pair(four, inputs, []),
    "three (vgan.compose_video)": _timed_pair(lambda *x: [vgan.compose_video(*x)], inputs, []),
  }


def head_output_forms():
  """The joined heads' bias, activations and the composition: TensorFlow ops one by one (what
  inference runs) against vgan.composed_heads, one XLA kernel (what training runs)."""
  import tensorflow as tf  # noqa: PLC0415

  from relive_tf.models import phases  # noqa: PLC0415
  from relive_tf.models import vgan  # noqa: PLC0415

  # The joined heads' phase_convolution output, of a 32x64x64 video.
  inputs = [tf.random.normal([8, 17, 33, 33, 32]), tf.random.normal([8, 64, 64, 3])]
  bias = tf.Variable(tf.random.normal([4]))

  def ops(head_phases, background):
    foreground, mask = tf.split(phases.interleaved_phases(head_phases) + bias, [3, 1], axis=-1)
    mask = tf.sigmoid(mask)
    return [vgan.compose_video(tf.tanh(foreground), mask, background), mask]

  return {
    "TensorFlow ops": _timed_pair(ops, inputs, [bias]),
    "one XLA kernel (composed_heads)": _timed_pair(
      lambda head_phases, background: vgan.composed_heads(head_phases, bias, background),
      inputs,
      [bias],
    ),
  }


def kernel_forms():
  """The tiny foreground stream's resize layers' transposed kernels from their 3-wide ones: the
  per-axis einsums they used to take against ResizeConv.transposed_kernel's one matmul."""
  import tensorflow as tf  # noqa: PLC0415

  from relive_tf.models import resize_conv  # noqa: PLC0415

  layers = []
  for channels, filters in ((64, 32), (32, 16), (16, 8), (8, 4)):
    layer = resize_conv.ResizeConv(3, filters)
    layer.build([None, 2, 4, 4, channels])
    layers.append(layer)
  taps = tf.constant(resize_conv._TAPS)

  def einsums():
    return [tf.einsum("ap,bq,cr,pqrio->abcoi", taps, taps, taps, layer.kernel) for layer in layers]

  def matmul():
    return [layer.transposed_kernel() for layer in layers]

  weights = [layer.kernel for layer in layers]
  return {
    "per-axis einsums": _timed_pair(einsums, [], weights),
    "one matmul (transposed_kernel)": _timed_pair(matmul, [], weights),
  }


def phase_forms(channels):
  """The heads' transposed convolution (batch 8, 16x32x32xchannels -> 32x64x64x4) as TensorFlow's
  transposed convolution and as phases.phase_convolution interleaved by XLA."""
  import tensorflow as tf  # noqa: PLC0415

  from relive_tf.models import phases  # noqa: PLC0415

  features = tf.random.normal([8, 16, 32, 32, channels])
  kernel = tf.Variable(tf.random.normal([4, 4, 4, 4, channels], stddev=0.05))
  interleaved = tf.function(phases.interleaved_phases, jit_compile=True, autograph=False)
  forms = (
    (
      "transposed convolution",
      lambda x: [tf.nn.conv3d_transpose(x, kernel, [8, 32, 64, 64, 4], [1, 2, 2, 2, 1], "SAME")],
    ),
    ("phase convolution", lambda x: [interleaved(phases.phase_convolution(x, kernel))]),
  )
  return {name: _timed_pair(form, [features], [kernel]) for name, form in forms}


def critic_forms(channels):
  """The critic's first layer (3 channels in) as Keras's Conv3D and as PhaseGradientConv3D: its
  forward pass, and its gradient toward the video alone (what a generator update needs)."""
  import keras  # noqa: PLC0415
  import tensorflow as tf  # noqa: PLC0415

  from relive_tf.models import phases  # noqa: PLC0415

  videos = tf.random.normal([8, 32, 64, 64, 3])
  plain = keras.layers.Conv3D(channels, 4, strides=2, padding="same")
  by_phases = phases.PhaseGradientConv3D(channels)
  for layer in (plain, by_phases):
    layer.build(videos.shape)
  by_phases.set_weights(plain.get_weights())

  def timed(layer):
    @tf.function
    def forward():
      return tf.reduce_sum(layer(videos))

    @tf.function
    def input_gradient():
      with tf.GradientTape() as tape:
        tape.watch(videos)
        loss = tf.reduce_sum(tf.square(layer(videos)))
      return tape.gradient(loss, videos)

    return forward, input_gradient

  return {"Conv3D": timed(plain), "PhaseGradientConv3D": timed(by_phases)}


def _timed_pair(form, inputs, weights):
  """(forward, forward and gradients) of form(*inputs) as no-argument tf.functions."""
  import tensorflow as tf  # noqa: PLC0415

  @tf.function
  def forward():
    return [tf.reduce_sum(output) for output in form(*inputs)]

  @tf.function
  def with_gradients():
    with tf.GradientTape() as tape:
      tape.watch(inputs)
      loss = tf.add_n([tf.reduce_sum(tf.square(output)) for output in form(*inputs)])
    return tape.gradient(loss, inputs + weights)

  return forward, with_gradients


def gif_forms():
  from PIL import Image  # noqa: PLC0415

  from relive_tf.data import synthetic  # noqa: PLC0415
  from relive_tf.data import video_io  # noqa: PLC0415

  grid = np.concatenate([synthetic.moving_digits_clip(0, i) for i in range(4)], axis=2)

  def error(quantizer):
    gif = Image.open(io.BytesIO(video_io.encode_gif(grid, quantizer=quantizer)))
    frames = []
    for index in range(gif.n_frames):
      gif.seek(index)
      frames.append(np.asarray(gif.convert("RGB")))
    return np.abs(np.stack(frames).astype(int) - grid).mean()

  return {
    quantizer: (lambda q=quantizer: video_io.encode_gif(grid, quantizer=q), error(quantizer))
    for quantizer in video_io.QUANTIZERS
  }


def main(_):
  import relive_tf  # noqa: F401, PLC0415 (sets TensorFlow's environment before its import)

  print(f"load average {harness.load_average():.2f} at the start; ms per call", flush=True)
  pieces = (
    ("heads", head_forms()),
    ("compose", compose_forms()),
    ("outputs", head_output_forms()),
    ("kernel", kernel_forms()),
    ("phases", phase_forms(8)),
    ("phases64", phase_forms(64)),
    ("critic", critic_forms(8)),
    ("critic64", critic_forms(64)),
  )
  for piece, forms in pieces:
    for round_ in range(1, FLAGS.rounds + 1):
      for name, (forward, with_gradients) in forms.items():
        print(
          f"round {round_}  {piece:<8} {name:<32} forward "
          f"{mean_seconds(forward, FLAGS.calls) * 1e3:6.1f}  with gradients "
          f"{mean_seconds(with_gradients, FLAGS.calls) * 1e3:6.1f}",
          flush=True,
        )
  forms = gif_forms()
  for round_ in range(1, FLAGS.rounds + 1):
    for name, (encode, error) in forms.items():
      print(
        f"round {round_}  gif      {name:<32} {mean_seconds(encode, 3) * 1e3:6.1f}  "
        f"mean error {error:.2f} levels",
        flush=True,
      )
  print(f"load average {harness.load_average():.2f} at the end", flush=True)


if __name__ == "__main__":
  app.run(main)
