"""The machine's noise probes: fixed calls, timed in windows as long as a round, so that their spread is
the spread any row's rounds see from the machine alone. Used before and after a run (scripts/noise.py)
and between its benchmarks (benchmarks/conftest.py), where a sample of WINDOW_S of each, every
SAMPLE_EVERY_S, costs some 2% of the run (30 samples of both probes took a median of 22 ms each on the
AMD EPYC VM of 2026-12-04).

Windows, not single calls: on the 2-core AMD EPYC VM of 2026-12-02 a burst of 200 single calls (60 ms)
spread 5% and called the machine steady while 57% of the quick run's rows were flagged; the probe's
median moved from 200 to 300 us between half-second spans, and a pure-Python loop's 50 ms windows spread
14 to 27%. Only samples spread over the run show that.

Two probes, because the machine's noise is not one thing. `compute` is NumPy's matmul, a core's
arithmetic through the BLAS, on one BLAS thread since 2026-12-04: on NumPy's threads each sample left an
OpenBLAS worker spinning for some 0.1 s (workloads/blas_threads.py), into the dispatch probe's window
and the next benchmark. `dispatch` is a tf.function call of a tiny op, what TensorFlow's runtime
costs around any step, and what most graph-mode rows are made of. On the Intel Xeon VM of 2026-12-03
(evening), the two sampled alternately every 0.2 s for 15 s, three times: NumPy's windows spread 9, 28
and 10%, the tf.function call's 36, 40 and 42% (its median 420-463 us); a quick run in the same hour,
whose NumPy probe said "steady" (9%), flagged 40 of its 68 graph-mode rows and 4 of its 31 NumPy ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache

import numpy as np

from .blas_threads import one_blas_thread

PROBES = {"compute": "NumPy float32 matmul, 256 x 256, one BLAS thread",
          "dispatch": "TensorFlow tf.function call of a 2 x 1 fill"}
SAMPLE_KEYS = {"compute": "s", "dispatch": "dispatch_s"}
"""Each probe's key in a sample of `tensorbench.noise_samples` (`s`: the compute probe, as before there
were two). Each burst carries its probe's key, so that the report reads the samples without this module."""
WINDOW_S = 0.01
"""A window: as long as a few of the profiles' 2 ms rounds."""
SAMPLE_EVERY_S = 1.0
WARM_CALLS = 20
SAMPLE_WARM_CALLS = 3
"""Untimed calls before a sample: after a benchmark the BLAS's threads are asleep, and a first call took
up to 20 ms (6 windows in 40 over twice the median after a TensorFlow matmul loop; none after 3 calls)."""


@cache
def _call(probe: str) -> Callable[[], object] | None:
    """The probe's call, its operands made (and the tf.function traced) once; None for the dispatch
    probe where TensorFlow is not installed, or is not this process's Keras backend (a JAX or PyTorch
    process imports no TensorFlow: on a GPU it would take the device's memory beside theirs)."""
    if probe == "compute":
        rng = np.random.default_rng(0)
        a, b = rng.random((256, 256), dtype=np.float32), rng.random((256, 256), dtype=np.float32)
        return lambda: a @ b
    if probe == "dispatch":
        import os

        if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
            return None
        try:
            import tensorflow as tf
        except ImportError:
            return None

        def fill(value):
            with tf.device("/CPU:0"):  # the host's runtime, on any machine
                return tf.fill((2, 1), value)

        with tf.device("/CPU:0"):
            value = tf.identity(tf.constant(1.0))
        traced = tf.function(fill)
        traced(value)
        return lambda: traced(value)
    raise ValueError(f"unknown probe {probe!r}; known: {', '.join(PROBES)}")


def available() -> list[str]:
    """The probes this process can time."""
    return [probe for probe in PROBES if _call(probe) is not None]


def window(seconds: float = WINDOW_S, warm_calls: int = 0, probe: str = "compute") -> float:
    """Seconds per probe call, over calls looped for at least `seconds` (at least one call), after
    `warm_calls` untimed ones."""
    call = _call(probe)
    with one_blas_thread():  # the compute probe leaves no BLAS thread spinning into the next benchmark
        for _ in range(warm_calls):
            call()
        calls, started = 0, time.perf_counter()
        while True:
            call()
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                return elapsed / calls


def burst(seconds: float = 0.3, window_s: float = WINDOW_S, probe: str = "compute") -> dict[str, float]:
    """The probe timed in windows for `seconds`, after WARM_CALLS untimed calls: when, the windows'
    median, IQR and fastest (s per call), how many windows, and the windows themselves, in order."""
    window(0.0, WARM_CALLS, probe)  # the warm-up, untimed: `seconds` are the windows' own
    windows, started = [], time.perf_counter()
    while not windows or time.perf_counter() - started < seconds:
        windows.append(window(window_s, probe=probe))
    q1, median, q3 = np.percentile(windows, [25, 50, 75])
    return {"probe": PROBES[probe], "sample_key": SAMPLE_KEYS[probe], "at": time.time(),
            "median_s": float(median), "iqr_s": float(q3 - q1), "min_s": float(min(windows)),
            "windows": len(windows), "window_s": window_s, "windows_s": windows}


def bursts() -> dict[str, dict[str, float]]:
    """A burst of each probe, by name."""
    return {probe: burst(probe=probe) for probe in available()}


class Sampler:
    """A window of each probe at most every SAMPLE_EVERY_S, when asked between benchmarks."""

    def __init__(self, every_s: float = SAMPLE_EVERY_S):
        self.every_s, self.last, self.samples = every_s, -float("inf"), []

    def maybe_sample(self) -> None:
        if time.perf_counter() - self.last >= self.every_s:
            windows = {SAMPLE_KEYS[probe]: window(warm_calls=SAMPLE_WARM_CALLS, probe=probe) for probe in available()}
            self.samples.append({"at": time.time(), **windows})
            self.last = time.perf_counter()
