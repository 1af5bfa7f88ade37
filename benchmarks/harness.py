"""How one case is timed. Every benchmark goes through measure(); no workload is special-cased.

    setup (untimed, and waited for) -> first call, synchronised, timed once = first_call_s -> check
    (untimed; a wrong answer fails the benchmark) -> warm-up calls -> pytest-benchmark times the rounds.

A round is a stream of calls, as a program runs them: on a device that returns before its work is done
(a GPU, a TPU, JAX anywhere) the round's calls run back to back and the round ends with one wait for
their work, so the per-call figure is comparable with the CPU's, which needs none; the latency of one
call with its own wait is a figure of its own (waited_call_s). A workload whose call runs many steps
behind a fixed cost (Keras's fit, evaluate, predict: StepCalls) is timed in calls of two lengths,
alternately, and the row reports one steady step and the fixed cost a call apart (time_steps;
docs/timing.md).

The rounds are counted from the warm-up's fastest call (pytest-benchmark's pedantic mode, as pyperf
fixes its loops once): a round loops the call until it lasts the profile's min_round_s (a call that long
or longer is a round by itself), and there are as many rounds as would fill max_time at that call's
speed, min_rounds at the least (an estimate: calls that speed up after the warm-up are timed for less).
pytest-benchmark's own calibration was fooled by the noisy development VM: it times a few calls of its
own, and one slow call among them set the loop.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import pytest
from tensorbench.workloads.base import COMPILED, StepCalls, Workload
from tensorbench.workloads.blas_threads import one_blas_thread
from tensorbench.workloads.cases import Case
from tensorbench.workloads.checks import largest_error
from tensorbench.workloads.devices import Device, backend, device_scope, is_out_of_memory, must_wait, wait

from .out_of_memory import OutOfMemory


@dataclass(frozen=True)
class Rounds:
    """How long to time: pytest-benchmark's min_rounds and max_time, and the warm-up calls before."""

    min_rounds: int
    max_time: float
    warmup_calls: int
    warmup_time: float = 0.0
    min_round_s: float = 0.0
    """pytest-benchmark's min_time: the shortest round; a call at least this long is a round by itself."""


ESTIMATOR = "median"
"""The statistic of a benchmark's rounds that the results read as its time (a key of pytest-benchmark's
stats), with the IQR over it as its spread. The minimum moved less from run to run in the tail (two quick
runs back to back, 2026-12-02: a row's minimum by 51.4% at the 90th percentile, its median by 67.8%;
`python -m tensorbench.scripts.estimators`, docs/timing.md), but `compare` bootstraps the rounds, and a
bootstrap of a minimum is degenerate."""

SETTLE_CALLS = 5
SETTLED = 1.05
"""The calls have settled when the medians of the latest quarter of them (SETTLE_CALLS at the least)
and of the quarter before it are within SETTLED of each other."""
LEAST_WARMUP_SHARE = 0.2
"""The warm-up lasts at least this share of warmup_time: a slow phase can be flat before it ends."""
CHECK_GROWTH = 1.25
"""settled() is asked again when the calls have grown by this factor: its medians cost a sort of a
quarter of the calls, too much to do after every call of a microsecond."""


def settled(calls: list[float]) -> bool:
    """The calls neither get faster nor slower: the medians of the latest quarter and of the quarter
    before it are within SETTLED of each other. Quarters, not a fixed count: on the noisy development VM the
    calls of one step spread 7 to 20% (IQR over median; a bare NumPy matmul loop, 2026-12-01), so the median of the
    last 5 calls was seldom within 5% of the fastest call and the warm-up ran to its budget in 40% of a
    quick run's cases, while a falling phase (an add of 1024 x 1024 from 4.6 to 1.0 ms over 50 calls)
    still shows between quarters."""
    quarter = len(calls) // 4
    if quarter < SETTLE_CALLS:
        return False
    latest, before = statistics.median(calls[-quarter:]), statistics.median(calls[-2 * quarter:-quarter])
    return max(latest, before) <= SETTLED * min(latest, before)


def too_slow_to_settle(calls: list[float], budget: float) -> bool:
    """settled() compares quarters of at least SETTLE_CALLS calls: a step whose calls are so slow that
    the warm-up's budget holds fewer than four quarters of them (an epoch of fit in the quick profile)
    would only run to the budget, even at its fastest call. Such a call warms up inside itself (an
    epoch is dozens of batches), so the profile's warmup_calls are enough, as pyperf warms up with one
    value a process, once its calls have stopped getting faster: the latest no faster than SETTLED
    times the one before. Judged on one call, a matmul of 768^3 stopped after a first call of about
    25 ms, the rounds were counted from it, and the calls then took 8.8 to 20 ms: 0.12 s of the 0.2 s
    asked were timed (CI, 2026-12-03)."""
    if len(calls) < 2 or SETTLED * calls[-1] < calls[-2]:
        return False
    return 4 * SETTLE_CALLS * min(calls) > budget  # the fastest: a fresh step's first calls can be slow


def warm_up(timed, rounds: Rounds) -> list[float]:
    """Call `timed` until its time settles: at least warmup_calls times (and once) and for at least
    LEAST_WARMUP_SHARE of warmup_time, then on until settled(), for at most warmup_time seconds (max_time
    when that is longer) in all; a step too slow to settle in that time (too_slow_to_settle) stops at
    warmup_calls. Return the calls' durations: the rounds are counted from the fastest
    (calls_and_rounds).

    A count alone is not enough: a fresh step on the CPU is slow for dozens of calls (first-touched
    output buffers, thread pools waking), and with 3 warm calls the suite timed an elementwise add of
    1024 x 1024 at 5.8 ms a call where a bare timeit loop of the same step gave 1.0 ms
    (scripts/agreement.py, 2026-11-29)."""
    budget = max(rounds.warmup_time, rounds.max_time)
    started = time.perf_counter()
    calls: list[float] = []
    next_check = 4 * SETTLE_CALLS
    while True:
        before = time.perf_counter()
        timed()
        calls.append(time.perf_counter() - before)
        elapsed = time.perf_counter() - started
        if elapsed >= budget:
            break
        if len(calls) < max(rounds.warmup_calls, 1) or elapsed < LEAST_WARMUP_SHARE * rounds.warmup_time:
            continue
        if too_slow_to_settle(calls, budget):
            break
        if len(calls) >= next_check:
            if settled(calls):
                break
            next_check = math.ceil(len(calls) * CHECK_GROWTH)
    return calls


def waited(device: Device, workload: Workload, call):
    """`call` ending with a wait for its work where the device needs one (devices.must_wait): one call's
    latency. On the CPU, `call` itself (no wrapper call in what is timed)."""
    if not must_wait(device):
        return call
    return lambda: wait(device, done(workload, call()))


class Stream:
    """A round's calls back to back, as a program's stream of ops runs: pytest-benchmark makes `calls`
    calls a round, and the last of them waits for the round's work, once. What it waits on: under JAX the
    outputs of every call of the round (its CPU client may run independent calls out of order); elsewhere
    the last call's, since TensorFlow's and torch's waits take everything queued and a TPU runs a
    process's ops in order (devices.wait); those others' outputs are dropped at once, so the device's
    allocator reuses their memory as a program's would."""

    def __init__(self, device: Device, workload: Workload, call, calls: int):
        self.device, self.workload, self.call, self.calls = device, workload, call, calls
        self.keep_all = backend(device) == "jax"
        self.pending: list[Any] = []
        self.made = 0

    def __call__(self) -> None:
        outputs = done(self.workload, self.call())
        if self.keep_all:
            self.pending.append(outputs)
        self.made += 1
        if self.made == self.calls:
            wait(self.device, self.pending if self.keep_all else outputs)
            self.pending, self.made = [], 0


def time_rounds(benchmark, device: Device, workload: Workload, call, rounds: Rounds,
                lockstep: bool = False) -> dict[str, Any]:
    """Warm up, then let pytest-benchmark time the rounds (pedantic, calls_and_rounds), each a Stream.
    Returns where the time went: warm-up, calibration (pytest-benchmark's loop around the rounds) and the
    timed rounds themselves; and, where calls are waited for, one call's latency with its wait.

    In lockstep (several worker processes run the case together and every call is a collective), each
    worker must make the same calls, so the counts are fixed: warmup_calls, then min_rounds rounds of one
    call.
    """
    one = waited(device, workload, call)
    started = time.perf_counter()
    record: dict[str, Any] = {}
    if lockstep:
        for _ in range(max(rounds.warmup_calls, 1)):
            one()
        warmed = time.perf_counter()
        benchmark.pedantic(one, rounds=rounds.min_rounds, iterations=1)
        timed_as = "lockstep"
    else:
        calls_seen = warm_up(one, rounds)
        warmed = time.perf_counter()
        calls, count = calls_and_rounds(max(min(calls_seen), 1e-9), rounds)
        if must_wait(device):
            record["waited_call_s"] = statistics.median(calls_seen[-max(len(calls_seen) // 4, 1):])
        benchmark.pedantic(Stream(device, workload, call, calls) if calls > 1 else one, rounds=count,
                           iterations=calls)
        timed_as = "one call a round" if calls == 1 else "looped"
    ended = time.perf_counter()
    timed_s = float(benchmark.stats.stats.total) * benchmark.stats.iterations
    return {"warmup_s": warmed - started, "calibration_s": max(ended - warmed - timed_s, 0.0), "timed_s": timed_s,
            "max_time_s": rounds.max_time, "timed_as": timed_as, **record}


FIXED_SHARE = 0.1
"""A step row's timed call is long enough that its fixed cost is at most this share of it
(calibrated_steps): the steps dominate what is timed, and the short call's noise little moves the step."""
PROBE_CALLS = 2
"""Calls of each length that calibrated_steps times, taking the fastest."""
GROWTH = 4
MOST_STEPS = 65536
LONG_ENOUGH_S = 0.25
"""A call this long is long enough, whatever its fixed cost reads: fixed costs are milliseconds, and where a
step is seconds the two calls' noise, read as a fixed cost, would grow the call without end
(docs/timing.md)."""
SHORTEST_LONG_S = 0.05
"""The long call lasts at least this (LONG_ENOUGH_S permitting), so that its difference from the short call
is many steps, not within the two calls' noise (docs/timing.md)."""


def best_of(call, times: int) -> float:
    """The fastest of `times` calls of `call`, in seconds; one call where it lasts LONG_ENOUGH_S (its
    first run's few milliseconds more are nothing there, and ResNet-50's calls on a CPU are seconds)."""
    best = math.inf
    for _ in range(times):
        before = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - before)
        if best >= LONG_ENOUGH_S:
            break
    return best


def fixed_and_step(short_s: float, short_n: int, long_s: float, long_n: int) -> tuple[float, float]:
    """The fixed cost a call and the time of one step, from a call of short_n steps and one of long_n (a
    line through the two: the intercept and the slope)."""
    step = (long_s - short_s) / (long_n - short_n)
    return short_s - short_n * step, step


def calibrated_steps(device: Device, workload: Workload, calls: StepCalls) -> int:
    """Steps of a step row's timed call: from twice the shortest call, GROWTH times more until the fixed
    cost (read from this call and the shortest) is at most FIXED_SHARE of the call and the call lasts
    SHORTEST_LONG_S, or it lasts LONG_ENOUGH_S; MOST_STEPS at most.
    Grown, not solved for from two short calls: where the fixed cost is most of a short call (a GPU's
    step of a small model), the short calls' difference is within their noise."""
    shortest = calls.shortest
    short_s = best_of(waited(device, workload, calls.of(shortest)), PROBE_CALLS)
    steps = 2 * shortest
    if short_s >= LONG_ENOUGH_S:
        return steps
    while True:
        long_s = best_of(waited(device, workload, calls.of(steps)), PROBE_CALLS)
        fixed, _ = fixed_and_step(short_s, shortest, long_s, steps)
        if (fixed <= FIXED_SHARE * long_s and long_s >= SHORTEST_LONG_S) or long_s >= LONG_ENOUGH_S \
                or steps * GROWTH > MOST_STEPS:
            return steps
        steps *= GROWTH


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(q1, median, q3) as pytest-benchmark's statistics compute them."""
    from pytest_benchmark.stats import Stats

    stats = Stats()
    for value in values:
        stats.update(value)
    return stats.q1, stats.median, stats.q3


def time_steps(benchmark, device: Device, workload: Workload, calls: StepCalls, rounds: Rounds) -> dict[str, Any]:
    """A call of many steps, split into its fixed cost and its steady steps: pytest-benchmark times the
    long call, and before each of its rounds (pedantic's setup, outside its timer) a call of the fewest
    steps is timed; each pair gives a step's time (their difference over the steps between them) and the
    fixed cost a call (the intercept). Alternated, so that a machine whose speed drifts moves both calls
    of a pair. The long call is step() itself where the row's figure is the whole call (StepCalls.whole),
    else a call of calibrated_steps. Each call waits for its work: it is one call a round."""
    short_n = calls.shortest
    short = waited(device, workload, calls.of(short_n))
    started = time.perf_counter()
    if calls.whole is None:
        long_n = calibrated_steps(device, workload, calls)
        long = waited(device, workload, calls.of(long_n))
    else:
        long_n, long = calls.whole, waited(device, workload, workload.step)
    best_of(short, PROBE_CALLS)  # a call's first run over a fresh dataset was 5 ms slower (an MLP's evaluate)
    if long_n <= short_n:
        raise ValueError(f"{workload!r}: a call of {long_n} steps cannot be split against one of {short_n}")
    calibrated = time.perf_counter()
    warm = min(warm_up(long, rounds))
    warmed = time.perf_counter()
    shorts: list[float] = []

    def timed_short() -> None:
        before = time.perf_counter()
        short()
        shorts.append(time.perf_counter() - before)

    count = max(rounds.min_rounds, math.ceil(rounds.max_time / warm))
    benchmark.pedantic(long, setup=timed_short, rounds=count, iterations=1)
    ended = time.perf_counter()
    longs = [float(x) for x in benchmark.stats.stats.data]
    pairs = [fixed_and_step(s, short_n, x, long_n) for s, x in zip(shorts, longs)]
    step_q1, step_s, step_q3 = quartiles([step for _, step in pairs])
    fixed_q1, fixed_s, fixed_q3 = quartiles([fixed for fixed, _ in pairs])
    timed_s = sum(longs)
    return {
        "warmup_s": warmed - calibrated, "calibration_s": calibrated - started + max(ended - warmed - timed_s, 0.0),
        "timed_s": timed_s, "max_time_s": rounds.max_time, "timed_as": "steps",
        "steps": {
            "figure": "whole call" if calls.whole else "step", "call": calls.call,
            "short_steps": short_n, "long_steps": long_n,
            "step_s": step_s, "step_q1_s": step_q1, "step_q3_s": step_q3,
            "per_call_s": fixed_s, "per_call_q1_s": fixed_q1, "per_call_q3_s": fixed_q3,
            "short_call_s": statistics.median(shorts), "long_call_s": statistics.median(longs),
            "step_rounds_s": [step for _, step in pairs],
            "rule": (f"calls of {short_n} and {long_n} steps alternately, each waited for; per pair, a step "
                     f"is their difference over {long_n - short_n} steps and the fixed cost a call the "
                     "intercept; medians and quartiles over the pairs"
                     + ("" if calls.whole else f"; {long_n} steps: the fixed cost at most {FIXED_SHARE:.0%} "
                        f"of the call, or a call of {LONG_ENOUGH_S} s or {MOST_STEPS} steps")),
        },
    }


def calls_and_rounds(warm: float, rounds: Rounds) -> tuple[int, int]:
    """Calls a round (enough for a round of min_round_s) and rounds (enough for max_time, min_rounds at
    the least), counted from the warm-up's fastest call: counted from its last, a warm-up whose last call
    took 8.7 to 10.5 ms, where the timed calls took 5.6 to 5.9 ms, left a row timed for 0.11 to 0.13 s of
    the 0.2 s asked (CI, 2026-12-01)."""
    calls = max(1, math.ceil(rounds.min_round_s / warm))
    return calls, max(rounds.min_rounds, math.ceil(rounds.max_time / (calls * warm)))


def timing_record(rounds: Rounds) -> dict[str, Any]:
    """The JSON's account of how the rounds were timed and what the results read of them."""
    return {
        "estimator": ESTIMATOR, "spread": "iqr",
        "min_rounds": rounds.min_rounds, "max_time_s": rounds.max_time, "min_round_s": rounds.min_round_s,
        "warmup_calls": rounds.warmup_calls, "warmup_time_s": rounds.warmup_time,
        "settle": {"calls_a_quarter": SETTLE_CALLS, "within": SETTLED, "least_warmup_share": LEAST_WARMUP_SHARE},
        "rule": (f"warm up until the medians of the last two quarters of the calls are within {SETTLED}x; "
                 "then, counted from the fastest warm call, each round loops the call until it lasts "
                 "min_round_s (timed_as 'looped'; a call that long is a round by itself: 'one call a round'), "
                 "and there are as many rounds as fill max_time_s, min_rounds at the least; cases run in "
                 "lockstep by several processes time warmup_calls, then min_rounds rounds of one call "
                 "(timed_as 'lockstep'). On a device that returns before its work is done, a round's calls "
                 "run back to back and the round ends with one wait (waited_call_s: one call with its own "
                 "wait). A call of many steps behind a fixed cost is timed at two lengths alternately "
                 "(timed_as 'steps'; extra_info.steps). A workload may ask for a longer max_time (its rows' "
                 "extra_info.max_time_s)."),
    }


def done(workload: Workload, outputs: Any) -> Any:
    """What a wait waits for after a step: its outputs, or what it wrote in place when it returns none."""
    return workload.in_place() if outputs is None else outputs


def _json_ready(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def _peak_memory(device: Device, reset: bool = False) -> int | None:
    """Peak bytes allocated on a GPU since the last reset; None elsewhere."""
    if device.kind != "GPU" or device.tf_name is None:  # TensorFlow's GPUs only
        return None
    import tensorflow as tf

    try:
        if reset:
            tf.config.experimental.reset_memory_stats(device.tf_name)
            return None
        return int(tf.config.experimental.get_memory_info(device.tf_name)["peak"])
    except (ValueError, RuntimeError):
        return None


def first_call(workload: Workload, case: Case) -> dict[str, Any]:
    """What runs before any timing, inside the device's scope: setup, the first call (timed once and
    synchronised: tracing or compilation) and the check, setup and check with NumPy's BLAS on one
    thread (workloads/blas_threads.py). Returns the benchmark's extra_info."""
    device = case.device
    started = time.perf_counter()
    workload.device = device
    with one_blas_thread():  # the suite's own NumPy work leaves no BLAS thread spinning (blas_threads)
        workload.setup(device, case.mode)
    wait(device)  # setup's queued copies and initialisers end here, not inside the first call's time
    start = time.perf_counter()
    outputs = workload.step()
    wait(device, done(workload, outputs))
    called = time.perf_counter()
    first_call_s = called - start
    with one_blas_thread():
        verified = workload.check(outputs)
    del outputs
    check_s = time.perf_counter() - called
    if "precision_rule" not in workload.extra_info():  # every row says what it was held to
        workload.held_to()
    return {
        "label": case.label, "roles": dict(workload.roles),
        "workload": workload.name, "family": workload.family, "version": workload.version,
        "section": workload.section, "backend": case.backend,
        "device": device.id, "device_kind": device.kind, "device_name": device.name,
        "mode": case.mode, "dtype": workload.dtype,
        "params": {k: _json_ready(v) for k, v in workload.params.items()},
        "flops": workload.flops(), "bytes": workload.bytes(), "items": workload.items(),
        "first_call_s": first_call_s, "check": verified, "check_error": largest_error(verified),
        "compiled_mode": COMPILED.get(case.backend) == case.mode,  # the backend's own: set beside the others'
        "setup_s": start - started, "check_s": check_s,
        **workload.extra_info(),
    }


def measure(benchmark, case: Case, rounds: Rounds) -> None:
    """Run `case` under pytest-benchmark, recording everything in benchmark.extra_info."""
    workload = case.workload(**case.params)
    reason = workload.unsupported(case.device, case.mode)
    if reason:
        pytest.skip(reason)
    device = case.device
    with device_scope(device):
        try:
            _peak_memory(device, reset=True)
            benchmark.extra_info.update(first_call(workload, case))

            lockstep = case.rules.lockstep(case.params)
            calls = None if lockstep else workload.step_calls()
            if calls is None:
                timing = time_rounds(benchmark, device, workload, workload.step, rounds, lockstep)
            else:
                timing = time_steps(benchmark, device, workload, calls, rounds)
            benchmark.extra_info.update(timing)
            peak = _peak_memory(device)
            if peak is not None:
                benchmark.extra_info["peak_memory_bytes"] = peak
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            raise OutOfMemory({
                "case": case.id, "workload": workload.name, "device": device.id, "device_kind": device.kind,
                "mode": case.mode, "params": {k: _json_ready(v) for k, v in workload.params.items()},
                "roles": dict(workload.roles),
                "error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
            }) from exc
        finally:
            workload.teardown()
