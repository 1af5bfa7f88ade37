"""Profiles: how much to measure, as data. One code path serves every profile.

A profile picks each workload's parameter sets (its `sweeps[profile]`) and pytest-benchmark's
round settings. `smoke` is the tiny profile the tests and quick checks use.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str
    min_rounds: int
    """pytest-benchmark --benchmark-min-rounds: at least this many timed rounds."""
    max_time: float
    """pytest-benchmark --benchmark-max-time: seconds of timed rounds per benchmark (when above min_rounds)."""
    warmup_calls: int
    """Untimed calls after the first call and the check, before the timed rounds, at the least; all of
    them for a step too slow to settle within warmup_time (an epoch: benchmarks/harness.py)."""
    warmup_time: float
    """Seconds the warm-up may go on until the calls settle (benchmarks/harness.py, warm_up): a fresh step
    on the CPU is slow for dozens of calls (an elementwise add of 1024 x 1024 took 4.6 ms a call in its
    first ten calls and 1.0 ms from its fiftieth on the development VM)."""
    description: str
    min_round_s: float = 2e-3
    """pytest-benchmark --benchmark-min-time: a faster call is looped until a round lasts this long; a
    call this long or longer is a round by itself (benchmarks/harness.py). Not pytest-benchmark's 5 us:
    on the 2-core development VM single calls of tens of microseconds (an eager add of 8 x 8: 23 us)
    spread 20-65% between rounds, and rounds of 2 ms average that jitter out, as timeit and pyperf loop a
    call per value. Alternated over the fast families (tensors, tensor_ops, gradients, keras_layers,
    linear_classifier; 129 rows, 2026-12-02), rounds of 5 us, 2 ms and 10 ms flagged 91, 68, 71 and then
    82, 67, 75 of them, their median spread 13.7, 9.1, 9.9 and 11.9, 9.8, 10.5%, each run in 31-44 s;
    two more pairs of 5 us and 2 ms: 90 and 73, 64 and 61 flagged.
    Longer rounds do no better: the machine's own speed moves over tens of milliseconds."""

    def benchmark_options(self) -> dict[str, object]:
        """pytest-benchmark's options (by their dest names) that this profile sets."""
        return {
            "benchmark_min_rounds": self.min_rounds,
            "benchmark_max_time": self.max_time,
            "benchmark_min_time": self.min_round_s,
            "benchmark_warmup": False,  # the harness warms up itself, slow calls included
        }


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("smoke", 2, 0.0, 0, 0.0, "tiny sizes, 2 rounds: does everything run and check? (tests, CI)", 5e-6),
        Profile("quick", 5, 0.05, 1, 0.25, "every section and mode at small and medium sizes, in minutes on 2 CPU cores"),
        Profile("standard", 10, 0.5, 10, 2.0, "size sweeps up to where a CPU saturates"),
        Profile("full", 20, 2.0, 20, 5.0, "the largest sizes and most rounds, for accelerators"),
    )
}

SCALES = tuple(PROFILES)


def grid(**axes: list[Any]) -> list[dict[str, Any]]:
    """Every combination of the axes' values: grid(n=[8, 64], dtype=["float32"])."""
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


def sweep(**per_profile: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Parameter sets per profile; a profile left out reuses the one before it (smoke < quick < ...)."""
    unknown = set(per_profile) - set(SCALES)
    if unknown:
        raise ValueError(f"unknown profiles {sorted(unknown)}; known: {SCALES}")
    out: dict[str, list[dict[str, Any]]] = {}
    previous: list[dict[str, Any]] = [{}]
    for scale in SCALES:
        previous = per_profile.get(scale, previous)
        out[scale] = previous
    return out
