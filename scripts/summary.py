"""The short table that ends a run: median time per benchmark, one column per device and mode."""

from __future__ import annotations

import math

import pandas as pd


def human_time(seconds: float) -> str:
    """1.23 us, 45.6 ms, 2.01 s: three significant digits with a unit a person reads at once."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return "-"


def case_label(row: pd.Series) -> str:
    """The benchmark's id without its device and mode: 'matmul-n1024-float32'. Plain pytest-benchmark
    files, without tensorbench's fields, fall back to the test's name."""
    label = str(row.get("param") or row.get("name"))
    if row.get("backend") not in (None, "tensorflow"):
        label = label.removesuffix(f"-{row.get('backend')}")
    return label.removesuffix(f"-{row.get('device')}-{row.get('mode')}")


def overview(table: pd.DataFrame) -> pd.DataFrame:
    """Median seconds pivoted: rows are workload and parameters, columns are device and mode (and the
    Keras backend, when it is not TensorFlow)."""
    if table.empty:
        return pd.DataFrame()
    backend = table["backend"].fillna("tensorflow") if "backend" in table else "tensorflow"
    frame = table.assign(
        case=table.apply(case_label, axis=1),
        column=table["device"].fillna("?") + " " + table["mode"].fillna("?")
        + pd.Series(backend, index=table.index).map(lambda b: "" if b == "tensorflow" else f" {b}"),
    )
    order = list(dict.fromkeys(frame["case"]))
    pivot = frame.pivot_table(index="case", columns="column", values="median_s", aggfunc="first")
    return pivot.reindex(order)


def format_overview(table: pd.DataFrame) -> str:
    pivot = overview(table)
    if pivot.empty:
        return "(no finished benchmarks)"
    return pivot.map(human_time).to_string()
