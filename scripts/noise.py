"""How noisy the machine was while a run ran, measured rather than assumed (pyperf warns about an
unstable system; two quick runs on a shared 2-core VM once differed by up to 27% in a family's
geometric mean, more than any row's own spread showed).

A fixed probe, NumPy's float32 matmul of 256 x 256 (all cores through its BLAS, about a third of a
millisecond on a 2-core CPU), is timed in a burst before the suite and again after it. Two figures
come of it: the spread within a burst (IQR over median: the noise any row's rounds also see) and the
drift between the bursts (the after median over the before one: what changed on the machine during the
run, which no row's rounds can show). A run is steady when both stay within STEADY_DRIFT and
STEADY_SPREAD; otherwise its closing lines say that differences smaller than the noise mean nothing.
The probe times the host: an accelerator's own noise shows in its rows' spread.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

PROBE = "NumPy float32 matmul, 256 x 256"
WARM_CALLS = 20
CALLS = 200
STEADY_DRIFT = 0.05
STEADY_SPREAD = 0.10


def burst(calls: int = CALLS) -> dict[str, float]:
    """Time the probe `calls` times after WARM_CALLS untimed ones: when, median, IQR and best (s)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((256, 256), dtype=np.float32), rng.random((256, 256), dtype=np.float32)
    for _ in range(WARM_CALLS):
        a @ b
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        a @ b
        times[i] = time.perf_counter() - start
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {"at": time.time(), "median_s": float(median), "iqr_s": float(q3 - q1), "min_s": float(times.min()),
            "calls": calls}


def summary(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """The JSON's `tensorbench.noise`: both bursts, the drift between them, the larger spread, and
    whether that is steady."""
    drift = after["median_s"] / before["median_s"] - 1
    spread = max(b["iqr_s"] / b["median_s"] for b in (before, after))
    return {"probe": PROBE, "before": before, "after": after, "drift": drift, "spread": spread,
            "steady": abs(drift) <= STEADY_DRIFT and spread <= STEADY_SPREAD}


def verdict(noise: dict[str, Any]) -> str:
    """The run's closing line about its machine's noise."""
    measured = (f"the probe ({noise['probe']}) ran {abs(noise['drift']):.0%} "
                f"{'slower' if noise['drift'] > 0 else 'faster'} after the suite than before it, with a spread of "
                f"{noise['spread']:.0%} within a burst")
    if noise["steady"]:
        return f"tensorbench: noise: steady: {measured}"
    return (f"tensorbench: noise: NOT STEADY: {measured}; differences between runs smaller than "
            f"{max(abs(noise['drift']), noise['spread']):.0%} mean nothing here: close other programs, or compare "
            "several runs a side (tensorbench compare A1,A2 B1,B2)")
