"""`tensorbench ceiling [--devices ...] [--dtypes ...] [--preset quick|thorough] [--output DIR]`: how fast can this
machine go? Runs the ceiling finder (workloads/ceiling_finder.py: matmul over sizes and shapes, STREAM's
kernels from inside the caches to beyond them, host-device copies on accelerators) as a tensorbench run,
into the same pytest-benchmark JSON and report, then prints the best each device reached: per precision,
the fastest matmul and its shape; per working set, the bandwidth. An interrupted search still prints
the best of what finished.
"""

from __future__ import annotations

import time
from pathlib import Path

from tensorbench.workloads.base import MODES

PRESETS = {"quick": "quick", "thorough": "full"}
"""Preset -> the profile whose ceiling_finder sweeps it runs."""



def ceiling(devices: list[str], preset: str, output: str | None, dtypes: list[str] | None = None) -> int:
    started = time.perf_counter()
    from tensorbench.workloads.ceiling_finder import MATMUL_DTYPES  # imports TensorFlow

    from . import results
    from .ceilings import found, with_ceilings
    from .errors import UsageError
    from .run import run, run_id

    if set(dtypes or []) - set(MATMUL_DTYPES[PRESETS[preset]]):
        raise UsageError(f"--dtypes {','.join(dtypes)}: the matmul sweep is in "
                         + "; ".join(f"{', '.join(MATMUL_DTYPES[p])} ({name})" for name, p in PRESETS.items()))

    if output is None:
        from tensorbench.workloads import devices as device_layer

        output = str(Path("results") / f"ceiling-{run_id(device_layer.resolve(devices or None))}")
    status = run(PRESETS[preset], devices, list(MODES), ["ceiling_finder"], output, dtypes=dtypes, started=started)
    json_path = Path(output) / "benchmarks.json"
    if json_path.exists() and json_path.stat().st_size:
        table = results.load([json_path])
        if len(table):
            table = with_ceilings(table)
            print("\nThe ceilings found (best round of each benchmark)\n")
            print(found(table).to_string(index=False))
    return status
