"""Beyond one device, as tables: throughput and scaling efficiency across replicas, and all-reduce
bandwidth by message size. Scaling efficiency = throughput(N) / (N x throughput(1)), N the replicas in
sync, against the one-replica run of the same workload, model, per-replica batch, loop and device
(OneDeviceStrategy where there is one, else MirroredStrategy over one device)."""

from __future__ import annotations

import pandas as pd

TRAINING_KEY = ["run_id", "device", "mode", "workload", "param_model", "param_per_replica_batch", "param_samples",
                "param_loop"]
BASELINE_ORDER = {"one_device": 0, "mirrored": 1}


def _distributed(table: pd.DataFrame, workload: str) -> pd.DataFrame:
    if "replicas_in_sync" not in table or "param_strategy" not in table:
        return table.iloc[0:0]
    return table[(table["workload"] == workload) & table["replicas_in_sync"].notna()]


def efficiency(table: pd.DataFrame) -> pd.DataFrame:
    """Training rows under a strategy, with speedup and scaling efficiency against one replica."""
    rows = _distributed(table, "distributed_train")
    rows = rows[rows["throughput"].notna()]
    if rows.empty:
        return rows
    single = rows[rows["replicas_in_sync"] == 1].assign(
        order=lambda f: f["param_strategy"].map(BASELINE_ORDER).fillna(9)).sort_values("order")
    baseline = single.drop_duplicates(TRAINING_KEY).set_index(TRAINING_KEY)["throughput"]
    base = baseline.reindex(pd.MultiIndex.from_frame(rows[TRAINING_KEY])).to_numpy()
    return rows.assign(speedup=rows["throughput"].to_numpy() / base,
                       efficiency=rows["throughput"].to_numpy() / (rows["replicas_in_sync"].to_numpy() * base))


def efficiency_table(table: pd.DataFrame) -> pd.DataFrame:
    """What a person reads: per benchmark and strategy, samples/s, speedup and scaling efficiency."""
    rows = efficiency(table)
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "device": rows["device"], "model": rows["param_model"], "loop": rows["param_loop"],
        "per-replica batch": rows["param_per_replica_batch"].map(lambda v: f"{v:.0f}"),
        "strategy": rows["param_strategy"], "workers": rows["param_workers"].map(lambda v: f"{v:.0f}"),
        "replicas": rows["replicas_in_sync"].map(lambda v: f"{v:.0f}"),
        "samples/s": rows["throughput"].map(lambda v: f"{v:,.0f}"),
        "speedup vs 1 replica": rows["speedup"].map(lambda v: f"{v:.2f}x" if pd.notna(v) else "-"),
        "scaling efficiency": rows["efficiency"].map(lambda v: f"{v:.0%}" if pd.notna(v) else "(no 1-replica run)"),
    })


def all_reduce(table: pd.DataFrame) -> pd.DataFrame:
    """All-reduce rows with algorithm and bus bandwidth (GB/s)."""
    rows = _distributed(table, "all_reduce")
    rows = rows[rows["gbps"].notna()]
    return rows.assign(bus_gbps=rows["gbps"] * rows["bus_factor"].astype(float))


def all_reduce_table(table: pd.DataFrame) -> pd.DataFrame:
    rows = all_reduce(table)
    if rows.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "device": rows["device"], "strategy": rows["param_strategy"],
        "workers": rows["param_workers"].map(lambda v: f"{v:.0f}"),
        "replicas": rows["replicas_in_sync"].map(lambda v: f"{v:.0f}"),
        "bytes per replica": rows["param_size_bytes"].map(_size),
        "GB/s (algorithm)": rows["gbps"].map(lambda v: f"{v:.3g}"),
        "GB/s (bus)": rows["bus_gbps"].map(lambda v: f"{v:.3g}"),
    })


def _size(value: float) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} B"
