"""`tensorbench compare BASELINE[,MORE] CANDIDATE[,MORE]`: is the candidate faster or slower, benchmark
by benchmark, and is the difference real?

Benchmarks are matched by workload, parameters, mode, dtype, device kind and Keras backend, so a
workstation's GPU can be set against a Colab runtime's. Each gets the ratio of medians (candidate /
baseline: above 1 is slower) and an interval that holds two kinds of noise:

- within a run: a bootstrap of the raw rounds;
- between runs, which on a shared machine is larger than any run's own spread (two quick runs of the
  same code, one after the other, differed by up to 27% in a family's geometric mean): with several runs
  a side, the bootstrap resamples the runs too; with one run a side it is estimated from the comparison
  itself, from the spread of the log ratios of the NEIGHBOURS benchmarks nearest in duration
  (microsecond calls drift more than second-long ones). A change shared by most of them (a slower
  machine) moves their median, not their spread, so it is still found.

Across the many rows, p-values (two-sided, from the log ratio and its standard error) are adjusted by
Benjamini-Hochberg (scipy.stats.false_discovery_control), at a false discovery rate of 5%. The verdict
is `slower` or `faster` when the adjusted p-value is under 0.05 and the change is at least MIN_EFFECT;
`no change` when the 95% interval lies within MIN_EFFECT of 1; `too noisy to tell` otherwise. Workloads
whose versions differ are not compared, and that is said.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import results
from .errors import UsageError
from .summary import case_label, human_time

MATCH_KEYS = ["workload", "params", "mode", "dtype", "device_kind", "backend"]
RESAMPLES = 1000
MAX_ROUNDS = 1000
"""Rounds a run contributes to the bootstrap, evenly thinned (the standard reference keeps 1,000)."""
NEIGHBOURS = 31
MIN_NEIGHBOURS = 8
"""Fewer benchmarks than this in a one-run comparison: the drift between runs cannot be estimated."""
MIN_EFFECT = 0.10
FDR = 0.05
Z95 = 1.959963984540054


def _thinned(rounds: list[float]) -> np.ndarray:
    data = np.asarray(rounds, dtype=float)
    return data[np.linspace(0, len(data) - 1, MAX_ROUNDS).astype(int)] if len(data) > MAX_ROUNDS else data


def bootstrap_log_ratios(baseline: list[list[float]], candidate: list[list[float]], seed: int = 0) -> np.ndarray:
    """log(median(candidate) / median(baseline)) over resamples: each side's runs resampled, then the
    rounds within each run drawn; empty when a side has fewer than 2 rounds."""
    rng = np.random.default_rng(seed)

    def medians(runs: list[list[float]]) -> np.ndarray:
        runs = [_thinned(r) for r in runs if len(r) >= 2]
        picks = rng.integers(len(runs), size=RESAMPLES) if len(runs) > 1 else np.zeros(RESAMPLES, dtype=int)
        out = np.empty(RESAMPLES)
        for index, run in enumerate(runs):
            chosen = picks == index
            if chosen.any():
                out[chosen] = np.median(rng.choice(run, size=(int(chosen.sum()), len(run))), axis=1)
        return out

    if sum(len(r) for r in baseline) < 2 or sum(len(r) for r in candidate) < 2:
        return np.array([])
    return np.log(medians(candidate)) - np.log(medians(baseline))


def drift_between_runs(log_ratios: pd.Series, durations: pd.Series, within: pd.Series) -> pd.Series:
    """Each benchmark's estimated noise between runs, as a standard deviation of the log ratio.

    From the NEIGHBOURS benchmarks nearest in duration: the 95th percentile of their log ratios' distance
    from their median, over 1.96, less the part their own rounds explain (the median of their within-run
    variances). The drift between two runs is heavy-tailed (in an A/A pair of quick runs on the
    development VM, most rows moved by 15-25% and a few by 2x), so a percentile, not the MAD, sets it.
    """
    order = np.log(durations.to_numpy(dtype=float))
    values, variances = log_ratios.to_numpy(dtype=float), within.to_numpy(dtype=float)
    spread = []
    for position in range(len(values)):
        nearest = np.argsort(np.abs(order - order[position]))[:NEIGHBOURS]
        near = values[nearest]
        total = (float(np.percentile(np.abs(near - np.median(near)), 95)) / Z95) ** 2
        spread.append(math.sqrt(max(total - float(np.nanmedian(variances[nearest])), 0.0)))
    return pd.Series(spread, index=log_ratios.index)


def verdict(ratio: float, low: float, high: float, adjusted_p: float, min_effect: float) -> str:
    if math.isnan(low):
        return "no raw rounds"
    if adjusted_p < FDR and abs(math.log(ratio)) >= math.log1p(min_effect):
        return "slower" if ratio > 1 else "faster"
    if 1 / (1 + min_effect) <= low and high <= 1 + min_effect:
        return "no change"
    return "too noisy to tell"


def _runs(spec: str) -> list[str]:
    return [part for part in spec.split(",") if part]


def compare(baseline_spec: str, candidate_spec: str, min_effect: float = MIN_EFFECT) -> tuple[pd.DataFrame, list[str]]:
    """One row per matched benchmark, and notes (unmatched, version changes, how the drift was taken)."""
    from scipy.stats import false_discovery_control  # here: the command line imports this module at start
    sides = []
    for spec in (baseline_spec, candidate_spec):
        table = results.load(_runs(spec))
        if table.empty:
            raise UsageError(f"{spec} holds no finished benchmark")
        sides.append(table)
    notes = []
    keys = MATCH_KEYS
    pooled = [side.groupby(keys, dropna=False).agg(
        data=("data", list), median_s=("data", lambda runs: float(np.median(np.concatenate([r for r in runs if len(r)])))
                                       if any(len(r) for r in runs) else np.nan),
        runs=("run_id", "nunique"), version=("version", "first"), family=("family", "first"),
        param=("param", "first"), label=("label", "first"), device=("device", "first")).reset_index()
        for side in sides]
    matched = pooled[0].merge(pooled[1], on=keys, suffixes=("_base", "_cand"))
    changed = matched[matched["version_base"].fillna("") != matched["version_cand"].fillna("")]
    for workload in sorted(changed["workload"].unique()):
        notes.append(f"{workload}: workload version changed between the runs; not compared")
    matched = matched.drop(changed.index).reset_index(drop=True)
    if matched.empty:
        raise UsageError("no benchmark of the candidate matches one of the baseline (same workload, parameters, "
                         "mode, dtype, device kind and backend)")
    unmatched = len(pooled[1]) - len(matched)
    if unmatched:
        notes.append(f"{unmatched} candidate benchmarks have no match in the baseline")
    matched["ratio"] = matched["median_s_cand"] / matched["median_s_base"]
    draws = [bootstrap_log_ratios(b, c) for b, c in zip(matched["data_base"], matched["data_cand"])]
    within = pd.Series([float(np.var(d)) if len(d) else np.nan for d in draws])
    several = matched["runs_base"].min() > 1 and matched["runs_cand"].min() > 1
    if several:
        between = pd.Series(0.0, index=matched.index)
        notes.append("several runs a side: the intervals resample the runs, so they hold the drift between runs")
    elif len(matched) >= MIN_NEIGHBOURS:
        between = drift_between_runs(np.log(matched["ratio"]), matched["median_s_base"], within)
        notes.append(f"one run a side: the drift between runs is estimated from the {NEIGHBOURS} benchmarks nearest "
                     "in duration to each (give several runs a side, comma-separated, to measure it)")
    else:
        between = pd.Series(0.0, index=matched.index)
        notes.append(f"one run a side and fewer than {MIN_NEIGHBOURS} benchmarks: the drift between runs is not "
                     "known, so the intervals hold the noise within each run only")
    error = np.sqrt(within + between**2)
    log_ratio = np.log(matched["ratio"])
    p_values = pd.Series([math.erfc(abs(lr) / se / math.sqrt(2)) if se > 0 else (1.0 if lr == 0 else 0.0)
                          for lr, se in zip(log_ratio, error.fillna(0))])
    testable = error.notna()
    adjusted = pd.Series(1.0, index=matched.index)
    if testable.any():
        adjusted[testable] = false_discovery_control(p_values[testable].clip(0, 1), method="bh")
    rows = []
    for i, row in matched.iterrows():
        low, high = (math.exp(log_ratio[i] - Z95 * error[i]), math.exp(log_ratio[i] + Z95 * error[i])) \
            if testable[i] else (float("nan"), float("nan"))
        rows.append({
            "benchmark": case_label(pd.Series({"label": row["label_cand"], "param": row["param_cand"],
                                               "device": row["device_cand"], "mode": row["mode"],
                                               "backend": row["backend"]})),
            "family": row["family_cand"], "device_kind": row["device_kind"], "mode": row["mode"],
            "baseline_s": row["median_s_base"], "candidate_s": row["median_s_cand"], "ratio": row["ratio"],
            "ci_low": low, "ci_high": high, "p_adjusted": adjusted[i],
            "verdict": verdict(row["ratio"], low, high, adjusted[i], min_effect),
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
        "p (BH)": table["p_adjusted"].map(lambda v: f"{v:.3f}"),
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
