"""Keras backends side by side: the same workload, size, device and mode under TensorFlow, JAX and
PyTorch, with each backend's speed against TensorFlow's (a ratio of medians; > 1 is faster), its first call
(tracing or compiling) and its check's largest relative error. Each backend's compiled mode (TensorFlow's
graph, JAX's xla, PyTorch's eager: extra_info.compiled_mode) is set beside the others' as "compiled"."""

from __future__ import annotations

import pandas as pd

from .summary import case_label, human_time

KEY = ["run_id", "benchmark", "device", "mode"]


def compared(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the cases measured under more than one backend, with speed_vs_tensorflow."""
    if table.empty or table["backend"].nunique() < 2:
        return table.iloc[0:0]
    compiled = table["compiled_mode"] if "compiled_mode" in table else pd.Series(False, index=table.index)
    rows = table[table["backend"].notna()].assign(
        benchmark=lambda f: f.apply(case_label, axis=1),
        mode=table["mode"].where(~compiled.fillna(False).astype(bool), "compiled"))
    shared = rows.groupby(KEY)["backend"].transform("nunique") > 1
    rows = rows[shared]
    tf_median = rows[rows["backend"] == "tensorflow"].set_index(KEY)["median_s"]
    base = tf_median.reindex(pd.MultiIndex.from_frame(rows[KEY])).to_numpy()
    return rows.assign(speed_vs_tensorflow=base / rows["median_s"].to_numpy())


def comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per case, device and mode; a median column per backend and each one's speed against TensorFlow."""
    rows = compared(table)
    if rows.empty:
        return pd.DataFrame()
    medians = rows.pivot_table(index=["benchmark", "device", "mode"], columns="backend", values="median_s",
                               aggfunc="first")
    speeds = rows.pivot_table(index=["benchmark", "device", "mode"], columns="backend", values="speed_vs_tensorflow",
                              aggfunc="first")
    shown = medians.map(human_time).add_prefix("median, ")
    for backend in speeds.columns.drop("tensorflow", errors="ignore"):
        shown[f"{backend} vs tensorflow"] = speeds[backend].map(lambda v: f"{v:.2f}x" if pd.notna(v) else "-")
    for column, title, shown_as in (("first_call_s", "first call", human_time),
                                    ("check_error", "check's error", lambda v: f"{v:.1e}" if pd.notna(v) else "-"),
                                    ("peak_memory_bytes", "peak memory", lambda v: f"{v / 2**20:,.0f} MiB")):
        if column in rows and rows[column].notna().any():
            values = rows.pivot_table(index=["benchmark", "device", "mode"], columns="backend", values=column,
                                      aggfunc="first")
            for backend in values.columns:
                shown[f"{title}, {backend}"] = values[backend].map(lambda v, f=shown_as: f(v) if pd.notna(v) else "-")
    return shown.reset_index()
