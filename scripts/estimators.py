"""`python -m tensorbench.scripts.estimators RUN.json RUN.json [...]`: which statistic of a benchmark's
rounds moves least from run to run on this machine? The data behind the suite's estimator (the median:
benchmarks/harness.py, ESTIMATOR). For every pair of runs, every benchmark both ran and each statistic,
the difference between the runs (the larger over the smaller, minus 1); prints, per statistic, its median
and 90th percentile over those rows. Give runs of the same profile on the same machine, made back to
back (A/A): any difference between them is the machine's and the harness's, not the code's. It measures;
nothing here asserts anything.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import pandas as pd

from .results import ResultsError, load

STATISTICS = {"min": "min_s", "q1": "q1_s", "median": "median_s", "mean": "mean_s"}
"""pytest-benchmark's statistics of the rounds, by the results table's column."""
KEY = ["name", "backend"]
"""A benchmark, the same from run to run: pytest-benchmark's name holds the case id (device and mode)."""


def run_to_run(table: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of runs and benchmark they share, with each statistic's difference between them."""
    pairs = []
    for a, b in itertools.combinations(table["run_id"].unique(), 2):
        both = table[table["run_id"] == a].merge(table[table["run_id"] == b], on=KEY, suffixes=("_a", "_b"))
        differences = {name: (both[[f"{col}_a", f"{col}_b"]].max(axis=1) / both[[f"{col}_a", f"{col}_b"]].min(axis=1)
                              - 1) for name, col in STATISTICS.items()}
        pairs.append(pd.DataFrame({"pair": f"{a} / {b}", "benchmark": both["name"], **differences}))
    return pd.concat(pairs, ignore_index=True).dropna()


def summary(differences: pd.DataFrame) -> pd.DataFrame:
    """Per statistic: the run-to-run difference's median and 90th percentile over the rows."""
    columns = list(STATISTICS)
    return pd.DataFrame({"median difference": differences[columns].median(),
                         "90th percentile": differences[columns].quantile(0.9)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tensorbench.scripts.estimators",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="two or more benchmarks.json files of the same profile")
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        parser.error("give two or more runs to compare")
    try:
        table = load(args.runs)
    except ResultsError as exc:
        parser.error(str(exc))
    if table.empty or table["run_id"].nunique() < 2:
        parser.error("the runs hold fewer than two distinct runs with benchmarks (each run's folder name or file stem names it)")
    differences = run_to_run(table)
    if differences.empty:
        parser.error("the runs share no benchmark")
    print(f"{len(differences)} rows ({differences['benchmark'].nunique()} benchmarks, "
          f"{differences['pair'].nunique()} pairs of runs): the difference of each statistic between runs")
    print(summary(differences).to_string(float_format=lambda v: f"{v:.1%}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
