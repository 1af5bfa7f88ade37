"""What a device can do, and whether a figure is physically possible.

Two kinds of ceiling, each labelled as what it is:
- measured, in the same run: the compute ceiling (GFLOP/s) per device and precision, and the memory
  bandwidth (GB/s) per device, from the rows whose workload declares the role `ceiling` ("compute":
  peak_matmul and matmul; "bandwidth": stream; workloads/ceilings.py). A ceiling is the best round of
  those rows (flops or bytes over their fastest call): other work on a machine only slows a call, so
  the best round is the best the device was seen to do (BenchmarkTools.jl's argument for the minimum),
  and a row's spread does not lower it. Rows with too few rounds or calls under a microsecond are left
  out: their timer cannot be trusted.
- the vendor's dense datasheet peak, for known accelerators.

Each row with flops and bytes also sits under a roofline (roof(), `pct_of_roofline`, at the median); a
point above the roof by SLACK is above one of its two ceilings by SLACK, and implausible when its slower
quartile is too.

A row is `implausible` when three rounds in four beat a ceiling, that is when its figure at its slower
quartile (flops or bytes over the 75th-percentile time) is above it: GFLOP/s above SLACK times the
measured compute ceiling of its device and precision, above the datasheet peak, or on a CPU above
TURBO_MARGIN times the peak derived from its cores, clock and vectors (a bound the run's own rows cannot
lift, as they lift the measured ceiling: a ceiling row over it is itself implausible); GB/s above SLACK
times the measured bandwidth when it moves more bytes than the device's largest cache holds (below that,
caches are faster than memory). SLACK is the noise two medians of one run may differ by. The slower
quartile, not the median, because the measured ceiling is taken once, early in the run, and a VM can
later run faster: on 2026-12-01 a 2-core Xeon VM's bfloat16 conv2d rounds fell into two groups, eleven
near 700 GFLOP/s and thirteen near 1,750, against a bfloat16 ceiling of 911 timed earlier in the run.
Work that is not done (a fill folded to a constant, a timer that misses the device) is fast in every round,
and is caught all the same.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .summary import case_label

SLACK = 1.25
DATASHEET_SLACK = 1.05
TURBO_MARGIN = 2.0
"""A CPU row may beat the peak derived from the advertised clock (turbo), but not by this many times: the
highest single-core turbo of current x86 parts is under twice their base clock (Intel's i9-13900K: 3.0 GHz
base, 5.8 GHz turbo on its performance cores), and a matmul over all cores runs below its single-core
turbo. So a figure over it is implausible even where it is itself the measured ceiling, which a timing bug
that sped up every matmul would have lifted with it; such a row is no ceiling for the others either."""
UNTIMEABLE = ("rounds", "under 1 us")
"""Trust flags (results.trust_flags) that exclude a row from the ceilings."""

# Dense (no sparsity) peak TFLOP/s from the vendors' datasheets, per TensorFlow device (a GPU; one
# TensorCore of a TPU v2 or v3 chip, which has two; a whole v5e chip, which has one). "tf32" is float32
# matmul on tensor cores when TF32 is on. Matched against the device name, first pattern first.
DATASHEET_TFLOPS: list[tuple[str, str, dict[str, float]]] = [
    # nvidia.com/en-us/data-center/h200/ and /h100/: the datasheets' tensor figures are with sparsity, halved here
    (r"H200", "NVIDIA H200 SXM", {"float32": 67.0, "tf32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    (r"H100.*PCIe", "NVIDIA H100 PCIe", {"float32": 51.0, "tf32": 378.0, "bfloat16": 756.0, "float16": 756.0}),
    (r"H100", "NVIDIA H100 SXM", {"float32": 67.0, "tf32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    # nvidia.com/en-us/data-center/a100/: dense figures as listed
    (r"A100", "NVIDIA A100", {"float32": 19.5, "tf32": 156.0, "bfloat16": 312.0, "float16": 312.0}),
    # nvidia.com/en-us/data-center/v100/
    (r"V100.*PCIE", "NVIDIA V100 PCIe", {"float32": 14.0, "float16": 112.0}),
    (r"V100", "NVIDIA V100 SXM2", {"float32": 15.7, "float16": 125.0}),
    # nvidia.com/en-us/data-center/l4/: tensor figures with sparsity, halved here
    (r"\bL4\b", "NVIDIA L4", {"float32": 30.3, "tf32": 60.0, "bfloat16": 121.0, "float16": 121.0}),
    # nvidia.com/en-us/data-center/tesla-t4/: float16 is mixed precision on tensor cores
    (r"\bT4\b", "NVIDIA T4", {"float32": 8.1, "float16": 65.0}),
    # cloud.google.com/tpu/docs/v2 and /v3: 45 and 123 TFLOP/s bfloat16 per chip, two TensorCores each
    (r"TPU.*v2", "TPU v2 (per TensorCore)", {"bfloat16": 22.5}),
    (r"TPU.*v3", "TPU v3 (per TensorCore)", {"bfloat16": 61.5}),
    # cloud.google.com/tpu/docs/v5e: 197 TFLOP/s bfloat16 per chip, one TensorCore
    (r"TPU.*v5(e|lite)", "TPU v5e (per chip)", {"bfloat16": 197.0}),
]


# What a healthy card reaches, beside what its datasheet promises: mamf-finder's Maximum Achievable Matmul
# FLOPS (the mean of 100 calls at the best shape its search found, PyTorch 2.6-2.7, bfloat16 inputs),
# from github.com/stas00/ml-engineering, compute/accelerator/README.md, "Maximum Achievable Matmul FLOPS
# comparison table" (as read on 2026-11-29). A pattern with no figures stops the search (an H100 PCIe
# must not match the SXM's row).
ACHIEVABLE_TFLOPS: list[tuple[str, str, dict[str, float]]] = [
    (r"GH200", "NVIDIA GH200 SXM", {"bfloat16": 828.6}),
    (r"H200", "NVIDIA H200 SXM", {"bfloat16": 794.5}),  # the table: "H200 is the same" as the H100 SXM
    (r"H100.*PCIe", "NVIDIA H100 PCIe", {}),
    (r"H100", "NVIDIA H100 SXM", {"bfloat16": 794.5}),
    (r"A100.*PCIe", "NVIDIA A100 PCIe", {"bfloat16": 252.9}),
    (r"A100", "NVIDIA A100 SXM", {"bfloat16": 271.2}),
    (r"B200", "NVIDIA B200 SXM", {"bfloat16": 1745.0}),
]


def _known(table: list[tuple[str, str, dict[str, float]]], what: str, device_name, precision) -> tuple[str, float] | None:
    if not isinstance(device_name, str) or not isinstance(precision, str):
        return None
    for pattern, label, peaks in table:
        if re.search(pattern, device_name, flags=re.IGNORECASE):
            return (f"{label} {what} {precision}", peaks[precision] * 1e3) if precision in peaks else None
    return None


def datasheet_peak(device_name: str | None, precision: str | None) -> tuple[str, float] | None:
    """(label, GFLOP/s) of the datasheet peak for this device and precision, or None when unknown."""
    return _known(DATASHEET_TFLOPS, "datasheet", device_name, precision)


def achievable_peak(device_name: str | None, precision: str | None) -> tuple[str, float] | None:
    """(label, GFLOP/s) of what a healthy device of this kind reaches (mamf-finder), or None when unknown."""
    return _known(ACHIEVABLE_TFLOPS, "reaches (mamf-finder)", device_name, precision)


FMA_UNITS = 2
"""FMA pipes per core assumed by derived_cpu_peak: two on every x86 core since Haswell and Zen 2 (some
AVX-512 Xeons have one for 512-bit vectors, whose derived peak is then twice too high)."""


AMX_BF16_FLOP_PER_CYCLE = 1024
"""Per core, bfloat16, on the AMX tile unit: "1024 BF16 operations per cycle" for 4th Gen Xeon (Intel's
AMX overview, as the Advanced Matrix Extensions article on Wikipedia cites it); Fixstars' 3,482 GFLOP/s
per core at 3.4 GHz (blog.us.fixstars.com, "Intel AMX Explained", 2025) is the same 1024 FLOP a cycle."""


def derived_cpu_peak(cpu: dict, cores: int | None) -> dict[str, float]:
    """GFLOP/s per precision a CPU's cores can issue, from what py-cpuinfo read (pytest-benchmark's
    machine_info.cpu: its flags and advertised clock): cores x clock x vector lanes x 2 (a fused multiply-
    add) x FMA_UNITS; bfloat16 from the AMX tile unit or AVX-512 BF16 where the flags name one. Labelled
    derived, and no bound on a row: turbo, AVX frequency offsets and the FMA units are not read."""
    flags = set(cpu.get("flags") or [])
    hz = (cpu.get("hz_advertised") or [0])[0]
    if not cores or not hz or "fma" not in flags:
        return {}
    bits = 512 if "avx512f" in flags else 256 if "avx2" in flags else 0
    if not bits:
        return {}
    per_lane = cores * hz * 2 * FMA_UNITS / 1e9
    peaks = {"float32": per_lane * bits / 32, "float64": per_lane * bits / 64}
    if "amx_bf16" in flags:
        peaks["bfloat16"] = cores * hz * AMX_BF16_FLOP_PER_CYCLE / 1e9
    elif "avx512_bf16" in flags:
        peaks["bfloat16"] = 2 * peaks["float32"]  # vdpbf16ps: two bfloat16 products per float32 lane
    return peaks


def _physical_device(table: pd.DataFrame) -> pd.Series:
    return table["device"].fillna("?")


def _timeable(table: pd.DataFrame) -> pd.Series:
    return ~table["trust"].fillna("").str.contains("|".join(UNTIMEABLE))


def measured_ceilings(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(compute, bandwidth): the best round of the ceiling rows, per run, device and precision (GFLOP/s)
    and per run and device (GB/s, with the cache size the bandwidth test ran beyond)."""
    best = table["min_s"].where(table["min_s"] > 0)
    derived = table["derived_peak_gflops"].astype(float) if "derived_peak_gflops" in table else np.nan
    over_derived = table["flops"].astype(float) / best / 1e9 > TURBO_MARGIN * derived  # NaN compares False
    compute_rows = table[(table["role_ceiling"] == "compute") & table["flops"].notna() & best.notna()
                         & _timeable(table) & ~over_derived]
    compute = (compute_rows.assign(ceiling_gflops=compute_rows["flops"] / best[compute_rows.index] / 1e9,
                                   device_key=_physical_device(compute_rows))
               .groupby(["run_id", "device_key", "precision"])["ceiling_gflops"].max().reset_index())
    beyond_cache = ~(table["bytes"].astype(float) <= table["cache_bytes"].astype(float))  # unknown: beyond
    bandwidth_rows = table[(table["role_ceiling"] == "bandwidth") & table["bytes"].notna() & best.notna()
                           & _timeable(table) & beyond_cache]
    bandwidth = (bandwidth_rows.assign(ceiling_gbps=bandwidth_rows["bytes"] / best[bandwidth_rows.index] / 1e9,
                                       device_key=_physical_device(bandwidth_rows))
                 .groupby(["run_id", "device_key"])
                 .agg(ceiling_gbps=("ceiling_gbps", "max"), ceiling_cache_bytes=("cache_bytes", "max")).reset_index())
    return compute, bandwidth


def with_ceilings(table: pd.DataFrame) -> pd.DataFrame:
    """The table with each row's ceilings (ceiling_gflops, ceiling_gbps, datasheet), its share of them
    (pct_of_measured, pct_of_datasheet), and `implausible`: why its figure cannot be, or "". An
    implausible row's trust flags say so too."""
    if table.empty:
        return table
    compute, bandwidth = measured_ceilings(table)
    merged = (table.assign(device_key=_physical_device(table))
              .merge(compute, on=["run_id", "device_key", "precision"], how="left")
              .merge(bandwidth, on=["run_id", "device_key"], how="left")
              .drop(columns="device_key"))
    merged.index = table.index
    merged["pct_of_measured"] = 100 * merged["gflops"] / merged["ceiling_gflops"]
    merged["intensity"] = merged["flops"] / merged["bytes"]  # FLOP per byte the step must move
    merged["roof_gflops"] = roof(merged)
    merged["pct_of_roofline"] = 100 * merged["gflops"] / merged["roof_gflops"]
    peaks = [datasheet_peak(name, precision) for name, precision in zip(merged["device_name"], merged["precision"])]
    merged["datasheet"] = [p[0] if p else None for p in peaks]
    merged["datasheet_gflops"] = [p[1] if p else np.nan for p in peaks]
    merged["pct_of_datasheet"] = 100 * merged["gflops"] / merged["datasheet_gflops"]
    reached = [achievable_peak(name, precision) for name, precision in zip(merged["device_name"], merged["precision"])]
    merged["achievable"] = [r[0] if r else None for r in reached]
    merged["achievable_gflops"] = [r[1] if r else np.nan for r in reached]
    merged["pct_of_achievable"] = 100 * merged["gflops"] / merged["achievable_gflops"]
    if "derived_peak_gflops" in merged:
        merged["pct_of_derived"] = 100 * merged["gflops"] / merged["derived_peak_gflops"]
    merged["implausible"] = merged.apply(implausible, axis=1)
    flagged = merged["implausible"] != ""
    merged.loc[flagged, "trust"] = [("; ".join(filter(None, [t, f"implausible: {why}"])))
                                    for t, why in zip(merged.loc[flagged, "trust"].fillna(""),
                                                      merged.loc[flagged, "implausible"])]
    return merged


def roof(table: pd.DataFrame) -> pd.Series:
    """The roofline's bound on each row's GFLOP/s (Williams, Waterman and Patterson, 2009): the lower of
    the device's measured compute ceiling and its arithmetic intensity times the measured memory
    bandwidth. The bandwidth bound holds only for working sets beyond the largest cache (a smaller one
    is fed by the caches, faster than memory, which no ceiling row measures): below it the roof is
    the compute ceiling alone."""
    beyond_cache = table["bytes"].astype(float) > table["ceiling_cache_bytes"].astype(float)
    memory = (table["intensity"] * table["ceiling_gbps"]).where(beyond_cache)
    return pd.concat([table["ceiling_gflops"].astype(float), memory.astype(float)], axis=1).min(axis=1)


def implausible(row: pd.Series) -> str:
    """Why this row cannot be right, or "" when it can: its figure at its slower quartile (three rounds
    in four were faster) above a ceiling. A row without quartiles is judged by its median."""
    reasons = []
    q3, median = row.get("q3_s"), row.get("median_s")
    slower = median / q3 if pd.notna(q3) and pd.notna(median) and q3 >= median > 0 else 1.0
    gflops, gbps = row.get("gflops") * slower, row.get("gbps") * slower
    said = " or more in 3 rounds of 4" if slower < 1.0 else ""
    if pd.notna(gflops) and pd.notna(row.get("ceiling_gflops")) and gflops > SLACK * row["ceiling_gflops"]:
        reasons.append(f"{gflops:,.0f} GFLOP/s{said}, over {SLACK:g}x the device's measured "
                       f"{row['ceiling_gflops']:,.0f}")
    derived = row.get("derived_peak_gflops")
    if pd.notna(gflops) and pd.notna(derived) and gflops > TURBO_MARGIN * derived:
        reasons.append(f"{gflops:,.0f} GFLOP/s{said}, over {TURBO_MARGIN:g}x the {derived:,.0f} GFLOP/s derived from "
                       "the CPU's cores, clock and vectors")
    if pd.notna(gflops) and pd.notna(row.get("datasheet_gflops")) and gflops > DATASHEET_SLACK * row["datasheet_gflops"]:
        reasons.append(f"{gflops:,.0f} GFLOP/s{said}, over the {row['datasheet']} peak {row['datasheet_gflops']:,.0f}")
    if (pd.notna(gbps) and pd.notna(row.get("ceiling_gbps")) and pd.notna(row.get("ceiling_cache_bytes"))
            and row["bytes"] > row["ceiling_cache_bytes"] and gbps > SLACK * row["ceiling_gbps"]):
        reasons.append(f"{gbps:,.1f} GB/s{said} over {row['bytes'] / 2**20:,.0f} MiB, over {SLACK:g}x the device's "
                       f"measured memory bandwidth {row['ceiling_gbps']:,.1f}")
    return "; ".join(reasons)


def found(table: pd.DataFrame) -> pd.DataFrame:
    """What a ceiling search found, best round first: per device and precision the fastest compute row
    (GFLOP/s and the case that reached it), and per device each bandwidth row (GB/s, in cache or not)."""
    best = table["min_s"].where(table["min_s"] > 0)
    timeable = _timeable(table)  # as measured_ceilings: too few rounds or too short a call is no ceiling

    def reached_by(row: pd.Series) -> str:
        said = f"{case_label(row)} ({row['mode']})"
        return said if timeable[row.name] else f"{said} [not a ceiling: {row['trust']}]"

    rows = []
    compute = table[(table["role_ceiling"] == "compute") & table["flops"].notna() & best.notna()]
    compute = compute.assign(figure=compute["flops"] / best[compute.index] / 1e9, timeable=timeable[compute.index])
    for (device, precision), g in compute.groupby(["device", "precision"], sort=False):
        top = g.sort_values(["timeable", "figure"], ascending=False).iloc[0]  # a timeable row first
        rows.append({"device": device, "what": f"compute, {precision}", "best": f"{top['figure']:,.1f} GFLOP/s",
                     "reached by": reached_by(top), "against": _against(top)})
    bandwidth = table[(table["role_ceiling"] == "bandwidth") & table["bytes"].notna() & best.notna()]
    bandwidth = bandwidth.assign(figure=bandwidth["bytes"] / best[bandwidth.index] / 1e9)
    for _, row in bandwidth.sort_values(["device", "bytes"], kind="stable").iterrows():
        where = ("in cache" if row["bytes"] <= row["cache_bytes"] else "beyond the cache") \
            if pd.notna(row.get("cache_bytes")) else ""
        rows.append({"device": row["device"], "what": f"bandwidth, {where}".rstrip(", "),
                     "best": f"{row['figure']:,.1f} GB/s", "reached by": reached_by(row), "against": ""})
    return pd.DataFrame(rows, columns=["device", "what", "best", "reached by", "against"])


def _against(row: pd.Series) -> str:
    """The best figure against what a healthy device reaches, the datasheet, and a CPU's derived peak."""
    parts = []
    for name, gflops, what in (("achievable", "achievable_gflops", "{}% of what a healthy {}"),
                               ("datasheet", "datasheet_gflops", "{}% of the {}")):
        peak = row.get(gflops)
        if pd.notna(peak) and peak:
            parts.append(what.format(f"{100 * row['figure'] / peak:.0f}", row.get(name)))
    derived = row.get("derived_peak_gflops")
    if pd.notna(derived) and derived:
        parts.append(derived_share(row["figure"], derived))
    return "; ".join(parts)


def derived_share(gflops: float, derived: float) -> str:
    """A figure's share of the CPU's derived peak, saying why where it is over it: the derivation takes the
    advertised clock (2.30 GHz on the Intel Xeon VM of 2026-12-02, where float32 matmul reached 104 to 108%
    of the peak derived from it), and cores under turbo run faster."""
    text = f"{100 * gflops / derived:.0f}% of {derived:,.0f} GFLOP/s derived from cores, clock and vectors"
    return text + (" (over it: the cores ran faster than the advertised clock it assumes)" if gflops > derived else "")
