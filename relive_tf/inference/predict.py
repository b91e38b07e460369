"""Continuing a real video: its frames in, a trained predictor's rollout out, as GIF or MP4."""

import os

import numpy as np
from absl import logging

from relive_tf import files
from relive_tf import limits
from relive_tf.data import photos
from relive_tf.data import pipeline
from relive_tf.data import video_io
from relive_tf.data import video_read
from relive_tf.data import workers
from relive_tf.training import checkpoints
from relive_tf.training import lstm as lstm_training
from relive_tf.training import workdir as workdir_lib


def predict(workdir, video, context, future, out, start=0):
  """Predicts the frames that follow `context` frames of a video file and writes them as a video.

  The frames are decoded like `relive prepare` does (shorter side resized to the model's size,
  center-cropped). The output shows the context frames, then the predicted ones; when the video
  goes on after the context, its real frames play beside them (black once the video has ended).

  Args:
    workdir: a next-frame predictor workdir written by `relive train`.
    video: a video file OpenCV reads (video_read.VIDEO_EXTENSIONS), read as `relive prepare` reads
      it (video_read.read_video, in a worker process, up to the frames used), or a JPEG, PNG,
      BMP or WebP photo by its bytes (photos.is_still_photo), read as `relive relive` reads one
      (photos.load_photo): a clip of 1 frame, for context 1.
    context: frames given to the model, >= 1.
    future: frames to predict, 1 to limits.PREDICTED_FRAMES; frames past the training clips' length
      (data.frames) are made with a warning that nothing measured the model there.
    out: the .gif or .mp4 file to write, [context + future, size, size or 2 * size, 3].
    start: the first context frame's number in the video.

  Returns:
    {"path": out, "step": the checkpoint's step, "real_future_frames": how many of the predicted
    frames the video also holds}.

  Raises:
    ValueError: bad lengths or start, an output extension other than .gif or .mp4, an output that
      is the input video, a workdir that holds no trained predictor, or a video that cannot be
      read.
  """
  if future > limits.PREDICTED_FRAMES:
    raise ValueError(
      f"future is {future}; relive predict rolls out at most {limits.PREDICTED_FRAMES} frames "
      "(every frame is held in memory and written into one file): ask for fewer"
    )
  config, family = workdir_lib.load_config(workdir, lstm_training.FAMILY, "predicting frames")
  lstm_training.check_rollout(context, future, config.data.frames, measured=False)
  if start < 0:
    raise ValueError(f"start is {start}; give a frame number of at least 0")
  extension = os.path.splitext(out)[1].lower().lstrip(".")
  if extension not in video_io.VIDEO_FORMATS:
    raise ValueError(f"out {out}: the extension must be one of {video_io.VIDEO_FORMATS}")
  if files.same_file(out, video):
    raise ValueError(f"out {out} is the input video; give another file to write")
  frames = _read_frames(video, config.data.size, start + context + future)
  if start + context > len(frames):
    fix = "give start=0 and context=1" if len(frames) == 1 else "lower start or context"
    raise ValueError(
      f"video {video} has {len(frames)} frame{'' if len(frames) == 1 else 's'}, but "
      f"start={start} and context={context} need {start + context}; {fix}"
    )
  past = lstm_training.past_training_warning(context, future, config.data.frames)
  if past:
    logging.warning(past)
  trained = checkpoints.restore(workdir, config, family)
  logging.info(
    "predicting %d frames after frames %d..%d of %s with the step %d model",
    future,
    start,
    start + context - 1,
    video,
    trained.step,
  )
  real = frames[start : start + context + future]
  given = pipeline.to_float_video(real[None, :context])
  predicted = pipeline.to_uint8_video(trained.trainer.predictor.rollout(given, future))[0].numpy()
  output = np.concatenate([real[:context], predicted])
  real_future_frames = len(real) - context
  if real_future_frames:
    ended = np.zeros((context + future - len(real), *real.shape[1:]), np.uint8)
    output = np.concatenate([output, np.concatenate([real, ended])], axis=2)
  files.make_folder(os.path.dirname(files.absolute(out)))
  video_io.write_video(out, output)
  return {"path": out, "step": trained.step, "real_future_frames": real_future_frames}


def _read_frames(path, size, count):
  """uint8 [frames, size, size, 3] of a video file's first `count` frames (the ones a prediction
  uses: a long video is not decoded whole), or [1, size, size, 3] of a photo.

  Raises:
    ValueError: a file that cannot be read, naming what would be.
  """
  if files.isfile(path) and photos.is_still_photo(path):
    return photos.load_photo(path, size)[None]
  try:
    # In a worker process, as `relive prepare` reads: a file that crashes FFmpeg cannot end this.
    decoded = workers.read_video(path, size=size, max_frames=count)
  except video_read.UnusableVideoError as error:
    if "timed out" in str(error):
      fix = "its frames decode too slowly here; cut the part to predict from into a smaller file"
    else:
      fix = (
        f"give a video file OpenCV reads ({', '.join(video_read.VIDEO_EXTENSIONS)}) or a JPEG, "
        "PNG, BMP or WebP photo"
      )
    raise ValueError(f"video {path!r} cannot be read: {error}; {fix}") from None
  if decoded.warning:
    logging.warning("%r: %s", path, decoded.warning)
  return decoded.frames
