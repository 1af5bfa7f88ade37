"""What a device can do: the best matmul GFLOP/s measured in the run, and for known accelerators the
vendor's datasheet peak. Both are shown, each labelled as what it is."""

from __future__ import annotations

import re

import pandas as pd

# Dense (no sparsity) peak TFLOP/s per chip from the vendors' datasheets; "tf32" is float32 matmul on
# tensor cores when TF32 is on. Matched against TensorFlow's device name, first pattern first.
DATASHEET_TFLOPS: list[tuple[str, str, dict[str, float]]] = [
    (r"H200", "NVIDIA H200 SXM", {"float32": 67.0, "tf32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    (r"H100.*PCIe", "NVIDIA H100 PCIe", {"float32": 51.0, "tf32": 378.0, "bfloat16": 756.0, "float16": 756.0}),
    (r"H100", "NVIDIA H100 SXM", {"float32": 67.0, "tf32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    (r"A100", "NVIDIA A100", {"float32": 19.5, "tf32": 156.0, "bfloat16": 312.0, "float16": 312.0}),
    (r"V100.*PCIE", "NVIDIA V100 PCIe", {"float32": 14.0, "float16": 112.0}),
    (r"V100", "NVIDIA V100 SXM2", {"float32": 15.7, "float16": 125.0}),
    (r"\bL4\b", "NVIDIA L4", {"float32": 30.3, "tf32": 60.0, "bfloat16": 121.0, "float16": 121.0}),
    (r"\bT4\b", "NVIDIA T4", {"float32": 8.1, "float16": 65.0}),
    (r"TPU.*v2", "TPU v2 (per chip)", {"bfloat16": 45.0}),
    (r"TPU.*v3", "TPU v3 (per chip)", {"bfloat16": 123.0}),
    (r"TPU.*v5(e|lite)", "TPU v5e (per chip)", {"bfloat16": 197.0}),
]


def datasheet_peak(device_name: str | None, dtype: str | None, tf32: bool = False) -> tuple[str, float] | None:
    """(label, GFLOP/s) of the datasheet peak for this device and dtype, or None when unknown."""
    if not device_name or not dtype:
        return None
    for pattern, label, peaks in DATASHEET_TFLOPS:
        if re.search(pattern, device_name, flags=re.IGNORECASE):
            key = "tf32" if dtype == "float32" and tf32 and "tf32" in peaks else dtype
            if key in peaks:
                return f"{label} datasheet {key}", peaks[key] * 1e3
            return None
    return None


def measured_ceilings(table: pd.DataFrame) -> pd.DataFrame:
    """Best matmul GFLOP/s per run, device and dtype: what this run showed the device can do."""
    matmul = table[(table["workload"] == "matmul") & table["gflops"].notna()]
    if matmul.empty:
        return pd.DataFrame(columns=["run_id", "device", "dtype", "ceiling_gflops"])
    return (matmul.groupby(["run_id", "device", "dtype"], dropna=False)["gflops"].max()
            .rename("ceiling_gflops").reset_index())


def with_ceilings(table: pd.DataFrame, tf32: dict[str, bool] | None = None) -> pd.DataFrame:
    """The table with pct_of_measured (of the best matmul of its run, device and dtype) and
    pct_of_datasheet (of the vendor's peak, for known accelerators) for rows that count FLOPs."""
    if table.empty:
        return table
    merged = table.merge(measured_ceilings(table), on=["run_id", "device", "dtype"], how="left")
    merged["pct_of_measured"] = 100 * merged["gflops"] / merged["ceiling_gflops"]
    peaks = merged.apply(lambda r: datasheet_peak(r["device_name"], r["dtype"], (tf32 or {}).get(r["run_id"], False)),
                         axis=1)
    merged["datasheet"] = [p[0] if p else None for p in peaks]
    merged["pct_of_datasheet"] = [100 * g / p[1] if p else None for g, p in zip(merged["gflops"], peaks)]
    return merged
