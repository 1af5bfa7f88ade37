"""`tensorbench ceiling [--devices ...] [--dtypes ...] [--preset quick|thorough] [--backend B] [--output DIR]`: how
fast can this machine go? Runs the ceiling finder (workloads/ceiling_finder.py: matmul over sizes and shapes,
STREAM's kernels from inside the caches to beyond them, host-device copies on accelerators), or under JAX or
PyTorch the Keras ceilings (workloads/keras_ceilings.py), as a tensorbench run,
into the same pytest-benchmark JSON and report, then prints the best each device reached: per precision,
the fastest matmul and its shape; per working set, the bandwidth. An interrupted search still prints
the best of what finished.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from tensorbench.workloads.base import MODES

PRESETS = {"quick": "quick", "thorough": "full"}
"""Preset -> the profile whose ceiling_finder sweeps it runs (TensorFlow)."""
KERAS_PRESETS = {"quick": "standard", "thorough": "full"}
"""Preset -> the profile of keras_ceilings' sweeps, under JAX or PyTorch (the ceiling finder is TensorFlow's):
the saturating matmul in every dtype and the stream (quick); square sizes beside them (thorough)."""


def searched(preset: str) -> tuple[str, str, dict[str, list[str]]]:
    """What `preset` runs under this process's Keras backend: the family, the profile, and the matmul's
    dtypes by preset."""
    from tensorbench.workloads.keras_backend import current

    if current() == "tensorflow":
        from tensorbench.workloads.ceiling_finder import MATMUL_DTYPES

        return "ceiling_finder", PRESETS[preset], {name: MATMUL_DTYPES[p] for name, p in PRESETS.items()}
    from tensorbench.workloads.keras_ceilings import DTYPES

    return "ceilings", KERAS_PRESETS[preset], {name: DTYPES for name in KERAS_PRESETS}


def ceiling(devices: list[str], preset: str, output: str | None, dtypes: list[str] | None = None) -> int:
    started = time.perf_counter()
    from .ceilings import found
    from .errors import UsageError
    from .run import plan, run, run_id

    family, profile, preset_dtypes = searched(preset)
    if set(dtypes or []) - set(preset_dtypes[preset]):
        raise UsageError(f"--dtypes {','.join(dtypes)}: the matmul sweep is in "
                         + "; ".join(f"{', '.join(d)} ({name})" for name, d in preset_dtypes.items()))

    present, cases = plan(profile, devices, list(MODES), [family], dtypes)
    print(f"tensorbench: ceiling, {preset} preset: {len(cases)} cases; their timed rounds alone take at least "
          f"{_duration(least_time_s(cases, profile))} (each case's max_time, or its rounds at the device's "
          "peak where one is known); set-up, checks and warm-up come on top. Each finished case is a line.", flush=True)
    if output is None:
        output = str(Path("results") / f"ceiling-{run_id(present)}")
    def best_found(table) -> None:  # the run's own table, with its ceilings: the file is not read again
        print("\nThe ceilings found (best round of each benchmark)\n")
        print(found(table).to_string(index=False))

    return run(profile, devices, list(MODES), [family], output, dtypes=dtypes, started=started, closing=best_found)


def least_time_s(cases: list, profile_name: str) -> float:
    """A floor under a preset's time, said before it starts: per case that can run, the longer of its
    max_time (the profile's, or the workload's timed_s) and the profile's min_rounds calls at its
    device's peak (derived from the cores for a CPU, the datasheet's for an accelerator; max_time alone
    where no peak is known, so the floor stays a floor)."""
    from tensorbench.workloads.profiles import PROFILES

    profile = PROFILES[profile_name]
    total = 0.0
    for case in cases:
        workload = case.workload(**case.params)
        if workload.unsupported(case.device, case.mode):
            continue
        seconds = case.workload.max_time(profile_name, profile.max_time)
        peak, flops = _peak_gflops(case.device, workload.dtype), workload.flops()
        if peak and flops:
            seconds = max(seconds, profile.min_rounds * flops / (peak * 1e9))
        total += seconds
    return total


def _peak_gflops(device, dtype: str) -> float | None:
    from .ceilings import datasheet_peak

    if device.kind in ("CPU", "numpy"):
        return _cpu_peaks().get(dtype)
    found = datasheet_peak(device.name, dtype)
    return found[1] if found else None


@functools.lru_cache(maxsize=1)
def _cpu_peaks() -> dict[str, float]:
    """The CPU's derived peaks, read once (py-cpuinfo takes a second)."""
    from .ceilings import derived_cpu_peak
    from .doctor import cpu_cores, cpu_info

    return derived_cpu_peak(cpu_info(), cpu_cores())


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} minutes"
