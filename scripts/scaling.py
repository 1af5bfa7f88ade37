"""Beyond one device, as tables: throughput and scaling efficiency across replicas, and all-reduce
bandwidth. Scaling efficiency = throughput(N) / (N x throughput(1)), N the replicas in sync, against the
one-replica row of the same line: the same run, device, mode, workload and parameters but for those the
workload names in its role `scaling` (the strategy, replicas, workers). A line's first one-replica row in
the run is its baseline (the catalogue puts OneDeviceStrategy first, before MirroredStrategy over one
device). The all-reduce rows are those with a bus bandwidth (results.py: GB/s times their `bus_factor`,
as NCCL's tests report it)."""

from __future__ import annotations

import pandas as pd

from .summary import case_label


def scaling_params(row: pd.Series) -> list[str]:
    """The parameters that change along the row's line of replicas (its role `scaling`)."""
    return row["role_scaling"].split(",") if isinstance(row.get("role_scaling"), str) else []


def line_of(row: pd.Series) -> str:
    """The row's line: its parameters but for those of its role `scaling`, as 'key=value' text."""
    varied = scaling_params(row)
    return " ".join(f"{k}={v}" for k, v in row["params_dict"].items() if k not in varied and k != "dtype")


def variant_of(row: pd.Series) -> str:
    """What tells the row's series apart within its line: the first parameter of its role `scaling`."""
    varied = scaling_params(row)
    return str(row["params_dict"].get(varied[0])) if varied else ""


def efficiency(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of workloads with a role `scaling`, with their line, speedup and scaling efficiency."""
    if "role_scaling" not in table or "replicas_in_sync" not in table:
        return table.iloc[0:0]
    rows = table[table["role_scaling"].notna() & table["replicas_in_sync"].notna() & table["throughput"].notna()]
    if rows.empty:
        return rows
    rows = rows.assign(line=rows.apply(line_of, axis=1), variant=rows.apply(variant_of, axis=1))
    key = ["run_id", "device", "mode", "workload", "line"]
    baseline = rows[rows["replicas_in_sync"] == 1].drop_duplicates(key).set_index(key)["throughput"]
    base = baseline.reindex(pd.MultiIndex.from_frame(rows[key])).to_numpy()
    return rows.assign(speedup=rows["throughput"].to_numpy() / base,
                       efficiency=rows["throughput"].to_numpy() / (rows["replicas_in_sync"].to_numpy() * base))


def efficiency_table(table: pd.DataFrame) -> pd.DataFrame:
    """What a person reads: per benchmark, samples/s, speedup and scaling efficiency."""
    rows = efficiency(table)
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "device": rows["device"], "benchmark": rows.apply(case_label, axis=1),
        "replicas in sync": rows["replicas_in_sync"].map(lambda v: f"{v:.0f}"),
        "samples/s": rows["throughput"].map(lambda v: f"{v:,.0f}"),
        "speedup vs 1 replica": rows["speedup"].map(lambda v: f"{v:.2f}x" if pd.notna(v) else "-"),
        "scaling efficiency": rows["efficiency"].map(lambda v: f"{v:.0%}" if pd.notna(v) else "(no 1-replica run)"),
    })


def all_reduce(table: pd.DataFrame) -> pd.DataFrame:
    """Rows with a bus bandwidth (all-reduce: the algorithm bandwidth times their bus_factor)."""
    if "bus_gbps" not in table:
        return table.iloc[0:0]
    return table[table["bus_gbps"].notna()]


def all_reduce_table(table: pd.DataFrame) -> pd.DataFrame:
    rows = all_reduce(table)
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "device": rows["device"], "benchmark": rows.apply(case_label, axis=1),
        "replicas in sync": rows["replicas_in_sync"].map(lambda v: f"{v:.0f}"),
        "bytes per replica": rows["bytes"].map(_size),
        "GB/s (algorithm)": rows["gbps"].map(lambda v: f"{v:.3g}"),
        "GB/s (bus)": rows["bus_gbps"].map(lambda v: f"{v:.3g}"),
    })


def _size(value: float) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} B"
