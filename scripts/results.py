"""Results: pytest-benchmark JSON files into one tidy pandas table, one row per benchmark per run.

Derived figures (throughput, GFLOP/s, GB/s) are computed here from the raw fields and the median
time; they are never stored in place of the raw times. A plain pytest-benchmark file, without
tensorbench's extra_info, loads too: the fields it lacks are empty.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from tensorbench.workloads.record import ROLES

from .ceilings import derived_cpu_peak

# pyperf's `check` thresholds: a spread over 10% of the median, too few rounds, calls too short to time
MAX_SPREAD = 0.10
MIN_ROUNDS = 5
MIN_CALL_S = 1e-6


class ResultsError(ValueError):
    """A results file that cannot be read as pytest-benchmark JSON (the message says why)."""


def read_json(path: str | Path) -> dict:
    """The document in `path`, or ResultsError saying what is wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a folder, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from None
    if not text.strip():
        raise ResultsError(f"{path}: empty file")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ResultsError(f"{path}: not JSON ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    return document


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, text, NaN, a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def as_dict(value: Any) -> dict:
    """`value` when it is a dict, else an empty one: malformed files lose fields, not the report."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _roles(info: dict) -> dict[str, str | None]:
    """role_<name> for each role: text, a list joined by commas. Files written before roles were recorded
    (November 2026) have none; their ceiling rows said `ceiling` among their figures."""
    roles = {**({"ceiling": info["ceiling"]} if "ceiling" in info else {}), **as_dict(info.get("roles"))}
    return {f"role_{name}": ",".join(map(str, value)) if isinstance(value, list) else _text(value)
            for name, value in ((n, roles.get(n)) for n in ROLES)}


def step_stats(steps: dict) -> dict | None:
    """A step row's time, from its pairs of calls (extra_info.steps.step_rounds_s, benchmarks/harness.py
    time_steps) as pytest-benchmark's statistics read a benchmark's rounds; None for any other row."""
    from pytest_benchmark.stats import Stats

    rounds = [x for x in steps.get("step_rounds_s") or [] if _number(x) is not None]
    if steps.get("figure") != "step" or not rounds:
        return None
    stats = Stats()
    for value in rounds:
        stats.update(value)
    return {**stats.as_dict(), "data": rounds}


def _row(bench: dict, run_id: str, machine: str, tf32_enabled: bool) -> dict:
    info = as_dict(bench.get("extra_info"))
    steps = as_dict(info.get("steps"))
    call = as_dict(bench.get("stats"))
    stats = step_stats(steps) or call  # a step row's figures are one step's; the whole call's is call_s
    params = as_dict(info.get("params"))
    data = stats.get("data")
    row = {
        "run_id": run_id,
        "machine": machine,
        "name": _text(bench.get("name")) or "?",
        "param": _text(bench.get("param")),
        "label": _text(info.get("label")),
        "has_roles": isinstance(info.get("roles"), dict),
        "workload": _text(info.get("workload")) or _text(bench.get("name")) or "?",
        "family": _text(info.get("family")),
        "section": _text(info.get("section")),
        "version": _text(info.get("version")),
        "backend": _text(info.get("backend")),
        "device": _text(info.get("device")),
        "device_kind": _text(info.get("device_kind")),
        "device_name": _text(info.get("device_name")),
        "mode": _text(info.get("mode")),
        "dtype": _text(info.get("dtype")),
        "params": json.dumps(params, sort_keys=True, default=str),  # the parameters as one key, to match rows by
        "params_dict": params,  # and as the dict a row's reader needs: nobody parses the key again
        "published_as": json.dumps(info["published_as"], sort_keys=True, default=str)
        if isinstance(info.get("published_as"), dict) else None,
        "median_s": _number(stats.get("median")),
        "iqr_s": _number(stats.get("iqr")),
        "q1_s": _number(stats.get("q1")),
        "q3_s": _number(stats.get("q3")),
        "mean_s": _number(stats.get("mean")),
        "stddev_s": _number(stats.get("stddev")),
        "min_s": _number(stats.get("min")),
        "rounds": _number(stats.get("rounds")),
        "call_s": _number(call.get("median")) if steps else None,
        "step_s": _number(steps.get("step_s")),
        "per_call_s": _number(steps.get("per_call_s")),
        "steps_per_call": _number(steps.get("long_steps")),
        "figure": _text(steps.get("figure")) or "call",
        "call": _text(steps.get("call")),
        "items": _number(info.get("items")),
        "flops": _number(info.get("flops")),
        "bytes": _number(info.get("bytes")),
        "first_call_s": _number(info.get("first_call_s")),
        "rel_error": _number(info.get("rel_error")),
        "replicas_in_sync": _number(info.get("replicas_in_sync")),
        "bus_factor": _number(info.get("bus_factor")),
        **_roles(info),
        "cache_bytes": _number(info.get("cache_bytes")),
        "precision": _precision(info, tf32_enabled),
        "data": [x for x in data if _number(x) is not None] if isinstance(data, list) else [],
    }
    for key, value in params.items():
        if key not in ("dtype",):
            row[f"param_{key}"] = "x".join(map(str, value)) if isinstance(value, list) else value
    for key, value in info.items():  # every other scalar figure the harness or the workload recorded
        if key not in row and key != "ceiling" and (isinstance(value, (str, bool)) or _number(value) is not None):
            row[key] = value
    return row


def _precision(info: dict, tf32_enabled: bool) -> str | None:
    """The arithmetic a row ran in: what its check held it to (`precision_rule.held_to`, the one rule of
    workloads/precision.py: "tf32" for float32 matmuls on a GPU with TF32 on, not for its float32 adds).
    Rows written before that record: their dtype (the compute dtype under a Keras mixed policy), or "tf32"
    for float32 on an NVIDIA GPU with TF32 on (the run's setting, or the row's own `tf32_enabled`)."""
    held = _text(as_dict(info.get("precision_rule")).get("held_to"))
    if held:
        return held
    dtype = _text(info.get("compute_dtype")) or _text(info.get("dtype"))  # a mixed policy's arithmetic
    tf32 = info["tf32_enabled"] if isinstance(info.get("tf32_enabled"), bool) else tf32_enabled
    return "tf32" if dtype == "float32" and info.get("device_kind") == "GPU" and tf32 else dtype


def run_name(path: Path, document: dict) -> str:
    """A run's name: its folder for results/<run-id>/benchmarks.json, else the file's stem."""
    return path.parent.name if path.name == "benchmarks.json" and path.parent.name else path.stem


def load(paths: list[str | Path], documents: dict[Path, dict] | None = None) -> pd.DataFrame:
    """One row per benchmark per file, with throughput (items/s), gflops, gbps and trust flags. `documents`:
    those already read, by path (a run hands its own over, so that nothing reads the file again)."""
    rows = []
    for path in map(Path, paths):
        document = (documents or {}).get(path) or read_json(path)
        machine_info = as_dict(document.get("machine_info"))
        machine = _text(machine_info.get("node")) or ""
        tf32 = as_dict(machine_info.get("tensorbench")).get("tf32_enabled") is True
        cpu_peaks = derived_cpu_peak(as_dict(machine_info.get("cpu")),
                                     _number(as_dict(machine_info.get("tensorbench")).get("cpu_cores_usable")))
        for bench in document["benchmarks"]:
            if isinstance(bench, dict):
                row = _row(bench, run_name(path, document), machine, tf32)
                on_cpu = row["device_kind"] in ("CPU", "numpy")
                rows.append({**row, "derived_peak_gflops": cpu_peaks.get(row["precision"]) if on_cpu else None})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    median = table["median_s"].astype(float)
    table["throughput"] = table["items"].astype(float) / median
    table["gflops"] = table["flops"].astype(float) / median / 1e9
    table["gbps"] = table["bytes"].astype(float) / median / 1e9
    table["bus_gbps"] = table["gbps"] * table["bus_factor"].astype(float)  # NCCL's bus bandwidth (all-reduce)
    table["trust"] = table.apply(trust_flags, axis=1)
    return table


def trust_flags(row: pd.Series) -> str:
    """Why a cell is not to be trusted, as pyperf's check says it: '' when nothing is wrong."""
    flags = []
    median, iqr, rounds = row.get("median_s"), row.get("iqr_s"), row.get("rounds")
    if median is not None and iqr is not None and median > 0 and iqr / median > MAX_SPREAD:
        flags.append(f"spread {iqr / median:.0%} of median")
    if rounds is not None and rounds < MIN_ROUNDS:
        flags.append(f"{rounds:.0f} rounds")
    if median is not None and median < MIN_CALL_S:
        flags.append("under 1 us per call")
    return "; ".join(flags)


def version_conflicts(table: pd.DataFrame) -> list[str]:
    """Workloads measured at different versions in these runs: their numbers must not be compared."""
    if table.empty or table["version"].isna().all():
        return []
    versions = table.dropna(subset=["version"]).groupby("workload")["version"].unique()
    return [f"{workload}: versions {', '.join(sorted(v))}" for workload, v in versions.items() if len(v) > 1]


def run_record(source: str | Path | dict) -> dict:
    """The run's own record (the JSON's `tensorbench` block) of a file or a document already read, its lists
    holding only records: out_of_memory (each with the largest batch of its sweep that fitted) and failed
    (lists of dicts), stopped (why the suite stopped itself, or None)."""
    doc = source if isinstance(source, dict) else read_json(source)
    block = as_dict(doc.get("tensorbench"))
    lists = {key: [r for r in block[key] if isinstance(r, dict)] if isinstance(block.get(key), list) else []
             for key in ("out_of_memory", "failed")}
    benchmarks = [b for b in doc.get("benchmarks") or [] if isinstance(b, dict)] if isinstance(doc, dict) else []
    lists["out_of_memory"] = with_largest_fitted(lists["out_of_memory"], benchmarks)
    return {**block, **lists, "stopped": _text(block.get("stopped"))}


def out_of_memory(paths: list[str | Path], documents: dict[Path, dict] | None = None) -> list[dict]:
    """The out-of-memory records of these runs (tensorbench.out_of_memory); `documents` as load() takes them."""
    return [record for path in map(Path, paths)
            for record in run_record((documents or {}).get(path) or path)["out_of_memory"]]


def with_largest_fitted(records: list[dict[str, Any]], benchmarks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record with `largest_batch_that_fitted`: the largest value of its sweep parameter (the role
    `sweep`: the batch size for training) that finished, the workload, device, mode and other parameters
    the same. Records written before roles were recorded get None."""
    def axis(info: dict[str, Any]) -> str | None:
        return _text(as_dict(info.get("roles")).get("sweep"))

    def line(info: dict[str, Any]) -> tuple:
        params = {k: v for k, v in as_dict(info.get("params")).items() if k != axis(info)}
        return info.get("workload"), info.get("device"), info.get("mode"), json.dumps(params, sort_keys=True, default=str)

    fitted: dict[tuple, list] = {}
    for bench in benchmarks:
        info = as_dict(bench.get("extra_info"))
        value = as_dict(info.get("params")).get(axis(info)) if axis(info) else None
        if _number(value) is not None:
            fitted.setdefault(line(info), []).append(value)
    return [{**record, "largest_batch_that_fitted": max(fitted.get(line(record), []), default=None)
             if axis(record) else None} for record in records]
