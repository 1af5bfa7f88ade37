"""`tensorbench run`: check the request, run the pytest-benchmark suite, end with a short table.
Everything measured lands in DIR/benchmarks.json, pytest-benchmark's JSON.

Most cases run in this process; those that need processes of their own (scripts/processes.py) run after,
in groups, and their JSON files are merged into the run's.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from unittest import mock

from tensorbench.workloads import noise_probe
from tensorbench.workloads.record import PHASES
from tensorbench.workloads.strategies import ProcessSpec

from . import noise, processes
from .errors import UsageError
from .native_log import captured_native_stderr

NO_PLUGIN_AUTOLOAD = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
OUR_PLUGINS = ["-p", "pytest_benchmark.plugin", "-p", "no:unraisableexception"]
"""The suite's pytest loads pytest-benchmark and no other installed plugin: another one can change what
is timed (pytest-randomly reseeds and reorders, pytest-cov traces every line) or add to the run's time
(hypothesis's plugin imported hypothesis at the end of every run: 4.6 s of py-spy's samples of a quick run
of two families, 2026-12-03). pytest's unraisableexception plugin runs a full garbage collection at the end
(1.4 s of those samples, over TensorFlow's objects) to report exceptions raised in __del__, which a
benchmark does not act on."""


def _benchmarks_dir() -> Path:
    """The suite, benchmarks/ beside scripts/ (a checkout or the installed package): pytest runs it
    by path; the commands never import the benchmark layer."""
    return Path(__file__).resolve().parent.parent / "benchmarks"


def run_id(devices: list) -> str:
    """Names date, host and devices, so two runs never share a folder: 20261129-091500-myhost-cpu+numpy."""
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", platform.node() or "host")
    kinds = "+".join(dict.fromkeys(d.id.replace(":", "") for d in devices))
    return f"{datetime.now():%Y%m%d-%H%M%S}-{host}-{kinds}"


def configured_backend() -> str:
    """The backend Keras would load, read as Keras reads it (KERAS_BACKEND, else ~/.keras/keras.json, else
    TensorFlow) without importing Keras, which fails where that backend is not installed."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def choose_backends(requested: list[str]) -> tuple[list[str], list[str]]:
    """The requested Keras backends that are installed, and a line for each that is not. The first
    installed one runs in this process (set before Keras is imported); the others in processes of their own."""
    import importlib.util

    if not requested:
        configured = configured_backend()
        if importlib.util.find_spec(configured) is None:
            raise UsageError(f"Keras's backend is {configured}, which is not installed here: choose one that is "
                             "(--backend jax or --backend torch, or KERAS_BACKEND)")
        return [], []
    installed, skipped = [], []
    for backend in requested:
        if importlib.util.find_spec(backend) is None:
            skipped.append(f"tensorbench: backend {backend} skipped: {backend} is not installed "
                           f"(pip install 'tensorbench[{backend}]')")
        else:
            installed.append(backend)
    if not installed:
        raise UsageError(f"none of the backends {', '.join(requested)} is installed")
    if "keras" in sys.modules and sys.modules["keras"].config.backend() != installed[0]:
        raise UsageError(f"Keras is already loaded with another backend than {installed[0]}")
    os.environ["KERAS_BACKEND"] = installed[0]
    return installed, skipped


def plan(profile: str, devices: list[str], modes: list[str], only: list[str],
         dtypes: list[str] | None = None) -> tuple[list, list]:
    """Validate what was asked against what exists; return the devices and the cases."""
    from tensorbench.workloads import devices as device_layer
    from tensorbench.workloads import registry
    from tensorbench.workloads.cases import enumerate_cases

    chosen = registry.select(only)  # imports the catalogue, and so the backend's framework
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
    cases = enumerate_cases(profile, present, modes, only, dtypes)
    if not cases:
        raise UsageError(
            f"nothing to run: {', '.join(chosen)} on {', '.join(d.id for d in present)} in modes "
            f"{', '.join(modes)}" + (f" in {', '.join(dtypes)}" if dtypes else "")
            + " (the numpy baseline runs only tensor workloads, in eager mode)"
        )
    return present, cases


def run(profile: str, devices: list[str], modes: list[str], only: list[str], output: str | None,
        isolate: str = "auto", backends: list[str] | None = None, dtypes: list[str] | None = None,
        started: float | None = None, closing=None) -> int:
    """`started`: when the command began (time.perf_counter()), where it did work of its own first, so
    that the run's time and its import are counted from there. `closing(table)`: a command's own last lines,
    from the run's table (with ceilings), as finish() made it."""
    import pytest

    started = time.perf_counter() if started is None else started
    backends, skipped = choose_backends(backends or [])
    with captured_native_stderr() as startup:
        present, cases = plan(profile, devices, modes, only, dtypes)
        others = other_backends(backends[1:], only)
    import_s = time.perf_counter() - started  # the catalogue, and with it TensorFlow (or the backend's framework)
    out_dir = Path(output) if output else Path("results") / run_id(present)
    json_path = out_dir / "benchmarks.json"
    if json_path.exists():
        raise UsageError(f"{json_path} exists; choose another --output (nothing was overwritten)")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "startup.log").write_text(startup.text)  # the framework's native start-up messages
    groups = processes.plan_groups(cases, isolate)
    apart = [case for group in groups for case in group.cases]
    for line in skipped:
        print(line, flush=True)

    print(f"tensorbench: {len(cases)} cases ({len(apart)} in processes of their own), profile {profile}, devices "
          f"{', '.join(f'{d.id} ({d.name})' for d in present)} -> {json_path} "
          f"(the framework's start-up messages: {out_dir / 'startup.log'})"
          + (f"; Keras backend {backends[0]}, then {', '.join(others)} in processes of their own" if others else ""),
          flush=True)
    # -rs: skip reasons at the end; failures are listed by finish(), from the JSON, with those of the
    # processes of their own
    options = [
        *OUR_PLUGINS, "-p", "no:cacheprovider", "-rs", "--tb=short", "--no-header", "--tensorbench-no-table",
        f"--tensorbench-profile={profile}",
        f"--tensorbench-devices={','.join(devices)}",
        f"--tensorbench-modes={','.join(modes)}",
        f"--tensorbench-only={','.join(only)}",
        f"--tensorbench-dtypes={','.join(dtypes or [])}",
    ]
    exclude = f"--tensorbench-exclude={','.join(case.id for case in apart)}"
    before = noise_probe.bursts()  # the machine's noise, before the suite and again after it
    # -v: one line per benchmark, with the progress
    with mock.patch.dict(os.environ, NO_PLUGIN_AUTOLOAD):  # here and in the processes of their own
        status = int(pytest.main([str(_benchmarks_dir()), "-v", f"--tensorbench-json={json_path}", exclude, *options]))
        groups += [processes.Group(ProcessSpec(backend=b), limit_s=float("inf")) for b in others]  # enumerate their own
        if groups and status not in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
            status = max(status, run_groups(groups, options, out_dir / "isolated"))
    document = merge_parts(json_path, sorted((out_dir / "isolated").glob("*.json")))
    return finish(json_path, status, started, import_s, (before, noise_probe.bursts()), document, closing)


def other_backends(backends: list[str], only: list[str]) -> list[str]:
    """The backends after this process's that have a selected workload to run (said when one has none)."""
    from tensorbench.workloads import registry

    chosen = registry.select(only)
    kept = []
    for backend in backends:
        if any(backend in cls.backends for cls in chosen.values()):
            kept.append(backend)
        else:
            print(f"tensorbench: backend {backend} skipped: none of the selected workloads runs under Keras's "
                  f"{backend} backend (they use TensorFlow itself)", flush=True)
    return kept


def run_groups(groups: list, options: list[str], folder: Path) -> int:
    """Each group in its own `python -m pytest` process(es); returns the worst pytest status (2: interrupted,
    3: the suite stopped itself), stopping at either."""
    import pytest

    folder.mkdir(exist_ok=True)
    worst = 0
    for number, group in enumerate(groups, 1):
        needs = ", ".join(f"{k}={v}" for k, v in group.spec.environment().items()) or "a fresh process"
        what = (f"{len(group.cases)} case(s): {', '.join(c.id for c in group.cases[:3])}"
                f"{', ...' if len(group.cases) > 3 else ''}" if group.cases else "the Keras workloads")
        print(f"[{number}/{len(groups)}] in processes of their own ({needs}, {group.spec.workers} worker(s)): {what}",
              flush=True)
        # listed cases, quietly; or a whole backend's run, a line per benchmark as in this process
        selected = [f"--tensorbench-cases={','.join(c.id for c in group.cases)}", "-q"] if group.cases else ["-v"]
        command = [sys.executable, "-m", "pytest", str(_benchmarks_dir()), *selected, *options]
        status = processes.run_group(group, command, folder / f"{number:04d}.json", folder)
        if status in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
            return status
        worst = max(worst, status)
    return worst


def merge_parts(json_path: Path, parts: list[Path]) -> dict | None:
    """The run's document (its JSON, read once after the suite), with the other processes' benchmarks,
    failures and out-of-memory records, the reason one of them stopped, and the machine info of each other
    Keras backend's process (its framework's version and settings); None where nothing was saved. finish()
    writes it, once."""
    from .results import with_largest_fitted

    docs = [json.loads(p.read_text()) for p in [json_path, *parts] if p.exists() and p.stat().st_size]
    if not docs:
        return None
    merged = docs[0]
    block = merged.setdefault("tensorbench", {})
    records = block.setdefault("out_of_memory", [])
    if len(docs) == 1 and not records:
        return merged  # nothing to add
    failed = block.setdefault("failed", [])
    for doc in docs[1:]:
        merged["benchmarks"].extend(doc["benchmarks"])
        records.extend(doc.get("tensorbench", {}).get("out_of_memory", []))
        failed.extend(doc.get("tensorbench", {}).get("failed", []))
        block["stopped"] = block.get("stopped") or doc.get("tensorbench", {}).get("stopped")
        environment = doc.get("machine_info", {}).get("tensorbench", {})
        backend = environment.get("keras", {}).get("backend")
        if backend and backend != merged.get("machine_info", {}).get("tensorbench", {}).get("keras", {}).get("backend"):
            block.setdefault("machine_info_by_backend", {})[backend] = environment
    block["out_of_memory"] = with_largest_fitted(records, merged["benchmarks"])
    return merged


def _replace_json(json_path: Path, document: dict) -> None:
    """Rewrite the run's JSON in one step (a temporary file, then os.replace): an interrupt half way
    leaves the old file whole, never a truncated one."""
    partial = json_path.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, indent=1))
    os.replace(partial, json_path)


WORDS = {"first_call": "first calls", "check": "checks", "warmup": "warm-up", "timed": "timed rounds"}


def time_spent(table, import_s: float, report_s: float, wall_s: float) -> dict[str, float]:
    """Where a run's wall-clock time went: the framework's import, each phase summed over the benchmarks,
    the report, and the rest (pytest, saving the JSON, processes of their own starting)."""
    spent = {"import": import_s}
    spent.update({phase: float(table[f"{phase}_s"].sum()) if f"{phase}_s" in table else 0.0 for phase in PHASES})
    spent["report"] = report_s
    spent["other"] = max(wall_s - sum(spent.values()), 0.0)
    return {"total": wall_s, **spent}


def finish(json_path: Path, status: int, started: float | None = None, import_s: float = 0.0,
           noise_bursts: tuple[dict, dict] | None = None, document: dict | None = None, closing=None) -> int:
    """Print the short table, what failed and why, what ran out of memory, where the results are, how
    noisy the machine was and where the time went; write the report; map pytest's status to ours. The
    last line says why the suite stopped itself, when it did. `document`: the run's JSON as merge_parts
    read it; its table is made once and handed to the report, and the file is written once, at the end,
    with the noise and the time spent in its `tensorbench` block."""
    import pytest

    from . import results, summary
    from .ceilings import with_ceilings

    table, record = results.load([]), {}
    if document is not None:
        table, record = results.load([json_path], {json_path: document}), results.run_record(document)
        table = table if table.empty else with_ceilings(table)
    failed, stopped = record.get("failed", []), record.get("stopped")
    if len(table) or failed:
        print("\nMedian time per call (rows: workload; columns: device and mode)\n")
        print(summary.format_overview(table, failed))
    for _, row in table[table["implausible"] != ""].iterrows() if "implausible" in table else ():
        print(f"implausible (!): {row['param']}: {row['implausible']}")
    for oom in record.get("out_of_memory", []):
        print(f"out of memory: {oom['case']} (largest batch that fitted: {oom.get('largest_batch_that_fitted')})")
    for failure in failed:
        print(f"failed: {failure['case']}: {failure['error']}")
    print(f"\ntensorbench: {len(table)} benchmarks in {json_path}"
          + (f"; {len(failed)} failed" if failed else ""), flush=True)
    blocks = {}  # into the JSON's tensorbench block, in one rewrite of the file at the end
    if len(table):
        from .report import write

        if noise_bursts is not None:  # with the samples the suite took between its benchmarks; first, for the report
            machine_noise = noise.summary(*noise_bursts, record.get("noise_samples"))
            document.setdefault("tensorbench", {})["noise"] = machine_noise

        reporting = time.perf_counter()
        try:
            print(f"tensorbench: report in {write([json_path], json_path.parent, {json_path: document}, table)}")
        except Exception as exc:  # noqa: BLE001 - the results are safe in the JSON; `tensorbench report` can retry
            print(f"tensorbench: error: writing the report failed: {type(exc).__name__}: {exc} "
                  f"(the results are in {json_path})", file=sys.stderr)
            status = max(status, pytest.ExitCode.TESTS_FAILED)
        if started is not None:
            ended = time.perf_counter()
            spent = time_spent(table, import_s, ended - reporting, ended - started)
            print(f"tensorbench: {spent['total']:.0f} s in all: "
                  + ", ".join(f"{WORDS.get(name, name)} {seconds:.1f} s" for name, seconds in spent.items()
                              if name != "total"),
                  flush=True)
            blocks["time_spent_s"] = {k: round(v, 3) for k, v in spent.items()}
        if noise_bursts is not None:
            print(noise.verdict(machine_noise), flush=True)
        document.setdefault("tensorbench", {}).update(blocks)
    if document is not None:
        _replace_json(json_path, document)  # the one write after the suite
    if closing is not None and len(table):
        closing(table)
    if stopped or status == pytest.ExitCode.INTERNAL_ERROR:
        print(f"tensorbench: error: {stopped or 'the suite stopped itself (see its output above)'}", file=sys.stderr)
        return 1
    if status == pytest.ExitCode.INTERRUPTED:
        print("tensorbench: interrupted; the JSON keeps every benchmark that finished", file=sys.stderr)
        return 130
    if status == pytest.ExitCode.TESTS_FAILED:
        print("tensorbench: some benchmarks failed (listed above); the others are in the JSON", file=sys.stderr)
        return 1
    return 0 if status == pytest.ExitCode.OK else 1
