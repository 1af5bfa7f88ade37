"""`tensorbench run`: check the request, then run the pytest-benchmark suite in this process and
end with a short table. Everything measured lands in DIR/benchmarks.json, pytest-benchmark's JSON."""

from __future__ import annotations

import platform
import re
import sys
from datetime import datetime
from pathlib import Path

from .errors import UsageError
from .native_log import captured_native_stderr


def _benchmarks_dir() -> Path:
    """The suite: benchmarks/ beside scripts/ in a checkout, or the installed tensorbench.benchmarks."""
    import tensorbench.benchmarks

    return Path(tensorbench.benchmarks.__file__).resolve().parent


def run_id(devices: list) -> str:
    """Names date, host and devices, so two runs never share a folder: 20261129-091500-myhost-cpu+numpy."""
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", platform.node() or "host")
    kinds = "+".join(dict.fromkeys(d.id.replace(":", "") for d in devices))
    return f"{datetime.now():%Y%m%d-%H%M%S}-{host}-{kinds}"


def plan(profile: str, devices: list[str], modes: list[str], only: list[str]) -> tuple[list, int]:
    """Validate what was asked against what exists; return the devices and the number of cases."""
    from tensorbench.workloads import devices as device_layer
    from tensorbench.workloads import registry

    chosen = registry.select(only)  # imports TensorFlow
    if not chosen:
        every = registry.all_workloads()
        sections = sorted({s for cls in every.values() for s in registry.sections(cls)})
        raise UsageError(
            f"--only {','.join(only)} selects no workload; workloads: {', '.join(every)}; "
            f"families: {', '.join(registry.families())}; sections: {', '.join(sections)}"
        )
    try:
        present = device_layer.resolve(devices or None)
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    cases = sum(
        len(cls.sweeps[profile])
        for cls in chosen.values()
        for device in present
        for mode in modes
        if device.kind != "numpy" or (cls.numpy_baseline and mode == "eager")
    )
    if not cases:
        raise UsageError(
            f"nothing to run: {', '.join(chosen)} on {', '.join(d.id for d in present)} in modes "
            f"{', '.join(modes)} (the numpy baseline runs only tensor workloads, in eager mode)"
        )
    return present, cases


def run(profile: str, devices: list[str], modes: list[str], only: list[str], output: str | None) -> int:
    import pytest

    with captured_native_stderr() as startup:
        present, cases = plan(profile, devices, modes, only)
    out_dir = Path(output) if output else Path("results") / run_id(present)
    json_path = out_dir / "benchmarks.json"
    if json_path.exists():
        raise UsageError(f"{json_path} exists; choose another --output (nothing was overwritten)")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tensorflow-startup.log").write_text(startup.text)

    print(f"tensorbench: {cases} cases, profile {profile}, devices "
          f"{', '.join(f'{d.id} ({d.name})' for d in present)} -> {json_path} "
          f"(TensorFlow's start-up messages: {out_dir / 'tensorflow-startup.log'})", flush=True)
    args = [
        str(_benchmarks_dir()),
        "-p", "no:cacheprovider",
        "-v", "-rfs", "--no-header",  # one line per benchmark with progress; skip and failure reasons at the end
        f"--benchmark-json={json_path}",
        "--tensorbench-no-table",
        f"--tensorbench-profile={profile}",
        f"--tensorbench-devices={','.join(devices)}",
        f"--tensorbench-modes={','.join(modes)}",
        f"--tensorbench-only={','.join(only)}",
    ]
    status = pytest.main(args)
    return finish(json_path, int(status))


def finish(json_path: Path, status: int) -> int:
    """Print the short table and say where the results are; map pytest's status to ours."""
    import pytest

    from . import results, summary

    kept = 0
    if json_path.exists() and json_path.stat().st_size:
        table = results.load([json_path])
        kept = len(table)
        print("\nMedian time per call (rows: workload; columns: device and mode)\n")
        print(summary.format_overview(table))
    print(f"\ntensorbench: {kept} benchmarks in {json_path}")
    if status == pytest.ExitCode.INTERRUPTED:
        print("tensorbench: interrupted; the JSON keeps every benchmark that finished", file=sys.stderr)
        return 130
    if status == 1:
        print("tensorbench: some benchmarks failed (see above); the others are in the JSON", file=sys.stderr)
        return 1
    return 0 if status == 0 else 1

