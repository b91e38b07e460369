"""The benchmarks' logic (no timings): FLOP counting, the profile's op table, the PyTorch twin."""

import ast
import ctypes
import math
import subprocess
import sys

import keras
import pytest
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from relive_tf import families
from relive_tf.models import phases
from relive_tf.training import inputs
from relive_tf.training import loop
from relive_tf.training import step_timing
from relive_tf.training import trainer as trainer_lib

import helpers

sys.path.insert(0, str(helpers.REPO))
from bench import flops  # noqa: E402
from bench import harness  # noqa: E402
from bench import loop_overhead  # noqa: E402
from bench import onednn_primitives  # noqa: E402
from bench import profile_step  # noqa: E402
from bench import step_pieces  # noqa: E402

# The tiny configs at 16 frames of 32x32 and batch 2: the same layers, quick to build and trace.
SMALL = dict(
  data__frames=16, data__size=32, train__batch_size=2, train__num_samples=2, train__critic_steps=1
)
# The poster's recipe, which the PyTorch twin mirrors, whatever a variant's defaults become.
POSTER = dict(
  model__upsample="transposed",
  model__critic_norm="batch",
  model__frame_critic_widths=(),
  train__loss="wgan",
  train__optimizer="rmsprop",
  train__r1_weight=0.0,
  train__ema_decay=0.0,
)


def test_a_convolution_counts_two_flops_per_multiply_add():
  conv = tf.keras.layers.Conv3D(5, 4, strides=2, padding="same")
  video = tf.zeros([2, 8, 16, 16, 3])
  # 2 x batch x output positions (4x8x8) x taps (4x4x4) x input channels x output channels
  assert flops.function_flops(conv, video) == 2 * 2 * (4 * 8 * 8) * 64 * 3 * 5


def test_a_transposed_convolution_counts_each_input_pixel_against_the_whole_filter():
  deconv = tf.keras.layers.Conv3DTranspose(5, 4, strides=2, padding="same")
  code = tf.zeros([2, 2, 4, 4, 7])
  assert flops.function_flops(deconv, code) == 2 * 2 * (2 * 4 * 4) * 64 * 7 * 5


def test_a_phase_convolution_counts_as_the_transposed_convolution_it_computes():
  # phases.phase_convolution's edge windows make outputs that are cropped: not the network's work.
  features, kernel = tf.zeros([2, 3, 5, 4, 6]), tf.zeros([4, 4, 4, 7, 6])

  def transposed(x, k):
    return tf.nn.conv3d_transpose(x, k, [2, 6, 10, 8, 7], [1, 2, 2, 2, 1], "SAME")

  def with_gradients(form):
    def run(x, k):
      with tf.GradientTape() as tape:
        tape.watch([x, k])
        loss = tf.reduce_sum(tf.square(form(x, k)))
      return tape.gradient(loss, [x, k])

    return run

  counts = [
    flops.function_flops(form, features, kernel)
    for form in (
      transposed,
      phases.phase_convolution,
      with_gradients(transposed),
      with_gradients(phases.phase_convolution),
    )
  ]
  forward = 2 * 2 * (3 * 5 * 4) * 64 * 7 * 6
  assert counts == [forward, forward, 3 * forward, 3 * forward]


def test_gradients_no_update_needs_are_not_counted():
  first, second = tf.Variable(tf.ones([8, 16])), tf.Variable(tf.ones([16, 4]))

  def second_only(x):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum((x @ first) @ second)
    second.assign_sub(tape.gradient(loss, second))  # the gradient toward `first` is pruned
    return loss

  # Forward: 3x8 @ 8x16 and 3x16 @ 16x4; backward: the hidden activations' transpose @ 3x4.
  expected = 2 * (3 * 8 * 16 + 3 * 16 * 4 + 16 * 3 * 4)
  assert flops.function_flops(second_only, tf.ones([3, 8])) == expected


def test_an_lstm_counts_its_matmuls_once_per_time_step():
  lstm = tf.keras.layers.LSTM(6)
  sequence = tf.zeros([2, 5, 3])  # batch 2, 5 steps, 3 features
  per_step = 2 * 2 * 3 * 24 + 2 * 2 * 6 * 24  # input and recurrent kernels, 4 gates of 6 units
  assert flops.function_flops(lambda x: lstm(x), sequence) == 5 * per_step


def test_an_lstm_inside_a_function_of_its_own_is_counted_with_its_gradient():
  lstm = tf.keras.layers.LSTM(6)
  lstm.build((2, 5, 3))
  inner = tf.function(lambda x: lstm(x))  # the loop's length is an argument of this function

  def kernel_gradients(x):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(inner(x))
    return tape.gradient(loss, lstm.trainable_variables)

  per_step = 2 * 2 * 3 * 24 + 2 * 2 * 6 * 24
  # A function's gradient also computes its input's: 2 x 2x24 @ 24x3 more per step.
  backward = 2 * (2 * 2 * 3 * 24) + 2 * (2 * 2 * 6 * 24)
  assert flops.function_flops(kernel_gradients, tf.zeros([2, 5, 3])) == 5 * (per_step + backward)


def test_a_loop_that_starts_from_another_loops_state_keeps_its_own_length():
  encoder = tf.keras.layers.LSTM(6, return_state=True)
  decoder = tf.keras.layers.LSTM(6)
  per_step = lambda features: 2 * 2 * features * 24 + 2 * 2 * 6 * 24

  def encode_decode(context, future):
    _, hidden, cell = encoder(context)  # 5 steps
    return decoder(future, initial_state=[hidden, cell])  # 3 steps

  count = flops.function_flops(encode_decode, tf.zeros([2, 5, 3]), tf.zeros([2, 3, 4]))
  assert count == 5 * per_step(3) + 3 * per_step(4)


def test_an_lstms_gradient_loop_runs_as_many_steps_as_the_lstm():
  lstm = tf.keras.layers.LSTM(6)
  lstm.build((2, 5, 3))

  def kernel_gradients(x):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(lstm(x))
    return tape.gradient(loss, lstm.trainable_variables)

  per_step = 2 * 2 * 3 * 24 + 2 * 2 * 6 * 24
  # Backward, per step: both kernels' gradients and the recurrent state's (not the input's).
  backward = 2 * 2 * 3 * 24 + 2 * 2 * 6 * 24 * 2
  assert flops.function_flops(kernel_gradients, tf.zeros([2, 5, 3])) == 5 * (per_step + backward)


def _event(plane, name, display_name, offset, duration):
  metadata_id = len(plane.event_metadata) + 1
  plane.event_metadata[metadata_id].name = name
  plane.event_metadata[metadata_id].display_name = display_name
  return xplane_pb2.XEvent(metadata_id=metadata_id, offset_ps=offset, duration_ps=duration)


def test_the_op_table_gives_each_op_its_time_less_the_ops_inside_it():
  space = xplane_pb2.XSpace()
  plane = space.planes.add(name="/host:CPU")
  python = plane.lines.add(name="python")
  python.events.append(_event(plane, "train_step", "", 0, 100))
  executor = plane.lines.add(name="tf_Compute/1")
  executor.events.extend(
    [
      _event(plane, "outer:PartitionedCall", "PartitionedCall", 10, 50),
      _event(plane, "a:Conv3D", "Conv3D", 15, 20),
      _event(plane, "b:Conv3D", "Conv3D", 40, 10),
      _event(plane, "c:Mul", "Mul", 70, 5),
      _event(plane, "CpuExecutable::ExecuteAsyncOnStream", "", 80, 4),  # an XLA run
      _event(plane, "ExecutorState::Process", "", 0, 90),  # not an op
    ]
  )
  table = profile_step.op_table(space)
  assert table["ops"] == {
    "PartitionedCall": {"calls": 1, "self_ps": 20},
    "Conv3D": {"calls": 2, "self_ps": 30},
    "Mul": {"calls": 1, "self_ps": 5},
    profile_step.XLA_KEY: {"calls": 1, "self_ps": 4},
  }
  assert (table["steps"], table["step_ps"], table["busy_ps"]) == (1, 100, 59)


def test_the_profile_table_prints_whole_op_names_in_one_column(capsys):
  # Grouped by name, the op that differs (Conv3DBackpropInputV2 or ...FilterV2) ends the name.
  name = "gradient_tape/discriminator_5/disc1_1/convolution/Conv3DBackpropInputV2"
  ops = {name: {"calls": 1, "self_ps": 3e9}, "Mul": {"calls": 300, "self_ps": 1e9}}
  profile_step.print_table("t", {"ops": ops, "steps": 1, "step_ps": 5e9, "busy_ps": 4e9}, top=1)
  lines = capsys.readouterr().out.splitlines()
  row = next(line for line in lines if name in line)
  rest = next(line for line in lines if "(1 more)" in line)
  assert row.split()[1:] == ["1.0", "3.00", "75.0%", "60.0%"]
  assert rest.index("1.00") == row.index("3.00")  # the columns line up under whole names


def _module_imports(path):
  """Top-level module names a file imports at module level, in order."""
  names = []
  for node in ast.parse(path.read_text()).body:
    if isinstance(node, ast.Import):
      names += [alias.name.split(".")[0] for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
      names.append(node.module.split(".")[0])
  return names


@pytest.mark.parametrize(
  "path", sorted((helpers.REPO / "bench").glob("*.py")), ids=lambda p: p.name
)
def test_bench_scripts_turn_onednn_on_before_tensorflow_loads(path):
  # relive_tf turns oneDNN on where TensorFlow leaves it off, but only before TensorFlow's import:
  # a bench that loads TensorFlow first times another build of the same ops than `relive` runs.
  names = _module_imports(path)
  first = next((i for i, name in enumerate(names) if name in ("tensorflow", "keras")), None)
  if first is not None:
    assert "relive_tf" in names[:first], f"{path.name} imports {names[first]} before relive_tf"


def test_a_flag_absl_rejects_ends_a_bench_with_absls_one_line_message():
  with pytest.raises(SystemExit, match="profile_step.py: Unknown command line flag 'no_such'"):
    harness.parse_flags(["bench/profile_step.py", "--no_such=1", "--config.train.num_steps=2"])


def test_the_runs_measurement_trains_in_one_process_and_prints_the_rss_after_each_run():
  done = subprocess.run(
    [
      sys.executable,
      str(helpers.REPO / "bench" / "memory.py"),
      "--measure=runs",
      "--peak_variant=tiny",
      "--runs=2",
      "--config.data.frames=16",
      "--config.data.size=32",
      "--config.train.num_samples=2",
    ],
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
  )
  assert done.returncode == 0, done.stderr[-2000:]
  line = next(line for line in done.stdout.splitlines() if line.startswith("runs:"))
  assert len(line.split("MiB: ")[1].split(", ")) == 2
  assert "from run 1 to 2:" in done.stdout


def test_the_loops_figures_start_at_the_first_logged_step_after_the_skip():
  # Steps 1 and 5 (compiling) are left out; 10 to 30 took 2 s a step by the events' wall times.
  windows = {
    1: (100.0, {"train/input_wait_fraction": 0.9}),
    5: (104.0, {"train/input_wait_fraction": 0.9}),
    10: (110.0, {"train/input_wait_fraction": 0.5}),
    20: (130.0, {"train/input_wait_fraction": 0.1, "train/outside_step_fraction": 0.02}),
    30: (150.0, {"train/input_wait_fraction": 0.3, "train/outside_step_fraction": 0.04}),
  }
  figures = loop_overhead.loop_figures(windows, skip=10)
  assert (figures["first"], figures["last"], figures["seconds"]) == (10, 30, 2.0)
  # Each logged value covers the steps since the last log: the first one after the skip reaches
  # back before it, so it is left out.
  assert figures["input_wait"] == pytest.approx(0.2)
  assert figures["outside_step"] == pytest.approx(0.03)
  with pytest.raises(ValueError, match="fewer than two logged steps"):
    loop_overhead.loop_figures(windows, skip=30)


def test_the_cached_loop_reads_its_first_batches_over_and_over(make_config):
  config = make_config("vgan", "tiny", **SMALL)
  original = inputs.training_batches
  with loop_overhead.cached_training_data(batches=2):
    batches = loop.timed_batches(config, helpers.one_device(), start=4).iterator
    read = [next(batches) for _ in range(5)]
  assert [batch["index"].numpy().tolist() for batch in read] == [[4, 5], [6, 7]] * 2 + [[4, 5]]
  tf.debugging.assert_equal(read[2]["video"], read[0]["video"])
  assert all(step_timing.READY_TIME in batch for batch in read), "the loop times its batches"
  assert inputs.training_batches is original


def test_the_primitive_table_sums_executions_alone():
  problem = "mb8_ic3oc8_id32od16kd4sd2dd0pd1_ih64oh32kh4sh2dh0ph1_iw64ow32kw4sw2dw0pw1"
  convolution = "cpu,convolution,brg_conv_fwd:avx512_core,forward_training,src:f32 dst:f32,,alg:d,"
  lines = [
    f"onednn_verbose,v1,primitive,create:cache_miss,{convolution}{problem},0.5",
    f"onednn_verbose,v1,primitive,exec,{convolution}{problem},1.5",
    f"onednn_verbose,1796536409.7,v1,primitive,exec,{convolution}{problem},2.5",  # a timestamp
    "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32 dst:f32,,,8x3x4x4x4,0.25",
    "some other output",
  ]
  assert onednn_primitives.primitive_table(lines) == {
    ("convolution", "brg_conv_fwd:avx512_core", "forward_training", problem): [2, 4.0],
    ("reorder", "jit:uni", "undef", "8x3x4x4x4"): [1, 0.25],
  }


def test_standard_output_to_a_file_takes_what_c_code_prints_inside_the_block_alone(tmp_path):
  # oneDNN logs with C's buffered printf: lines printed before the block and still buffered must
  # not reach the file, and those printed inside must not stay buffered past it.
  printf = ctypes.CDLL(None).printf
  printf(b"before\n")
  with open(tmp_path / "log", "w+") as log:
    with onednn_primitives.standard_output_to(log):
      printf(b"inside\n")
    printf(b"after\n")
    log.seek(0)
    assert log.read().splitlines() == ["inside"]


def test_the_primitive_table_reads_the_log_of_this_oneDNN():
  # The log's format is oneDNN's, which a TensorFlow release can change: read a real one.
  small = [f"--config.{key.replace('__', '.')}={value}" for key, value in SMALL.items()]
  command = [
    str(helpers.REPO / "bench" / "onednn_primitives.py"),
    "--configs=vgan:tiny",
    "--steps=1",
    "--batch_size=2",
    "--top=1000",  # every row: at these sizes the ranking changes from run to run
    *[flag for flag in small if "batch_size" not in flag],
  ]
  done = subprocess.run(
    [sys.executable, *command], capture_output=True, text=True, check=True, timeout=600
  )
  rows = [line.split() for line in done.stdout.splitlines() if "convolution" in line]
  passes = {row[4] for row in rows}
  assert {"forward_training", "backward_data", "backward_weights"} <= passes, done.stdout
  # The video critic's first layer: batch 2, 3 channels to 8, 16x32x32 to 8x16x16.
  first_layer = [row for row in rows if row[5].startswith("mb2_ic3oc8_id16od8")]
  assert {row[4] for row in first_layer} >= {"forward_training", "backward_weights"}, done.stdout


@pytest.mark.parametrize(
  "forms",
  [
    step_pieces.head_forms,
    step_pieces.compose_forms,
    step_pieces.head_output_forms,
    step_pieces.kernel_forms,
  ],
)
def test_the_forms_step_pieces_times_against_each_other_compute_the_same(forms):
  keras.utils.set_random_seed(0)  # the forms' inputs and weights: sums far from 0, every run
  outputs = [[float(value) for value in forward()] for forward, _ in forms().values()]
  assert len(outputs) == 2 and all(abs(value) > 1 for value in outputs[0])
  assert outputs[1] == pytest.approx(outputs[0], rel=1e-4)


def test_bench_configs_take_overrides_as_relive_train_does():
  spec = harness.config_spec("vgan", "tiny")
  config = harness.load_config(
    spec, ["--config.train.batch_size=3", "--config.model.two_stream=False"]
  )
  assert (config.train.batch_size, config.model.two_stream) == (3, False)
  with pytest.raises((AttributeError, KeyError)):
    harness.load_config(spec, ["--config.train.no_such_key=1"])


@pytest.mark.parametrize(
  "model, overrides, steps, expected",
  [
    ("vgan", {}, 10, 16),  # 1 critic update a step, R1 at one in 16: a period of 16 steps
    ("vgan", dict(train__critic_steps=2), 3, 8),  # 2 critic updates a step: R1 every 8 steps
    ("vgan", dict(train__critic_steps=5), 3, 16),  # 5 and 16 share no factor
    ("vgan", dict(train__r1_every=1), 10, 10),
    ("vgan", dict(train__r1_weight=0.0), 10, 10),
    ("lstm", {}, 3, 3),
  ],
)
def test_timed_steps_cover_whole_lazy_r1_periods(make_config, model, overrides, steps, expected):
  config = make_config(model, "tiny", **overrides)
  trainer = trainer_lib.build(families.get(model), config, helpers.one_device())
  assert harness.whole_periods(trainer, steps) == expected


def test_a_step_time_counts_the_steps_a_median_would_leave_out():
  assert harness.step_seconds([0.2, 0.2, 0.2, 0.6]) == pytest.approx(0.3)


# The PyTorch twin: bench/requirements.txt installs PyTorch, which the package never needs.


def _torch_twin():
  return pytest.importorskip("bench.torch_twin", reason="PyTorch: bench/requirements.txt")


def _twin(config):
  torch_twin = _torch_twin()
  return torch_twin, torch_twin.build(config)


def _relive_tf_counts(config):
  trainer = trainer_lib.build(families.get(config.model_type), config, helpers.one_device())
  return {
    name: sum(math.prod(v.shape) for v in network.trainable_variables)
    for name, network in trainer.networks.items()
  }


@pytest.mark.parametrize(
  "model, overrides",
  [
    ("vgan", POSTER),
    ("vgan", {**POSTER, **dict(model__critic_norm="layer", train__loss="wgan-gp")}),
    ("vgan", {**POSTER, "model__two_stream": False, "model__critic_norm": "none"}),
    ("cvgan", POSTER),
    ("cvgan", {**POSTER, "model__skip_connections": False, "model__noise_dim": 0}),
    ("lstm", {}),
    ("lstm", dict(model__blend_input=False, model__skip_connections=False)),
  ],
)
def test_the_twin_has_relive_tfs_parameter_count_per_network(make_config, model, overrides):
  config = make_config(model, "tiny", **overrides)
  torch_twin, twin = _twin(config)
  counts = {name: torch_twin.parameter_count(network) for name, network in twin.networks.items()}
  assert counts == _relive_tf_counts(config)


@pytest.mark.parametrize(
  "model, overrides",
  [
    ("vgan", {**SMALL, **POSTER}),
    ("cvgan", {**SMALL, **POSTER}),
    ("lstm", dict(data__frames=8, data__size=32, train__batch_size=2, train__context_frames=4)),
  ],
)
def test_the_twin_does_the_arithmetic_of_relive_tfs_train_step(make_config, model, overrides):
  from torch.utils import flop_counter  # noqa: PLC0415

  config = make_config(model, "tiny", **overrides)
  torch_twin, twin = _twin(config)
  trainer = trainer_lib.build(
    families.get(model), config, helpers.one_device(), inputs.sample_batch(config)
  )
  iterator = harness.cached_iterator(config, trainer)
  relive_tf_flops = flops.graph_flops(trainer.train_step.get_concrete_function(iterator).graph)
  batches = [torch_twin.to_torch(b, model) for b in harness.step_batches(config, trainer)]
  with flop_counter.FlopCounterMode(display=False) as counter:
    twin.train_step(batches)
  torch_flops = counter.get_total_flops()
  if model == "lstm":  # PyTorch's counter has no formula for its fused LSTM: add its matmuls,
    # 4 gates from the input and recurrent kernels at each of the clip's T - 1 steps, forward
    # and twice that backward (the kernels' and the inputs' gradients).
    units, width = config.model.lstm_units, config.model.embedding_dim + config.model.lstm_units
    per_step = 2 * config.train.batch_size * width * 4 * units
    torch_flops += 3 * per_step * (config.data.frames - 1)
  # The same convolutions and matmuls, forward and backward (to within 0.1%: autograd and the
  # tape do not prune quite the same gradients of the critic's 1-channel last layer).
  assert torch_flops == pytest.approx(relive_tf_flops, rel=1e-3)


@pytest.mark.parametrize(
  "option, value",
  [
    ("model__upsample", "resize"),
    ("model__frame_critic_widths", (8, 16)),
    ("model__critic_norm", "spectral"),
    ("train__r1_weight", 1.0),
    ("train__ema_decay", 0.999),
  ],
)
@pytest.mark.parametrize("model", ["vgan", "cvgan"])
def test_the_twin_refuses_a_recipe_it_does_not_mirror(make_config, model, option, value):
  torch_twin = _torch_twin()
  config = make_config(model, "tiny", **{**POSTER, option: value})
  key = option.replace("__", ".")
  assert torch_twin.unmirrored(config) == [f"{key}={value!r}"]
  with pytest.raises(ValueError, match=f"mirrors the poster's recipe, not {key}=") as raised:
    torch_twin.build(config)
  assert f"use configs/{model}.py:tiny,poster or :poster" in str(raised.value)  # variants it has


@pytest.mark.parametrize(
  "model, overrides",
  [
    ("vgan", {**SMALL, **POSTER}),
    ("cvgan", {**SMALL, **POSTER}),
    ("lstm", dict(data__frames=8, data__size=32, train__batch_size=2, train__context_frames=4)),
  ],
)
@pytest.mark.parametrize(
  "precision, layer_dtype", [("float32", "float32"), ("mixed_bfloat16", "bfloat16")]
)
def test_the_twin_runs_relive_tfs_precision(make_config, model, overrides, precision, layer_dtype):
  import torch  # noqa: PLC0415

  nn = torch.nn
  convolutions = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)
  config = make_config(model, "tiny", **overrides, train__precision=precision)
  torch_twin, twin = _twin(config)
  trainer = trainer_lib.build(
    families.get(model), config, helpers.one_device(), inputs.sample_batch(config)
  )
  batches = [torch_twin.to_torch(b, model) for b in harness.step_batches(config, trainer)]
  convolution_outputs = set()
  for network in twin.networks.values():
    for module in network.modules():
      if isinstance(module, convolutions):
        module.register_forward_hook(lambda m, i, output: convolution_outputs.add(output.dtype))
  losses = twin.train_step(batches)
  assert convolution_outputs == {getattr(torch, layer_dtype)}
  weights = {p.dtype for network in twin.networks.values() for p in network.parameters()}
  assert weights == {torch.float32}
  assert all(math.isfinite(loss) for loss in losses.values())


@pytest.mark.parametrize("precision", trainer_lib.PRECISIONS)
def test_the_matmul_rate_is_taken_in_the_dtype_keras_computes_the_layers_in(make_config, precision):
  config = make_config("vgan", "tiny", train__precision=precision)
  assert harness.compute_dtype(config) == keras.DTypePolicy(precision).compute_dtype


def test_the_twin_refuses_float16_in_one_line(make_config):
  torch_twin = _torch_twin()
  config = make_config("vgan", "tiny", **POSTER, train__precision="mixed_float16")
  with pytest.raises(ValueError, match="not 'mixed_float16': time it with --frameworks=relive_tf"):
    torch_twin.build(config)


def test_the_twin_mirrors_the_poster_recipe_and_the_gradient_penalty(make_config):
  torch_twin = _torch_twin()
  assert torch_twin.unmirrored(make_config("vgan", "tiny", **POSTER)) == []
  gp = make_config(
    "vgan", "tiny", **{**POSTER, "train__loss": "wgan-gp", "model__critic_norm": "layer"}
  )
  assert torch_twin.unmirrored(gp) == []
  assert torch_twin.unmirrored(make_config("lstm", "tiny")) == []


def test_a_variant_the_config_file_refuses_is_one_line():
  with pytest.raises(ValueError, match=r"unknown variant.*of configs/vgan.py") as refused:
    harness.load_config(harness.config_spec("vgan", "no_such_variant"))
  assert "\n" not in str(refused.value)


def test_bench_config_entries_are_model_colon_variant():
  assert harness.parse_entry("vgan:poster_tiny") == ("vgan", "poster_tiny")
  for bad in ("vgan", "gan:tiny", "vgan:"):
    with pytest.raises(ValueError, match="MODEL:VARIANT"):
      harness.parse_entry(bad)


@pytest.mark.parametrize(
  "limit, budget, expected",
  [
    (200, 99, (200, 208)),  # 8 to 128 fit, 256 does not; then 192 224 208 200
    (5, 99, (None, 8)),  # the first batch already fails
    (10_000, 3, (32, None)),  # the probe budget ends the doubling
  ],
)
def test_the_largest_batch_search_doubles_then_bisects_to_the_multiple(limit, budget, expected):
  probed = []

  def fits(batch):
    probed.append(batch)
    return batch <= limit

  largest, above, probes = harness.largest_batch(fits, 8, 1024, 8, lambda made: made < budget)
  assert (largest, above) == expected
  assert probes == len(probed) and len(set(probed)) == len(probed)
  assert all(batch % 8 == 0 for batch in probed)
