"""The machine's noise probe: one fixed call, timed in windows as long as a round, so that its spread is
the spread any row's rounds see from the machine alone. Used before and after a run (scripts/noise.py)
and between its benchmarks (benchmarks/conftest.py), where a sample of WINDOW_S every SAMPLE_EVERY_S
costs a hundredth of the run.

Windows, not single calls: on the 2-core AMD EPYC VM of 2026-12-02 a burst of 200 single calls (60 ms)
spread 5% and called the machine steady while 57% of the quick run's rows were flagged; the probe's
median moved from 200 to 300 us between half-second spans, and a pure-Python loop's 50 ms windows spread
14 to 27%. Only samples spread over the run show that."""

from __future__ import annotations

import time
from functools import cache

import numpy as np

PROBE = "NumPy float32 matmul, 256 x 256"
WINDOW_S = 0.01
"""A window: as long as a few of the profiles' 2 ms rounds."""
SAMPLE_EVERY_S = 1.0
WARM_CALLS = 20
SAMPLE_WARM_CALLS = 3
"""Untimed calls before a sample: after a benchmark the BLAS's threads are asleep, and a first call took
up to 20 ms (6 windows in 40 over twice the median after a TensorFlow matmul loop; none after 3 calls)."""


@cache
def _operands() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((256, 256), dtype=np.float32), rng.random((256, 256), dtype=np.float32)


def window(seconds: float = WINDOW_S, warm_calls: int = 0) -> float:
    """Seconds per probe call, over calls looped for at least `seconds` (at least one call), after
    `warm_calls` untimed ones."""
    a, b = _operands()
    for _ in range(warm_calls):
        a @ b
    calls, started = 0, time.perf_counter()
    while True:
        a @ b
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / calls


def burst(seconds: float = 0.3, window_s: float = WINDOW_S) -> dict[str, float]:
    """The probe timed in windows for `seconds`, after WARM_CALLS untimed calls: when, the windows'
    median, IQR and fastest (s per call), and how many windows."""
    window(0.0, WARM_CALLS)  # the warm-up, untimed: `seconds` are the windows' own
    windows, started = [], time.perf_counter()
    while not windows or time.perf_counter() - started < seconds:
        windows.append(window(window_s))
    q1, median, q3 = np.percentile(windows, [25, 50, 75])
    return {"probe": PROBE, "at": time.time(), "median_s": float(median), "iqr_s": float(q3 - q1),
            "min_s": float(min(windows)), "windows": len(windows), "window_s": window_s}


class Sampler:
    """A window of the probe at most every SAMPLE_EVERY_S, when asked between benchmarks."""

    def __init__(self, every_s: float = SAMPLE_EVERY_S):
        self.every_s, self.last, self.samples = every_s, -float("inf"), []

    def maybe_sample(self) -> None:
        if time.perf_counter() - self.last >= self.every_s:
            self.samples.append({"at": time.time(), "s": window(warm_calls=SAMPLE_WARM_CALLS)})
            self.last = time.perf_counter()
