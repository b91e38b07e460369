"""TensorBoard summaries: scalars, poster-named kernel histograms and animated GIF samples."""

import numpy as np
import tensorflow as tf
from tensorboard.plugins.image import metadata as image_metadata

from relive_tf.data import video_io


def write_scalars(metrics, step, prefix="train/"):
  for name, value in metrics.items():
    tf.summary.scalar(prefix + name, value, step=step)


def write_kernel_histograms(networks, step):
  """A histogram per kernel, tagged by its Keras path: generator/noise_up/kernel,
  generator/foreground_stream/deconv1/kernel, discriminator/disc3/kernel, as in the poster. A
  network under another's Keras name (the moving average of the generator) is tagged by its key
  in `networks` instead: ema_generator/noise_up/kernel."""
  names = [network.name for network in networks.values()]
  for key, network in networks.items():
    shared = key != network.name and names.count(network.name) > 1
    for variable in network.trainable_variables:
      if variable.path.endswith("kernel"):
        tag = key + variable.path[len(network.name) :] if shared else variable.path
        tf.summary.histogram(tag, variable.value, step=step)


def write_gif(tag, videos, step, columns=4, fps=video_io.DEFAULT_FPS):
  """One animated GIF of uint8 videos [n, t, h, w, 3] in a grid, in TensorBoard's image tab.

  tf.summary.image only encodes PNG stills; the image plugin shows any encoded image it is given,
  so the GIF's bytes are written with the plugin's metadata directly. Its palettes are the fast
  octree's, to keep the GIF's encoding off the train loop's time (docs/benchmarks.md).
  """
  grid = video_io.tile_videos(np.asarray(videos), min(columns, len(videos)))
  gif = video_io.encode_gif(grid, fps, quantizer="fast_octree")
  tensor = tf.constant([str(grid.shape[2]), str(grid.shape[1]), gif])
  metadata = image_metadata.create_summary_metadata(display_name=tag, description="animated GIF")
  tf.summary.write(tag, tensor, step=step, metadata=metadata)
