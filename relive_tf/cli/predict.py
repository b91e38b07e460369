"""`relive predict`: continues a real video with a trained next-frame predictor, as GIF or MP4."""

from absl import flags

from relive_tf import limits
from relive_tf import progress
from relive_tf.cli import checks

FLAGS = flags.FLAGS
REQUIRED = ("workdir", "video", "out")


def define_flags():
  flags.DEFINE_string(
    "workdir", None, "a next-frame predictor workdir (configs/lstm.py) written by `relive train`"
  )
  flags.DEFINE_string(
    "video",
    None,
    "a video file OpenCV reads (mp4, avi, mov, mkv, webm, gif, ...), or a photo (jpg, png, bmp, "
    "webp) as one frame, for --context=1",
  )
  flags.DEFINE_integer("context", 10, "frames of the video given to the model", lower_bound=1)
  flags.DEFINE_integer(
    "future",
    10,
    "frames to predict after them; past the training clips' length (data.frames) with a warning "
    "that nothing measured the model there",
    lower_bound=1,
    upper_bound=limits.PREDICTED_FRAMES,
  )
  flags.DEFINE_string(
    "out",
    None,
    "the .gif or .mp4 to write: context then prediction, beside the "
    "real frames when the video has them",
  )
  flags.DEFINE_integer("start", 0, "the first context frame's number in the video", lower_bound=0)
  flags.mark_flags_as_required(REQUIRED)
  checks.existing_workdir("workdir", "a next-frame predictor workdir written by `relive train`")
  checks.utf8_name("workdir")
  checks.existing_file("video", "a video file OpenCV reads (mp4, avi, mov, ...) or a photo")
  checks.output_file("out", checks.VIDEO_EXTENSIONS, "the video")
  checks.outside_package("out", "runs/predicted.gif")


def main():
  from relive_tf.inference import predict  # noqa: PLC0415 (loads TensorFlow: see cli)

  result = predict.predict(
    FLAGS.workdir, FLAGS.video, FLAGS.context, FLAGS.future, FLAGS.out, FLAGS.start
  )
  beside = (
    f", beside {progress.counted(result['real_future_frames'], 'real future frame')}"
    if result["real_future_frames"]
    else ""
  )
  print(
    f"wrote {result['path']}: {progress.counted(FLAGS.context, 'context frame')} then "
    f"{FLAGS.future} predicted{beside}"
  )
