"""How noisy the machine was while a run ran, measured rather than assumed (pyperf warns about an
unstable system; two quick runs on a shared 2-core VM once differed by up to 27% in a family's
geometric mean, more than any row's own spread showed).

Two probes (workloads/noise_probe.py: NumPy's float32 matmul of 256 x 256, the cores' arithmetic through
the BLAS, and a tf.function call of a 2 x 1 fill, TensorFlow's runtime around a step; tensorbench run
times them, this module reads what they measured) are timed in windows of 10 ms, as long as a few rounds:
in a burst before the suite and after it, and one window each about every second between the suite's
benchmarks (the run record's `noise_samples`). Three figures come of each: the spread within a burst
(IQR over median: the noise any row's rounds see), the spread of the samples over the run (how far the
machine's own speed moved while it ran: what makes rows spread and two runs differ), and the drift
between the bursts. A run is steady when all of them stay within STEADY_DRIFT and STEADY_SPREAD;
otherwise its closing lines say that differences smaller than the noise mean nothing. The probes time
the host: an accelerator's own noise shows in its rows' spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pytest_benchmark.stats import Stats

from .results import MAX_SPREAD

STEADY_DRIFT = 0.05
STEADY_SPREAD = 0.10
ROUNDS_AS_A_ROW = 5
"""A slow row's rounds (the profiles' least), so that the bursts' windows, taken that many at a time,
are rows of a call that never changes: how often the flag falls on those is how often the machine alone
puts it on a row."""


def flagged_as_rows(bursts: list[dict[str, Any]], rounds: int = ROUNDS_AS_A_ROW) -> dict[str, int] | None:
    """The bursts' windows in runs of `rounds` consecutive ones, each judged as a row is (pytest-benchmark's
    IQR over its median, over results.MAX_SPREAD): how many such rows, and how many flagged. None for
    runs whose bursts kept no windows (before the evening of 2026-12-03)."""
    rows = [b["windows_s"][i:i + rounds] for b in bursts if isinstance(b.get("windows_s"), list)
            for i in range(0, len(b["windows_s"]) - rounds + 1, rounds)]
    if not rows:
        return None
    flagged = 0
    for row in rows:
        stats = Stats()
        for value in row:
            stats.update(value)
        flagged += stats.iqr / stats.median > MAX_SPREAD
    return {"rounds": rounds, "rows": len(rows), "flagged": flagged}


def over_the_run(samples: list[dict[str, float]], key: str = "s") -> dict[str, Any] | None:
    """The samples taken between benchmarks (each probe's under its `key`): how many, their spread (IQR
    over median) and their fastest and slowest against the median. None with fewer than 4 (a run of a
    few seconds)."""
    values = [s[key] for s in samples if isinstance(s, dict) and isinstance(s.get(key), (int, float))]
    if len(values) < 4:
        return None
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {"count": len(values), "median_s": float(median), "spread": float((q3 - q1) / median),
            "fastest": float(min(values) / median), "slowest": float(max(values) / median)}


def probe_summary(before: dict[str, float], after: dict[str, float],
                  samples: list[dict[str, float]] | None = None, key: str = "s") -> dict[str, Any]:
    """One probe's bursts, its samples' summary over the run, the drift between the bursts, the largest
    spread, and whether that is steady."""
    drift = after["median_s"] / before["median_s"] - 1
    during = over_the_run(samples or [], key)
    spread = max([b["iqr_s"] / b["median_s"] for b in (before, after)] + ([during["spread"]] if during else []))
    return {"probe": before.get("probe", "NumPy float32 matmul"), "before": before, "after": after,
            "during": during, "drift": drift, "spread": spread, "as_rows": flagged_as_rows([before, after]),
            "steady": abs(drift) <= STEADY_DRIFT and spread <= STEADY_SPREAD}


def summary(before: dict[str, dict], after: dict[str, dict],
            samples: list[dict[str, float]] | None = None) -> dict[str, Any]:
    """The JSON's `tensorbench.noise`: each probe's summary (`probes`; the samples themselves stay in
    `tensorbench.noise_samples`), and over them all the largest drift and spread, and whether every
    probe was steady."""
    probes = [probe_summary(before[name], after[name], samples, before[name].get("sample_key", "s"))
              for name in before if name in after]
    return {"probes": probes, "probe": "; ".join(p["probe"] for p in probes),
            "drift": max((p["drift"] for p in probes), key=abs), "spread": max(p["spread"] for p in probes),
            "steady": all(p["steady"] for p in probes)}


def verdict(noise: dict[str, Any]) -> str:
    """The run's closing line about its machine's noise."""
    return f"tensorbench: noise: {described(noise)}"


READ = ("probe", "drift", "spread", "steady")
"""What described() reads of a run's `tensorbench.noise`."""


def described(noise: dict[str, Any]) -> str:
    """How steady the machine was, in words and figures (the closing line, and each run's line in the
    report). A run from before there were two probes has one, at the top level."""
    measured = "; ".join(_measured(probe) for probe in noise.get("probes") or [noise])
    if noise["steady"]:
        return f"steady: {measured}"
    return (f"NOT STEADY: {measured}; rows spread by the machine itself, and differences "
            f"between runs smaller than {max(abs(noise['drift']), noise['spread']):.0%} mean nothing here: close "
            "other programs, or compare several runs a side (tensorbench compare A1,A2 B1,B2)")


def _measured(probe: dict[str, Any]) -> str:
    """One probe's figures, in words."""
    during, as_rows = probe.get("during"), probe.get("as_rows")
    window_s = probe["before"].get("window_s") if isinstance(probe.get("before"), dict) else None
    timed = f"in {window_s * 1e3:.0f} ms windows" if window_s else "single calls"  # runs before 2026-12-02: calls
    return (f"the probe ({probe['probe']}, {timed}) ran {abs(probe['drift']):.0%} "
            f"{'slower' if probe['drift'] > 0 else 'faster'} after the suite than before it"
            + (f"; its {during['count']} samples over the run spread {during['spread']:.0%} "
               f"({during['fastest']:.2f} to {during['slowest']:.2f} of their median)" if during else "")
            + f"; largest spread {probe['spread']:.0%}"
            + (f"; {as_rows['flagged']} of its {as_rows['rows']} rows of {as_rows['rounds']} windows flagged for spread"
               if as_rows else ""))
