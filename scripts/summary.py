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
    """The benchmark's id without its device and mode: 'matmul-n1024-float32', as the harness wrote it
    (extra_info.label). Files written before it did have it cut from the id; plain pytest-benchmark files,
    without tensorbench's fields, fall back to the test's name."""
    if isinstance(row.get("label"), str):
        return row["label"]
    label = str(row.get("param") or row.get("name"))
    if row.get("backend") not in (None, "tensorflow"):
        label = label.removesuffix(f"-{row.get('backend')}")
    return label.removesuffix(f"-{row.get('device')}-{row.get('mode')}")


def _column(device: pd.Series, mode: pd.Series, backend: pd.Series) -> pd.Series:
    """'cpu graph', and the Keras backend when it is not TensorFlow: 'cpu graph jax'."""
    return (device.fillna("?") + " " + mode.fillna("?")
            + backend.fillna("tensorflow").map(lambda b: "" if b == "tensorflow" else f" {b}"))


def overview(table: pd.DataFrame, failed: list[dict] | None = None) -> pd.DataFrame:
    """Median seconds pivoted: rows are workload and parameters, columns are device and mode (and the
    Keras backend, when it is not TensorFlow). A benchmark that failed shows as FAILED; an implausible
    figure (scripts/ceilings.py) ends in " !"."""
    frame = pd.DataFrame(columns=["case", "column", "cell"])
    if not table.empty:
        backend = table["backend"] if "backend" in table else pd.Series(None, index=table.index, dtype=object)
        implausible = table["implausible"].fillna("") != "" if "implausible" in table else False
        frame = table.assign(case=table.apply(case_label, axis=1),
                             column=_column(table["device"], table["mode"], backend.astype(object)),
                             cell=table["median_s"].map(human_time) + pd.Series(implausible, index=table.index)
                             .map(lambda flagged: " !" if flagged else ""))
    if failed:
        failures = pd.DataFrame(failed).reindex(columns=["case", "device", "mode", "backend"])
        failures = failures.assign(param=failures["case"]).drop(columns="case")
        frame = pd.concat([frame, failures.assign(
            case=failures.apply(case_label, axis=1),
            column=_column(failures["device"], failures["mode"], failures["backend"]),
            cell="FAILED")[["case", "column", "cell"]]], ignore_index=True)
    if frame.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(frame["case"]))
    pivot = frame.pivot_table(index="case", columns="column", values="cell", aggfunc="first")
    return pivot.reindex(order).fillna("-")


def format_overview(table: pd.DataFrame, failed: list[dict] | None = None) -> str:
    pivot = overview(table, failed)
    if pivot.empty:
        return "(no finished benchmarks)"
    return pivot.to_string()
