"""What each model family serves: SavedModel signatures, warm-up inputs and reference outputs.

A servable has archive() (a keras.export.ExportArchive of its signatures), warmup_inputs() (one
small request per signature: {signature: {input name: array}}) and reference_outputs(signature,
inputs) (what the in-memory Keras model gives: {output name: array}).
"""

import keras
import numpy as np
import tensorflow as tf

from relive_tf.data import photos
from relive_tf.data import pipeline
from relive_tf.data import synthetic
from relive_tf.inference import generate
from relive_tf.inference import relive

# The most videos one request may ask for, by `sample`'s count or by an input's batch: a bound on
# one request's memory (a batch of 20,000 noise vectors asks for 7.8 GB of video and ends the
# process, and with it every model the server holds).
MAX_VIDEOS = 64


def _checked(tensor, shape):
  """`tensor`, checked at run time to be of `shape` (None: any size).

  The shapes a signature declares are not enforced when TF Serving or a loaded signature runs it, so
  a wrong shape would fail deep inside a layer; EnsureShape fails first, and its error names the
  input: "Shape of tensor noise [2,5] is not compatible with expected shape [?,8]".
  """
  return tf.ensure_shape(tensor, shape)


def _videos_checked(tensor, videos, requirement):
  """`tensor`, once `videos` (an int32 scalar: the videos a request asks for) is checked at run
  time to be from 1 to MAX_VIDEOS; `requirement` words the error ("input count must be")."""
  in_range = tf.debugging.Assert(
    tf.logical_and(videos >= 1, videos <= MAX_VIDEOS),
    [f"{requirement} from 1 to {MAX_VIDEOS}; got", videos],
  )
  with tf.control_dependencies([in_range]):
    return tf.identity(tensor)


def _batch_checked(tensor, shape, name):
  """`tensor`, checked at run time to be of `shape` with a batch of 1 to MAX_VIDEOS items (an
  empty batch failed inside batchnorm with a graph node's name)."""
  tensor = _checked(tensor, shape)
  return _videos_checked(tensor, tf.shape(tensor)[0], f"the batch of input {name} must hold")


def _archive(endpoints):
  """A keras.export.ExportArchive of {signature name: (function, input TensorSpecs)}.

  It saves the variables the functions use, not the Keras models: a SavedModel of the computation
  alone, which plain TensorFlow loads and serves.
  """
  archive = keras.export.ExportArchive()
  for name, (function, input_signature) in endpoints.items():
    archive.add_endpoint(name, function, input_signature)
  return archive


class VideoWGANServable:
  """A video WGAN's generator behind two signatures.

  serving_default: noise float32 [batch, noise_dim] -> video uint8 [batch, frames, size, size, 3].
  sample: count int32 [] and seed int64 [] -> video uint8 [count, frames, size, size, 3], the
    videos `relive generate --seed=SEED` writes first.
  """

  def __init__(self, generator):
    self.generator = generator
    self.noise_dim = generator.noise_dim

  def videos_from_noise(self, noise):
    noise = _batch_checked(noise, [None, self.noise_dim], "noise")
    # NaN noise made a black video, with no error.
    noise = tf.debugging.assert_all_finite(noise, "input noise must be finite numbers")
    return {"video": pipeline.to_uint8_video(self.generator(noise, training=False))}

  def sample(self, count, seed):
    count, seed = _checked(count, []), _checked(seed, [])
    count = _videos_checked(count, count, "input count must be")
    # The noise of generate.sample_videos, so that a seed gives the same videos everywhere.
    noise = tf.random.stateless_normal(
      [count, self.noise_dim], seed=tf.stack([seed, tf.zeros_like(seed)])
    )
    return {"video": pipeline.to_uint8_video(self.generator(noise, training=False))}

  def archive(self):
    return _archive(
      {
        "serving_default": (
          self.videos_from_noise,
          [tf.TensorSpec([None, self.noise_dim], tf.float32, name="noise")],
        ),
        "sample": (
          self.sample,
          [tf.TensorSpec([], tf.int32, name="count"), tf.TensorSpec([], tf.int64, name="seed")],
        ),
      }
    )

  def warmup_inputs(self):
    """One small request per signature: signature name -> {input name: numpy array}."""
    noise = tf.random.stateless_normal([1, self.noise_dim], seed=[0, 0]).numpy()
    return {
      "serving_default": {"noise": noise},
      "sample": {"count": np.array(1, np.int32), "seed": np.array(0, np.int64)},
    }

  def reference_outputs(self, signature, inputs):
    """What the in-memory Keras model gives for a signature's inputs: {output name: array}."""
    if signature == "sample":
      return {
        "video": generate.sample_videos(self.generator, int(inputs["count"]), int(inputs["seed"]))
      }
    video = self.generator(tf.constant(inputs["noise"]), training=False)
    return {"video": pipeline.to_uint8_video(video).numpy()}


class ConditionalWGANServable:
  """A conditional WGAN's generator behind two signatures. Every photo gets the noise of seed 0:
  a signature gives the video `relive relive --seed=0` writes for the same photo.

  serving_default: photo uint8 [batch, size, size, 3] -> video uint8 [batch, frames, size, size, 3].
  relive_image: image_bytes string [batch] (JPEG, PNG, GIF, BMP or WebP files of any size;
    {"b64": ...} in REST requests) -> video, the images read by photos.decode_photos, as
    `relive relive` reads a photo file.
  """

  def __init__(self, generator, size):
    self.generator = generator
    self.size = size

  def _videos(self, pictures):
    noise = None
    if self.generator.noise_dim:
      noise = tf.random.stateless_normal([1, self.generator.noise_dim], seed=[0, 0])
      noise = tf.repeat(noise, tf.shape(pictures)[0], axis=0)
    video = self.generator(pipeline.to_float_video(pictures), noise, training=False)
    return {"video": pipeline.to_uint8_video(video)}

  def videos_from_photos(self, photo):
    return self._videos(_batch_checked(photo, [None, self.size, self.size, 3], "photo"))

  def videos_from_image_bytes(self, image_bytes):
    image_bytes = _batch_checked(image_bytes, [None], "image_bytes")
    return self._videos(photos.decode_photos(image_bytes, self.size))

  def archive(self):
    return _archive(
      {
        "serving_default": (
          self.videos_from_photos,
          [tf.TensorSpec([None, self.size, self.size, 3], tf.uint8, name="photo")],
        ),
        "relive_image": (
          self.videos_from_image_bytes,
          [tf.TensorSpec([None], tf.string, name="image_bytes")],
        ),
      }
    )

  def warmup_inputs(self):
    """A synthetic clip's frame, as pixels and as a PNG file."""
    photo = synthetic.moving_digits_clip(0, 0, frames=2, size=self.size)[1]
    return {
      "serving_default": {"photo": photo[None]},
      "relive_image": {"image_bytes": np.array([tf.io.encode_png(photo).numpy()])},
    }

  def reference_outputs(self, signature, inputs):
    if signature == "relive_image":
      pictures = photos.decode_photos(tf.constant(inputs["image_bytes"]), self.size).numpy()
    else:
      pictures = inputs["photo"]
    return {
      "video": np.concatenate(
        [relive.relive_videos(self.generator, picture, 1, seed=0) for picture in pictures]
      )
    }


class PredictorServable:
  """A next-frame predictor behind one signature.

  serving_default: context uint8 [batch, K, size, size, 3] (K >= 1 true frames) and future int32 []
    -> frames uint8 [batch, future, size, size, 3], the frames after the context, each prediction
    fed back as the next input. K + future is at most the training clips' length.
  """

  def __init__(self, predictor, size, clip_frames, context_frames):
    self.predictor = predictor
    self.size = size
    self.clip_frames = clip_frames
    self.context_frames = context_frames

  def rollout(self, context, future):
    context = _batch_checked(context, [None, None, self.size, self.size, 3], "context")
    future = _checked(future, [])
    given = tf.shape(context)[1]
    # future <= clip_frames - given, not given + future <= clip_frames: a future near 2**31
    # overflows the sum and would pass.
    lengths = tf.debugging.Assert(
      tf.logical_and(tf.logical_and(given >= 1, future >= 1), future <= self.clip_frames - given),
      [
        "input context must hold at least 1 frame and input future must be at least 1, with "
        f"context frames + future at most {self.clip_frames} (the length of the training clips); "
        "got",
        given,
        future,
      ],
    )
    with tf.control_dependencies([lengths]):
      # The frames' TensorArray is sized by the checked future: one of 10**9 frames ends the
      # process (std::bad_alloc) with every model the server holds.
      future = tf.identity(future)
      predictions, state = self.predictor.observe(pipeline.to_float_video(context))
    # predictor.rollout's loop as a graph loop: `future` is only known when a request comes.
    frame = predictions[:, -1]
    frames = tf.TensorArray(tf.float32, size=future, element_shape=frame.shape).write(0, frame)

    def step(t, frame, state, frames):
      frame, state = self.predictor.step(frame, state)
      return t + 1, frame, state, frames.write(t, frame)

    frames = tf.while_loop(lambda t, *_: t < future, step, (1, frame, state, frames))[-1]
    return {"frames": pipeline.to_uint8_video(tf.transpose(frames.stack(), [1, 0, 2, 3, 4]))}

  def archive(self):
    return _archive(
      {
        "serving_default": (
          self.rollout,
          [
            tf.TensorSpec([None, None, self.size, self.size, 3], tf.uint8, name="context"),
            tf.TensorSpec([], tf.int32, name="future"),
          ],
        )
      }
    )

  def warmup_inputs(self):
    """The first context_frames frames of a synthetic clip, and the rest of the clip to predict."""
    clip = synthetic.moving_digits_clip(0, 0, frames=self.clip_frames, size=self.size)
    return {
      "serving_default": {
        "context": clip[None, : self.context_frames],
        "future": np.array(self.clip_frames - self.context_frames, np.int32),
      }
    }

  def reference_outputs(self, signature, inputs):
    del signature  # the only one
    frames = self.predictor.rollout(
      pipeline.to_float_video(inputs["context"]), int(inputs["future"])
    )
    return {"frames": pipeline.to_uint8_video(frames).numpy()}


def video_wgan(trained):
  """The servable of a restored video WGAN (Family.servable): its sampling generator, the moving
  average of the weights when the trainer keeps one."""
  return VideoWGANServable(trained.trainer.sampling_generator)


def conditional_wgan(trained):
  """The servable of a restored conditional WGAN (Family.servable): its sampling generator, the
  moving average of the weights when the trainer keeps one."""
  return ConditionalWGANServable(trained.trainer.sampling_generator, trained.config.data.size)


def predictor(trained):
  """The servable of a restored next-frame predictor (Family.servable)."""
  config = trained.config
  return PredictorServable(
    trained.trainer.predictor, config.data.size, config.data.frames, config.train.context_frames
  )
