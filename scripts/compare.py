"""`tensorbench compare BASELINE CANDIDATE [--fail-above PCT]`: is the candidate run faster or slower,
benchmark by benchmark, and is the difference real?

Benchmarks are matched by workload, parameters, mode, dtype, device kind and Keras backend, so a
workstation's GPU can be set against a Colab runtime's. Each gets the ratio of medians (candidate / baseline: above 1 is
slower) and a bootstrap 95% confidence interval from the raw rounds; a verdict says faster or slower
only when the interval excludes 1. Workloads whose versions differ are not compared, and that is said.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import results
from .errors import UsageError
from .summary import case_label, human_time

MATCH_KEYS = ["workload", "params", "mode", "dtype", "device_kind", "backend"]
RESAMPLES = 2000


def bootstrap_ratio(baseline: list[float], candidate: list[float], seed: int = 0) -> tuple[float, float]:
    """95% interval of median(candidate) / median(baseline), resampling each run's rounds."""
    if len(baseline) < 2 or len(candidate) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    b = np.median(rng.choice(np.asarray(baseline), size=(RESAMPLES, len(baseline))), axis=1)
    c = np.median(rng.choice(np.asarray(candidate), size=(RESAMPLES, len(candidate))), axis=1)
    low, high = np.percentile(c / b, [2.5, 97.5])
    return float(low), float(high)


def verdict(low: float, high: float) -> str:
    if np.isnan(low):
        return "no raw rounds"
    if low > 1:
        return "slower"
    if high < 1:
        return "faster"
    return "no significant change"


def compare(baseline_path: str, candidate_path: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per matched benchmark, and notes (unmatched, version changes)."""
    baseline, candidate = results.load([baseline_path]), results.load([candidate_path])
    if baseline.empty or candidate.empty:
        raise UsageError(f"{baseline_path if baseline.empty else candidate_path} holds no finished benchmark")
    matched = baseline.merge(candidate, on=MATCH_KEYS, suffixes=("_base", "_cand"))
    notes = []
    changed = matched[matched["version_base"].fillna("") != matched["version_cand"].fillna("")]
    for workload in sorted(changed["workload"].unique()):
        notes.append(f"{workload}: workload version changed between the runs; not compared")
    matched = matched.drop(changed.index)
    if matched.empty:
        raise UsageError("no benchmark of the candidate matches one of the baseline (same workload, parameters, "
                         "mode, dtype, device kind and backend)")
    unmatched = len(candidate) - len(matched)
    if unmatched:
        notes.append(f"{unmatched} candidate benchmarks have no match in the baseline")
    rows = []
    for _, row in matched.iterrows():
        low, high = bootstrap_ratio(row["data_base"], row["data_cand"])
        ratio = row["median_s_cand"] / row["median_s_base"]
        rows.append({
            "benchmark": case_label(row.rename({"param_cand": "param", "device_cand": "device"})),
            "family": row["family_cand"], "device_kind": row["device_kind"], "mode": row["mode"],
            "baseline_s": row["median_s_base"], "candidate_s": row["median_s_cand"], "ratio": ratio,
            "ci_low": low, "ci_high": high, "verdict": verdict(low, high),
        })
    return pd.DataFrame(rows), notes


def geometric_means(table: pd.DataFrame) -> pd.Series:
    """Geometric mean of the ratios per family (above 1: the candidate is slower)."""
    return table.groupby(table["family"].fillna("?"))["ratio"].apply(lambda r: float(np.exp(np.log(r).mean())))


def regressions(table: pd.DataFrame, fail_above: float) -> pd.DataFrame:
    """Benchmarks slower by more than `fail_above` percent whose interval excludes no change."""
    return table[(table["ratio"] > 1 + fail_above / 100) & (table["verdict"] == "slower")]


def format_table(table: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "benchmark": table["benchmark"], "device": table["device_kind"], "mode": table["mode"],
        "baseline": table["baseline_s"].map(human_time), "candidate": table["candidate_s"].map(human_time),
        "ratio": table["ratio"].map(lambda v: f"{v:.2f}x"),
        "95% CI": [f"{lo:.2f}-{hi:.2f}" if not np.isnan(lo) else "-" for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "verdict": table["verdict"],
    })
    return shown.to_string(index=False)


def chart(table: pd.DataFrame, path: str) -> None:
    """Ratios with their intervals, one bar per benchmark, log scale, a line at no change."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = table.sort_values("ratio")
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(ordered) + 1.6))
    colors = ordered["verdict"].map({"slower": "tab:red", "faster": "tab:green"}).fillna("tab:grey")
    errors = [(ordered["ratio"] - ordered["ci_low"]).clip(lower=0), (ordered["ci_high"] - ordered["ratio"]).clip(lower=0)]
    ax.barh(ordered["benchmark"] + " " + ordered["device_kind"] + " " + ordered["mode"], ordered["ratio"],
            xerr=errors, color=colors, label="candidate / baseline, with 95% interval")
    ax.axvline(1.0, color="black", linewidth=0.8, label="no change")
    ax.set(xscale="log", title="Candidate against baseline (median time ratio; red slower, green faster)",
           xlabel="time ratio, candidate / baseline (log scale; > 1 is slower)")
    ax.tick_params(axis="y", labelsize=6)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
