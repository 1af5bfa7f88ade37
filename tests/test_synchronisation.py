"""Waits, tried on a fake asynchronous device: a step that returns before its work ends, as a GPU's does.

The fake device keeps one queue of work (seconds of it); a step adds STEP_S and returns at once, setup adds
SETUP_S. Each framework's wait is replaced by one that sleeps until the work it waits for is done:
TensorFlow's sync_devices and torch.cuda.synchronize drain the queue, jax.block_until_ready waits for the
outputs it is given (and jax.live_arrays lists every output still queued). So a timed figure holds a step's
work only if the suite waited for it, and holds setup's only if it did not wait before the timer started.
Each test fails when the wait it is about is removed: from the timed calls (harness.measure), after setup
or after the first call (harness.first_call), or from doctor's timings (doctor.best_time); and the
stream test fails when a round waits once a call instead of once a round.
"""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace
from typing import ClassVar

import pytest
from tensorbench.benchmarks import harness
from tensorbench.benchmarks.harness import Rounds
from tensorbench.workloads import devices
from tensorbench.workloads.base import Workload
from tensorbench.workloads.cases import Case
from tensorbench.workloads.devices import Device

STEP_S = 0.02
SETUP_S = 0.1
WAIT_S = 0.005
"""What one wait costs on the fake device in the stream test (a synchronisation's round trip)."""


class Queue:
    """The fake device's stream: work runs in order, each piece for its seconds."""

    def __init__(self, wait_s: float = 0.0):
        self.busy_until = time.perf_counter()
        self.queued: list[Done] = []
        self.wait_s = wait_s
        self.waits = 0

    def enqueue(self, seconds: float) -> Done:
        self.busy_until = max(self.busy_until, time.perf_counter()) + seconds
        self.queued.append(Done(self.busy_until))
        return self.queued[-1]

    def drain(self) -> None:
        self.waited_for(self.busy_until)

    def waited_for(self, at: float) -> None:
        """A wait: until `at`, and then the wait's own cost."""
        _sleep_until(at)
        self.waits += 1
        _sleep_until(time.perf_counter() + self.wait_s)


class Done:
    """An output of queued work: ready at its time."""

    def __init__(self, at: float):
        self.at = at

    def wait(self) -> None:
        _sleep_until(self.at)


def _sleep_until(at: float) -> None:
    while (left := at - time.perf_counter()) > 0:
        time.sleep(left)


class Late(Workload):
    """A workload on the fake device: its setup and its step queue work and return at once."""

    name = "late"
    family = "fake"
    sweeps: ClassVar[dict] = {}
    queue: Queue
    step_s: ClassVar[float] = STEP_S

    def setup(self, device, mode):
        self.queue.enqueue(SETUP_S)

    def step(self):
        return [self.queue.enqueue(self.step_s)]

    def check(self, outputs):
        return "fake outputs"


@pytest.fixture(params=["tensorflow", "jax", "torch"])
def fake_gpu(request, monkeypatch):
    """A GPU of the framework `request.param` whose waits wait on a fresh Queue."""
    queue = Queue()
    monkeypatch.setattr(Late, "queue", queue, raising=False)
    framework = request.param
    if framework == "tensorflow":
        import tensorflow as tf

        monkeypatch.setattr(tf.test.experimental, "sync_devices", queue.drain)
        return Device("GPU", 0, "/device:CPU:0", "fake asynchronous GPU")
    if framework == "jax":
        import jax

        def block_until_ready(outputs):
            queue.waited_for(max((leaf.at for leaf in leaves(outputs)), default=0.0))
            return outputs

        def leaves(outputs):
            for leaf in outputs:
                yield from ([leaf] if isinstance(leaf, Done) else leaves(leaf))

        monkeypatch.setattr(jax, "block_until_ready", block_until_ready)
        monkeypatch.setattr(jax, "live_arrays", lambda: list(queue.queued))
    else:
        monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=SimpleNamespace(
            synchronize=lambda index: queue.drain())))
    return Device("GPU", 0, None, "fake asynchronous GPU", details={"backend": framework})


class TimingBenchmark:
    """pytest-benchmark's fixture as measure() uses it, timing each round of calls."""

    def __init__(self):
        self.extra_info: dict = {}
        self.calls: list[float] = []
        self.stats = SimpleNamespace(stats=SimpleNamespace(total=0.0), iterations=1)

    def pedantic(self, timed, rounds, iterations, setup=None):
        for _ in range(rounds):
            if setup is not None:
                setup()
            start = time.perf_counter()
            for _ in range(iterations):
                timed()
            self.calls.append((time.perf_counter() - start) / iterations)
        self.stats = SimpleNamespace(stats=SimpleNamespace(total=sum(self.calls), data=list(self.calls)),
                                     iterations=iterations)


def test_the_first_call_holds_its_own_work_and_not_setups(fake_gpu):
    info = harness.first_call(Late(), Case(Late, {}, fake_gpu, "eager", devices.backend(fake_gpu)))
    assert STEP_S * 0.9 <= info["first_call_s"] < SETUP_S, info["first_call_s"]


def test_every_timed_call_waits_for_its_work(fake_gpu):
    benchmark = TimingBenchmark()
    harness.measure(benchmark, Case(Late, {}, fake_gpu, "eager", devices.backend(fake_gpu)),
                    Rounds(min_rounds=3, max_time=0.0, warmup_calls=1))
    assert len(benchmark.calls) >= 3 and min(benchmark.calls) >= STEP_S * 0.9, benchmark.calls


def test_a_round_is_a_stream_of_calls_that_waits_once(fake_gpu):
    """A program's stream of ops waits at its end, not after each op: with a step of 1 ms of work and a
    wait that costs WAIT_S, rounds of 0.1 s run their calls back to back and wait once, so the per-call
    figure holds each call's work and not a wait a call (one a call would make it 6 ms); one call with its
    own wait is recorded apart (waited_call_s)."""
    Late.queue.wait_s = WAIT_S
    benchmark = TimingBenchmark()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Late, "step_s", 0.001)
        harness.measure(benchmark, Case(Late, {}, fake_gpu, "eager", devices.backend(fake_gpu)),
                        Rounds(min_rounds=3, max_time=0.0, warmup_calls=1, min_round_s=0.1))
    per_round = len(benchmark.calls) and benchmark.stats.iterations
    assert per_round > 10, per_round
    assert all(0.001 * 0.9 <= call < 0.001 + WAIT_S / 2 for call in benchmark.calls), benchmark.calls
    assert benchmark.extra_info["waited_call_s"] >= 0.001 + WAIT_S * 0.9, benchmark.extra_info


def test_doctors_timings_wait_for_the_work(fake_gpu):
    from tensorbench.scripts.doctor import best_time

    workload = Late()
    assert best_time(workload.step, fake_gpu, repeats=3, warm=1) >= STEP_S * 0.9


def test_a_tpu_call_ends_by_fetching_an_element_of_its_last_output(monkeypatch):
    """TensorFlow documents sync_devices as doing nothing on a TPU: the wait copies one element of the
    last output to the host, which cannot happen before the op that made it ran."""
    import tensorflow as tf

    fetched = []
    original = tf.reshape
    monkeypatch.setattr(tf, "reshape", lambda value, shape: fetched.append(value) or original(value, shape))
    monkeypatch.setattr(tf.test.experimental, "sync_devices", lambda: pytest.fail("sync_devices waits for no TPU"))
    first, last = tf.constant([1.0, 2.0]), tf.constant([[3.0]])
    devices.wait(Device("TPU", 0, "/device:CPU:0", "fake TPU"), {"a": first, "b": [last]})
    assert len(fetched) == 1 and fetched[0] is last


def test_a_step_that_writes_in_place_is_waited_for_through_what_it_wrote(monkeypatch):
    """stream and the Variable updates return nothing (graph mode would copy the Variable out in the timed
    call): a TPU's wait, which needs an output, fetches from what the step wrote (Workload.in_place)."""
    import tensorflow as tf

    written = tf.Variable([1.0, 2.0])

    class WritesInPlace(Late):
        def step(self):
            written.assign_add([1.0, 1.0])

        def in_place(self):
            return written

    monkeypatch.setattr(Late, "queue", Queue(), raising=False)
    fetched = []
    original = tf.reshape
    monkeypatch.setattr(tf, "reshape", lambda value, shape: fetched.append(value) or original(value, shape))
    tpu = Device("TPU", 0, "/device:CPU:0", "fake TPU")
    harness.first_call(WritesInPlace(), Case(WritesInPlace, {}, tpu, "eager"))
    assert fetched and fetched[-1] is written
