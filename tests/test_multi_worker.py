"""Two `relive train` workers on 127.0.0.1 (MultiWorkerMirroredStrategy, CPU collectives): the
weights of one process, only the chief writing, disjoint data, a lost worker named, a resumed run.

Each worker is a real `relive train` process with its own TF_CONFIG and one CPU replica, so the
global batch of 4 is split 2 + 2. Start-up and the first step's compilation take most of the time.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf

from relive_tf import files
from relive_tf.training import distribution

import helpers

# The poster's recipe (RMSProp): Adam moves a weight whose gradient is ~0 by a whole learning rate
# in a direction the summation order decides, which no per-weight comparison can hold.
VARIANT = "tiny,poster"
RUN = dict(
  train__num_steps=6,
  train__batch_size=4,
  train__critic_steps=2,
  train__checkpoint_every=2,
  train__summary_every=2,
  train__num_samples=2,
  train__log_every=1,
)
# Bounds each wait on the workers: start-up, compiling and six steps take about a minute on two
# idle cores; a lost worker is found by the coordination service's heartbeats within about 10 s.
TIMEOUT_S = 240
# Every worker started; those still running when a test ends (it failed) are killed then.
_STARTED = []


class Worker:
  """One `relive train` process of a two-worker cluster, its output collected line by line."""

  def __init__(self, cluster, index, workdir):
    env = dict(
      os.environ,
      TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
      TF_CPP_MIN_LOG_LEVEL="2",
    )
    overrides = [f"--config.{key.replace('__', '.')}={value}" for key, value in RUN.items()]
    command = os.path.join(os.path.dirname(sys.executable), "relive")
    self.address = cluster["worker"][index]
    self.process = subprocess.Popen(
      [
        command,
        "train",
        f"--config={helpers.REPO / 'configs' / 'vgan.py'}:{VARIANT}",
        f"--workdir={workdir}",
        *overrides,
        "--verbosity=1",  # each input pipeline prints the example indices it reads
      ],
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
    )
    _STARTED.append(self.process)
    self.lines = []
    self._changed = threading.Condition()
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self):
    for line in self.process.stdout:
      with self._changed:
        self.lines.append(line)
        self._changed.notify_all()
    with self._changed:
      self._changed.notify_all()

  @property
  def output(self):
    with self._changed:
      return "".join(self.lines)

  def wait_for(self, pattern):
    """Blocks until a line of output matches `pattern`; fails when the process ends first."""
    with self._changed:
      found = self._changed.wait_for(
        lambda: any(re.search(pattern, line) for line in self.lines) or not self._reader.is_alive(),
        timeout=TIMEOUT_S,
      )
      if not found or not any(re.search(pattern, line) for line in self.lines):
        pytest.fail(f"no line matched {pattern!r}; the output:\n{''.join(self.lines)[-5000:]}")

  def finish(self):
    """The exit status, once the process ends (killed after TIMEOUT_S)."""
    try:
      status = self.process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
      self.process.kill()
      self.process.wait()
      pytest.fail(f"worker {self.address} hung; its output:\n{self.output[-5000:]}")
    self._reader.join()
    return status


@pytest.fixture(autouse=True)
def _no_worker_outlives_its_test():
  yield
  while _STARTED:
    process = _STARTED.pop()
    if process.poll() is None:
      process.kill()
      process.wait()


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  try:
    for each in sockets:
      each.bind(("127.0.0.1", 0))
    return [each.getsockname()[1] for each in sockets]
  finally:
    for each in sockets:
      each.close()


def start_cluster(*workdirs):
  """One worker per workdir (worker 0, the chief, first), on free ports of 127.0.0.1."""
  cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(len(workdirs))]}
  return [Worker(cluster, index, workdir) for index, workdir in enumerate(workdirs)]


def finish_all(workers):
  statuses = [worker.finish() for worker in workers]
  for worker, status in zip(workers, statuses):
    assert status == 0, f"worker {worker.address} failed:\n{worker.output[-5000:]}"


def _weights(trained):
  return {
    variable.path: np.asarray(variable.value)
    for network in trained.trainer.networks.values()
    for variable in network.weights
  }


# Largest difference allowed between a weight of the two-worker run and of one process. Measured
# on the tiny video WGAN with the poster's recipe (VARIANT) after 6 steps: 3.3e-6 over its 494,976
# weights, and 2.1e-5 for one batchnorm offset of the critic whose gradient is ~0 (RMSProp divides
# by the gradient's size, so the two workers' order of summation shows there); one step of the
# learning rate (1e-3) is 10 times the bound, so a worker that trained on other data, or missed a
# step, fails this. On an Intel Xeon with AMX (2026-12-06) one weight of the critic's first kernel
# (1 of its 1,536) ended 5.1e-4 apart in every run, the same weight each time: where a gradient is
# ~0 the summation order can decide RMSProp's step. So a weight array may hold OUTLIER_FRACTION of
# such weights (at least one); other data or a missed step moves most weights past the bound.
WEIGHTS_ATOL = 1e-4
OUTLIER_FRACTION = 1e-3


def assert_weights_of_one_process(workdir, straight_workdir):
  """The workdir's final networks equal a one-process run's: every weight array within WEIGHTS_ATOL
  but for at most OUTLIER_FRACTION of its weights (at least one)."""
  multi, straight = helpers.restore(workdir), helpers.restore(straight_workdir)
  assert multi.step == straight.step == RUN["train__num_steps"]
  first, second = _weights(multi), _weights(straight)
  assert first.keys() == second.keys()
  for path in first:
    difference = np.abs(first[path] - second[path])
    outliers = int((difference > WEIGHTS_ATOL).sum())
    allowed = max(1, int(OUTLIER_FRACTION * difference.size))
    assert outliers <= allowed, (
      f"{path}: {outliers} of {difference.size} weights differ by more than {WEIGHTS_ATOL} "
      f"(at most {allowed} may); the largest difference is {difference.max():.2e}"
    )


@pytest.fixture(name="two_workers", scope="module")
def two_workers_fixture(tmp_path_factory):
  """A finished two-worker run. Worker 1 is given a workdir of its own, which must stay unwritten;
  while the chief trains, the workdir lock is tried from here."""
  root = tmp_path_factory.mktemp("multi_worker")
  chief_dir, worker_dir = root / "chief", root / "worker1"
  workers = start_cluster(chief_dir, worker_dir)
  workers[0].wait_for(r"step 1/")
  with pytest.raises(ValueError) as held:
    with files.exclusive_use(str(chief_dir), "relive train"):
      pass
  finish_all(workers)
  return {
    "chief_dir": chief_dir,
    "worker_dir": worker_dir,
    "workers": workers,
    "lock_error": str(held.value),
  }


def test_two_workers_end_with_the_weights_of_one_process_with_the_same_global_batch(
  two_workers, trained_workdir
):
  assert_weights_of_one_process(two_workers["chief_dir"], trained_workdir("vgan", VARIANT, **RUN))


def test_two_workers_log_the_losses_of_one_process(two_workers, trained_workdir):
  multi = helpers.summary_values(two_workers["chief_dir"])
  straight = helpers.summary_values(trained_workdir("vgan", VARIANT, **RUN))
  for tag in ("train/critic_loss", "train/generator_loss"):
    assert [step for step, _ in multi[tag]] == [step for step, _ in straight[tag]]
    # The WGAN critic loss is a difference of two means that nearly cancel (-2.6e-6 at step 6, the
    # two runs 2.7e-9 apart), so it is held to 1e-7 absolute as well.
    for (_, one), (_, other) in zip(multi[tag], straight[tag]):
      assert float(one) == pytest.approx(float(other), rel=1e-3, abs=1e-7), tag


def test_only_the_chief_writes_checkpoints_summaries_config_and_the_lock(two_workers):
  chief_dir, chief = two_workers["chief_dir"], two_workers["workers"][0]
  assert not os.path.exists(two_workers["worker_dir"])
  assert sorted(os.listdir(chief_dir)) == [files.LOCK_FILE, "checkpoints", "config.json", "tb"]
  assert os.listdir(chief_dir / "tb") == ["train"]  # train.eval_every=0: no eval run
  (events,) = os.listdir(chief_dir / "tb" / "train")
  assert f".{chief.process.pid}." in events  # the writer's process id is in the file name
  assert f"in use by relive train (process {chief.process.pid})" in two_workers["lock_error"]


def test_each_worker_reads_its_own_share_of_the_examples(two_workers):
  seen = []
  for index, worker in enumerate(two_workers["workers"]):
    reads = re.findall(r"input pipeline (\d) of 2 reads examples \[([\d ]+)\]", worker.output)
    assert reads and {pipeline for pipeline, _ in reads} == {str(index)}
    seen.append([int(number) for _, batch in reads for number in batch.split()])
  first, second = seen
  assert not set(first) & set(second)
  assert all(number % 2 == 0 for number in first) and all(number % 2 for number in second)
  # Every step's two critic batches of 4 consecutive examples, half from each worker.
  trained_on = RUN["train__num_steps"] * RUN["train__critic_steps"] * RUN["train__batch_size"]
  assert set(range(trained_on)) <= set(first) | set(second)


def test_a_lost_worker_stops_the_other_naming_it_and_leaves_a_checkpoint_to_resume_from(tmp_path):
  workdir = tmp_path / "run"
  chief, other = start_cluster(workdir, workdir)
  chief.wait_for(r"step 3/")
  other.process.send_signal(signal.SIGKILL)
  assert chief.finish() == 1
  # What TensorFlow sees first (a broken connection, missed heartbeats) is a race: the message
  # names it after the colon.
  lost = (
    rf"relive train: error: worker 1 \({re.escape(other.address)}\) was lost \(crashed, killed "
    r"or unreachable: [^\n]+\), so worker 0 stops too; restart every worker with the same "
    r"command: training resumes from the last checkpoint"
  )
  assert re.search(lost, chief.output), chief.output[-5000:]
  assert "Traceback" not in chief.output
  other.finish()
  # The newest checkpoint, of before the loss (they land every 2 steps), restores; a restart of both
  # workers resuming from one is the SIGTERM test's.
  newest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
  assert newest and int(newest.rsplit("-", 1)[1]) in (2, 4), newest
  assert helpers.restore(workdir).step == int(newest.rsplit("-", 1)[1])


def test_sigterm_to_one_worker_saves_on_both_exits_0_and_a_restart_resumes(
  tmp_path, trained_workdir
):
  workdir = tmp_path / "run"
  workers = start_cluster(workdir, workdir)
  workers[0].wait_for(r"step 1/")
  workers[1].process.send_signal(signal.SIGTERM)  # a scheduler preempting one machine
  finish_all(workers)
  for worker in workers:
    assert re.search(
      r"preempted before step 6; checkpoint saved in \S+: run the same command to "
      r"resume",
      worker.output,
    ), worker.output[-5000:]
    assert "Traceback" not in worker.output

  restarted = start_cluster(workdir, workdir)
  finish_all(restarted)
  resumed = re.search(r"resumed from \S+ckpt-(\d+) at step (\d+)", restarted[0].output)
  # The workers agree on a step after the signal (checkpoints also land at 2 and 4), before the
  # last: the run stopped early.
  assert resumed and resumed[1] == resumed[2] and int(resumed[1]) in (2, 3, 4, 5), resumed
  assert_weights_of_one_process(workdir, trained_workdir("vgan", VARIANT, **RUN))


# What TensorFlow raised on worker 0 when worker 1 was killed, in the two orders seen.
_CONNECTION_RESET = (
  "Additional GRPC error information from remote target /job:worker/replica:0/task:1 while "
  "calling /tensorflow.WorkerService/RecvBuf:\n:UNKNOWN:Error received from peer  "
  '{grpc_message:"recvmsg:Connection reset by peer", grpc_status:14}'
)
_HEARTBEATS = (
  "The following tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\n"
  "The tasks have crashed. Check the task logs for an earlier error to debug further."
)


@pytest.mark.parametrize(
  ("message", "seen"),
  [
    (_CONNECTION_RESET, "recvmsg:Connection reset by peer"),
    (_HEARTBEATS, "stopped sending heartbeats"),
  ],
)
def test_the_lost_worker_is_named_whichever_error_tensorflow_raises_first(message, seen):
  resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
    tf.train.ClusterSpec({"worker": ["host0:1", "host1:2"]}), task_type="worker", task_id=0
  )
  error = tf.errors.UnavailableError(None, None, message)
  assert distribution.lost_worker_message(error, resolver) == (
    f"worker 1 (host1:2) was lost (crashed, killed or unreachable: {seen}), so worker 0 stops "
    "too; restart every worker with the same command: training resumes from the last checkpoint"
  )


def test_an_error_that_names_no_lost_peer_is_not_a_lost_worker():
  resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
    tf.train.ClusterSpec({"worker": ["host0:1", "host1:2"]}), task_type="worker", task_id=0
  )
  error = tf.errors.InternalError(None, None, "a kernel failed on /job:worker/replica:0/task:0")
  assert distribution.lost_worker_message(error, resolver) is None


def test_the_kubernetes_manifest_gives_each_pod_the_cluster_and_its_index_in_tf_config():
  manifest = (helpers.REPO / "deploy" / "train-multiworker.yaml").read_text()
  (script,) = re.findall(r"\n( +)- \|\n((?:\1  .*\n)+)", manifest)
  indent, body = script
  lines = [line[len(indent) + 2 :] for line in body.splitlines()]
  assert lines[-1].startswith("exec relive train ")
  # The pod's shell, with the last line printing TF_CONFIG instead of training.
  shown = subprocess.run(
    ["/bin/sh", "-c", "\n".join([*lines[:-1], 'printf %s "$TF_CONFIG"'])],
    env={"WORKERS": "3", "JOB_COMPLETION_INDEX": "1", "PATH": os.environ["PATH"]},
    capture_output=True,
    text=True,
    check=True,
  )
  assert json.loads(shown.stdout) == {
    "cluster": {"worker": [f"relive-train-{n}.relive-train:12345" for n in range(3)]},
    "task": {"type": "worker", "index": 1},
  }
