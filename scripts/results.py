"""Results: pytest-benchmark JSON files into one tidy pandas table, one row per benchmark per run.

Derived figures (throughput, GFLOP/s, GB/s) are computed here from the raw fields and the median
time; they are never stored in place of the raw times.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


class ResultsError(ValueError):
    """A results file that cannot be read as pytest-benchmark JSON (the message says why)."""


def read_json(path: str | Path) -> dict:
    """The document in `path`, or ResultsError saying what is wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from None
    if not text.strip():
        raise ResultsError(f"{path}: empty file")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise ResultsError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    return document


def _row(bench: dict, run_id: str, machine: str) -> dict:
    stats = bench.get("stats") or {}
    info = bench.get("extra_info") or {}
    median = stats.get("median")
    row = {
        "run_id": run_id,
        "machine": machine,
        "name": bench.get("name"),
        "param": bench.get("param"),
        "workload": info.get("workload", bench.get("name")),
        "family": info.get("family"),
        "section": info.get("section"),
        "version": info.get("version"),
        "device": info.get("device"),
        "device_kind": info.get("device_kind"),
        "device_name": info.get("device_name"),
        "mode": info.get("mode"),
        "dtype": info.get("dtype"),
        "params": json.dumps(info.get("params", {}), sort_keys=True),
        "median_s": median,
        "iqr_s": stats.get("iqr"),
        "mean_s": stats.get("mean"),
        "stddev_s": stats.get("stddev"),
        "min_s": stats.get("min"),
        "rounds": stats.get("rounds"),
        "items": info.get("items"),
        "flops": info.get("flops"),
        "bytes": info.get("bytes"),
        "first_call_s": info.get("first_call_s"),
    }
    for key, value in (info.get("params") or {}).items():
        row[f"param_{key}"] = value if not isinstance(value, list) else "x".join(map(str, value))
    return row


def load(paths: list[str | Path]) -> pd.DataFrame:
    """One row per benchmark per file, with throughput (items/s), gflops and gbps derived."""
    rows = []
    for path in paths:
        document = read_json(path)
        machine = (document.get("machine_info") or {}).get("node", "")
        run_id = Path(path).parent.name if Path(path).name == "benchmarks.json" else Path(path).stem
        rows.extend(_row(b, run_id, machine) for b in document["benchmarks"] if isinstance(b, dict))
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    median = pd.to_numeric(table["median_s"], errors="coerce")
    for column, source, scale in (("throughput", "items", 1.0), ("gflops", "flops", 1e9), ("gbps", "bytes", 1e9)):
        table[column] = pd.to_numeric(table[source], errors="coerce") / median / scale
    return table
