"""The charts of a report, each answering one question at a glance. Each function takes the tidy
table (results.load, with ceilings.with_ceilings) and returns a matplotlib Figure, or None when the
runs hold nothing it can show. Every chart has a title, axes with units, a legend, and log scales
where sizes span decades."""

from __future__ import annotations

import json
from functools import partial

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # files only; no screen needed
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from . import backend_comparison, scaling

CASE_KEYS = ["run_id", "backend", "workload", "params", "dtype"]


def _geomean(values) -> float:
    values = np.asarray([v for v in values if v and np.isfinite(v) and v > 0], dtype=float)
    return float(np.exp(np.log(values).mean())) if len(values) else float("nan")


def _barh(ratios: pd.DataFrame, group: str, title: str, xlabel: str) -> Figure:
    """Horizontal bars of ratios per workload (rows) and `group` (bars), log x, with a line at 1x."""
    pivot = ratios.pivot_table(index="workload", columns=group, values="ratio", aggfunc=_geomean)
    fig, ax = plt.subplots(figsize=(8, max(3.2, 0.45 * len(pivot) * max(1, len(pivot.columns)) + 1.8)))
    pivot.plot.barh(ax=ax, logx=True, width=0.8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set(title=title, xlabel=xlabel, ylabel="workload")
    ax.legend(title=group, fontsize="small")
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def speedup_over_cpu(table: pd.DataFrame) -> Figure | None:
    """How many times faster each device is than TensorFlow on the CPU, same case and mode."""
    cpu = table[table["device_kind"] == "CPU"][[*CASE_KEYS, "mode", "median_s"]]
    others = table[table["device_kind"].notna() & (table["device_kind"] != "CPU")]
    if cpu.empty or others.empty:
        return None
    pairs = others.merge(cpu, on=[*CASE_KEYS, "mode"], suffixes=("", "_cpu"))
    if pairs.empty:
        return None
    pairs = pairs.assign(ratio=pairs["median_s_cpu"] / pairs["median_s"],
                         against=pairs["device"] + " (" + pairs["device_name"].fillna("") + ")")
    return _barh(pairs, "against", "Speedup over the CPU\n(same workload, size and mode; geometric mean over sizes)",
                 "times faster than TensorFlow on the CPU (log scale; > 1 is faster)")


def mode_speedup(table: pd.DataFrame) -> Figure | None:
    """What graph mode (tf.function) and XLA buy over eager execution, per workload and device."""
    eager = table[table["mode"] == "eager"][[*CASE_KEYS, "device", "median_s"]]
    compiled = table[table["mode"].isin(["graph", "xla"])]
    pairs = compiled.merge(eager, on=[*CASE_KEYS, "device"], suffixes=("", "_eager"))
    if pairs.empty:
        return None
    pairs = pairs.assign(ratio=pairs["median_s_eager"] / pairs["median_s"],
                         against=pairs["mode"] + " on " + pairs["device"])
    return _barh(pairs, "against", "Speedup of graph mode and XLA over eager\n(same workload, size and device; geometric mean over sizes)",
                 "times faster than eager (log scale; > 1 is faster)")


# The figure a workload's role `measure` names: the file name of its chart and the label of its axis.
MEASURES = {
    "throughput": ("throughput_vs_batch", "samples per second"),
    "gflops": ("gflops_vs_size", "GFLOP/s"),
    "gbps": ("gbps_vs_size", "GB/s"),
    "bus_gbps": ("all_reduce_bandwidth", "bus bandwidth, GB/s"),
}


def _swept(table: pd.DataFrame, measure: str) -> pd.DataFrame:
    """The rows whose workload charts `measure` against a parameter (roles sweep and measure), with that
    parameter's value as x."""
    if "role_measure" not in table or measure not in table:
        return table.iloc[0:0]
    rows = table[(table["role_measure"] == measure) & table[measure].notna() & table["role_sweep"].notna()]
    x = pd.to_numeric(pd.Series([p.get(s) for p, s in zip(rows["params_dict"], rows["role_sweep"])],
                                index=rows.index), errors="coerce")
    return rows.assign(x=x)[x.notna()]


def _other_params(rows: pd.DataFrame, shown_apart: set[str]) -> pd.Series:
    """Per row, 'key=value' for the parameters that vary among these rows, but dtype and those shown
    apart (on an axis, or as the series)."""
    keys = sorted({k for p in rows["params_dict"] for k in p} - shown_apart - {"dtype"})
    varying = [k for k in keys if len({json.dumps(p.get(k)) for p in rows["params_dict"]}) > 1]
    return rows["params_dict"].map(lambda p: " ".join(f"{k}={p.get(k)}" for k in varying))


def _draw_ceilings(ax, rows: pd.DataFrame) -> None:
    """Dashed lines at the measured compute ceilings, dotted at the datasheet peaks, of these rows."""
    for k, ((device, precision), g) in enumerate(rows.groupby(["device", "precision"], sort=False)):
        if g["ceiling_gflops"].notna().any():
            best = g["ceiling_gflops"].max()
            label = f"ceiling, measured (best round): {device} {precision} {best:,.0f} GFLOP/s"
            ax.axhline(best, linestyle=CEILING_STYLES[k % len(CEILING_STYLES)], linewidth=0.9, color="dimgrey",
                       label=label)
            ax.annotate(f"{device} {precision} ceiling", (1 - 0.3 * (k % 3), best), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize="x-small", color="dimgrey")
        if g["datasheet"].notna().any():
            row = g[g["datasheet"].notna()].iloc[0]
            ax.axhline(row["datasheet_gflops"], linestyle=":", color="red", linewidth=1,
                       label=f"ceiling, {row['datasheet']}: {row['datasheet_gflops']:,.0f} GFLOP/s")


CEILING_STYLES = ["--", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 3))]
"""One dash pattern per measured ceiling in a panel, each also named at its right end."""
FLAGGED = "not to be trusted (spread, too few rounds, or implausible)"


def flagged(rows: pd.DataFrame) -> pd.Series:
    """Rows carrying a trust flag or an implausible figure: drawn hollow and red on the charts."""
    marks = rows["trust"].fillna("") != "" if "trust" in rows else pd.Series(False, index=rows.index)
    if "implausible" in rows:
        marks |= rows["implausible"].fillna("") != ""
    return marks


def against_sweep(table: pd.DataFrame, measure: str) -> Figure | None:
    """`measure` against each workload's swept parameter: one panel per workload that swept more than
    one value, one line per its other parameters, device, mode and dtype; GFLOP/s with the ceilings."""
    swept = _swept(table, measure)
    workloads = [w for w, g in swept.groupby("workload", sort=False) if g["x"].nunique() > 1]
    if not workloads:
        return None
    ylabel = MEASURES[measure][1]
    fig, axes = plt.subplots(len(workloads), 1, figsize=(8, 4.2 * len(workloads)), squeeze=False)
    for ax, workload in zip(axes[:, 0], workloads):
        rows = swept[swept["workload"] == workload]
        sweep = rows["role_sweep"].iloc[0]
        rows = rows.assign(line=_other_params(rows, {sweep}))
        shown_flag = False
        for (line, device, mode, dtype), g in rows.groupby(["line", "device", "mode", "dtype"], sort=False):
            best = g.groupby("x")[measure].max()
            if len(best) > 1:
                ax.plot(best.index, best.values, marker="o", label=" ".join(filter(None, [line, device, mode, dtype])))
                doubtful = g[flagged(g)]
                if not doubtful.empty:
                    ax.scatter(doubtful["x"], doubtful[measure], s=70, facecolors="none", edgecolors="red",
                               linewidths=1.2, zorder=3, label=None if shown_flag else FLAGGED)
                    shown_flag = True
        if measure == "gflops":
            _draw_ceilings(ax, rows)
        ax.set(yscale="log", title=f"{workload}: {ylabel} against {sweep}",
               xlabel=f"{sweep} (log scale)", ylabel=f"{ylabel} (log scale)")
        ax.set_xscale("log", base=2)
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    return fig


def roofline(table: pd.DataFrame) -> Figure | None:
    """Every benchmark with flops and bytes at its arithmetic intensity against the device's measured
    roofs (ceilings.roof): one panel per device, a roof per precision, a colour per workload. Hollow
    points fit in the largest cache, where the bandwidth roof does not bound them."""
    if "intensity" not in table:
        return None
    rows = table[table["intensity"].notna() & table["gflops"].notna() & table["roof_gflops"].notna()]
    if rows.empty:
        return None
    devices = list(dict.fromkeys(rows["device"]))
    fig, axes = plt.subplots(len(devices), 1, figsize=(8, 5 * len(devices)), squeeze=False)
    colours = {w: f"C{i % 10}" for i, w in enumerate(dict.fromkeys(rows["workload"]))}
    for ax, device in zip(axes[:, 0], devices):
        points = rows[rows["device"] == device]
        x = np.geomspace(points["intensity"].min() / 2, points["intensity"].max() * 2, 200)
        bandwidth = points["ceiling_gbps"].max()
        for precision, g in points.groupby("precision", sort=False):
            top = g["ceiling_gflops"].max()
            if pd.notna(top):
                ax.plot(x, np.fmin(top, bandwidth * x) if pd.notna(bandwidth) else np.full_like(x, top), "--",
                        linewidth=1, label=f"roof, {precision}: {top:,.0f} GFLOP/s, {bandwidth:,.1f} GB/s (measured)")
        for workload, g in points.groupby("workload", sort=False):
            beyond = g["bytes"].astype(float) > g["ceiling_cache_bytes"].astype(float)
            ax.scatter(g.loc[beyond, "intensity"], g.loc[beyond, "gflops"], s=18, color=colours[workload],
                       label=workload if beyond.any() else None)
            ax.scatter(g.loc[~beyond, "intensity"], g.loc[~beyond, "gflops"], s=18, facecolors="none",
                       edgecolors=colours[workload], label=f"{workload} (in cache)" if (~beyond).any() else None)
        ax.set(xscale="log", yscale="log", title=f"Roofline on {device}: each benchmark against the measured ceilings",
               xlabel="arithmetic intensity, FLOP per byte moved (log scale)", ylabel="GFLOP/s (log scale)")
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    return fig


def first_call_vs_steady(table: pd.DataFrame) -> Figure | None:
    """The first call (tracing, XLA or Keras compilation) against the warm call, per benchmark; not the
    cases whose first call ran on a trace an earlier case made (extra_info's traced_in_first_call)."""
    traced = table["traced_in_first_call"].ne(False) if "traced_in_first_call" in table else True
    rows = table[table["first_call_s"].notna() & table["median_s"].notna() & traced]
    if rows.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for mode, g in rows.groupby(rows["mode"].fillna("?"), sort=False):
        ax.scatter(g["median_s"], g["first_call_s"], s=14, alpha=0.7, label=f"{mode} ({len(g)} benchmarks)")
    low = min(rows["median_s"].min(), rows["first_call_s"].min())
    high = max(rows["median_s"].max(), rows["first_call_s"].max())
    for factor, style in ((1, "-"), (10, "--"), (100, ":")):
        ax.plot([low, high], [low * factor, high * factor], style, color="grey", linewidth=0.8,
                label=f"first call = {factor}x the warm call")
    ax.set(xscale="log", yscale="log", title="First call (tracing, compilation) against the steady state",
           xlabel="warm call, median (s, log scale)", ylabel="first call (s, log scale)")
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def speed_vs_error(table: pd.DataFrame) -> Figure | None:
    """What each precision buys in speed and costs in error: GFLOP/s against the relative error from
    the float64 reference, one panel per device, at each workload's largest size."""
    rows = table[table["rel_error"].notna() & table["gflops"].notna()] if "rel_error" in table else table.iloc[0:0]
    if rows.empty or rows["dtype"].nunique() < 2:
        return None
    rows = rows.loc[rows.groupby(["device", "workload", "mode", "dtype"])["flops"].idxmax()]
    devices = [d for d, g in rows.groupby("device", sort=False) if g["dtype"].nunique() > 1]
    if not devices:
        return None
    fig, axes = plt.subplots(len(devices), 1, figsize=(8, 4.5 * len(devices)), squeeze=False)
    for ax, device in zip(axes[:, 0], devices):
        for (workload, mode), g in rows[rows["device"] == device].groupby(["workload", "mode"], sort=False):
            g = g.sort_values("rel_error")
            ax.plot(g["rel_error"].clip(lower=1e-17), g["gflops"], marker="o", label=f"{workload} {mode}")
            for _, r in g.iterrows():
                ax.annotate(r["dtype"], (max(r["rel_error"], 1e-17), r["gflops"]), fontsize="x-small",
                            xytext=(3, 3), textcoords="offset points")
        ax.set(xscale="log", yscale="log", title=f"Speed against error on {device}, largest size of each workload",
               xlabel="relative error against float64 (log scale; left is more accurate)",
               ylabel="GFLOP/s (log scale)")
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def backend_speed(table: pd.DataFrame) -> Figure | None:
    """Each Keras backend's speed against TensorFlow's, per workload (same case, device and mode)."""
    rows = backend_comparison.compared(table)
    rows = rows[rows["backend"] != "tensorflow"] if not rows.empty else rows
    if rows.empty:
        return None
    rows = rows.assign(ratio=rows["speed_vs_tensorflow"],
                       against=rows["backend"] + " on " + rows["device"] + " (" + rows["mode"] + ")")
    return _barh(rows, "against", "Keras backends against TensorFlow\n(same workload, size, device and mode; "
                 "geometric mean over sizes)", "times faster than Keras on TensorFlow (log scale; > 1 is faster)")


def scaling_efficiency(table: pd.DataFrame) -> Figure | None:
    """Throughput across replicas against perfect scaling: efficiency = throughput(N) / (N x throughput(1))."""
    rows = scaling.efficiency(table)
    rows = rows[rows["efficiency"].notna()] if not rows.empty else rows
    if rows.empty or rows["replicas_in_sync"].nunique() < 2:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    rows = rows.assign(shown=pd.concat([_other_params(g, set(scaling.scaling_params(g.iloc[0])))
                                        for _, g in rows.groupby("workload", sort=False)]))
    for (workload, line, device, variant), g in rows.groupby(["workload", "line", "device", "variant"], sort=False):
        g = g.sort_values("replicas_in_sync")
        ax.plot(g["replicas_in_sync"], g["efficiency"], marker="o",
                label=f"{workload} {g['shown'].iloc[0]}, {device} ({variant})")
    ax.axhline(1.0, color="black", linewidth=0.8, label="perfect scaling")
    ax.set(title="Scaling efficiency: throughput(N) / (N x throughput on 1 replica)",
           xlabel="replicas in sync", ylabel="scaling efficiency (1 = perfect)", ylim=(0, max(1.1, rows["efficiency"].max() * 1.1)))
    ax.set_xticks(sorted(rows["replicas_in_sync"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


CHARTS = {
    "speedup_over_cpu": speedup_over_cpu,
    "mode_speedup": mode_speedup,
    **{name: partial(against_sweep, measure=measure) for measure, (name, _) in MEASURES.items()},
    "roofline": roofline,
    "first_call_vs_steady": first_call_vs_steady,
    "speed_vs_error": speed_vs_error,
    "backend_speed": backend_speed,
    "scaling_efficiency": scaling_efficiency,
}
