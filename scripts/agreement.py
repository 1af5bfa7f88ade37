"""`python -m tensorbench.scripts.agreement [--profile quick] [--seconds 3]`: does the suite report what
the machine does? A benchmark of the benchmark: for a matmul, an elementwise op, the chapter's Keras
epoch and two training steps, the suite's figure (a pytest-benchmark run of that very case alone, in this
process) against the same work timed another way, in this process, right after it: a bare `timeit` loop
of the step on the same seeded inputs; for a training row, whose figure is one steady step, one long epoch
of fit timed as keras.io's benchmarks time it (from the end of its first batch to the end of its last, by
a callback's timestamps). Prints each pair and their difference; the two agree when the harness adds
nothing to what it times.

The bare loop warms up with 5 calls, then times batches of calls (sized to about 20 ms each) for
`--seconds`, and takes the median per call; a call ends with the device synchronised where the suite's
does (workloads/devices.py). The two alternate `--repeats` times (suite, loop, suite, loop, ...); each
repeat's pair gives a ratio, and the difference is the median of those ratios, so that a machine drifting
between repeats moves both sides of a pair: on the 2-core development VM one suite-then-loop pair of the
1024 x 1024 matmul gave -27% and the next +21%. The ratios' range over their median says how large a
difference the machine's noise alone makes; a difference within that noise is reported as such, not as a
verdict.

`--max-time` gives the suite as many seconds of timed rounds as the loop has (`--seconds`): the question
is whether the harness adds to what it times (a bias), and a profile's short rounds (quick's 0.05 s) add
their own noise, which is the row's spread, not a bias. It measures; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np

AGREE = 0.05
"""The agreement the suite aims for: its median within 5% of the bare loop's."""
CASES = [
    "matmul-n1024-float32-cpu-eager",
    "matmul-n1024-float32-cpu-graph",
    "elementwise-add-n1024-float32-cpu-graph",
    "fit-batch_size128-float32-cpu-graph",
    "train-mlp-batch_size256-samples256-float32-cpu-graph",
    "train-cnn28-batch_size256-samples256-float32-cpu-graph",
]
"""Case ids of the quick profile: the chapter's matmul in two modes, an elementwise op, a Keras epoch,
the MLP's and the CNN's training step at batch 256."""


def suite_medians(case_ids: list[str], profile: str, max_time: float | None = None) -> dict[str, float]:
    """Median seconds per call of each case as `tensorbench run` times it (its pytest-benchmark run), with
    the profile's seconds of timed rounds or max_time's."""
    import pytest

    from .run import _benchmarks_dir

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "suite.json"
        status = pytest.main([str(_benchmarks_dir()), "-q", "-p", "no:cacheprovider", "--tensorbench-no-table",
                              f"--tensorbench-profile={profile}", "--tensorbench-devices=cpu,numpy",
                              f"--tensorbench-cases={','.join(case_ids)}", f"--benchmark-json={path}"]
                             + ([] if max_time is None else [f"--benchmark-max-time={max_time}"]))
        if status != 0:
            raise SystemExit(f"tensorbench: error: the suite's run of {', '.join(case_ids)} ended with status {status}")
        return {b["param"]: b["extra_info"]["steps"]["step_s"] if b["extra_info"].get("steps", {}).get("figure") == "step"
                else b["stats"]["median"] for b in json.loads(path.read_text())["benchmarks"]}


def long_epoch(workload, seconds: float) -> float:
    """Seconds a step in one long call of fit (evaluate, predict) of about `seconds`, as keras.io's backend
    benchmarks time steps: a callback's timestamps at the end of each batch, the first batch excluded."""
    import time

    import keras

    stamps: list[float] = []

    class Stamps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

        on_test_batch_end = on_predict_batch_end = on_train_batch_end

    workload.callbacks = [Stamps()]
    workload.step()  # the first call: tracing
    workload.call_of(20)()
    step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    steps = int(min(max(seconds / step, 20), 100_000))
    call = workload.call_of(steps)  # its dataset made before the epoch
    stamps.clear()
    call()
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def bare_loop(case_id: str, profile: str, seconds: float) -> float:
    """Median seconds per call of the case's step in a bare timeit loop, after its own setup; for a row
    whose figure is one steady step, a step of one long epoch (long_epoch)."""
    from tensorbench.workloads import devices
    from tensorbench.workloads.cases import enumerate_cases

    case = next(c for c in enumerate_cases(profile, devices.resolve(["cpu", "numpy"]), ["eager", "graph", "xla"])
                if c.id == case_id)
    workload = case.workload(**case.params)
    with devices.device_scope(case.device):
        workload.setup(case.device, case.mode)
        workload.device = case.device
        calls = workload.step_calls()
        if calls is not None and calls.whole is None:
            step = long_epoch(workload, seconds)
            workload.teardown()
            return step

        def call():
            devices.wait(case.device, workload.step())

        for _ in range(5):
            call()
        one = min(timeit.repeat(call, number=1, repeat=3))
        number = max(1, round(0.02 / max(one, 1e-9)))
        repeat = max(5, round(seconds / (number * max(one, 1e-9))))
        per_call = np.array(timeit.repeat(call, number=number, repeat=repeat)) / number
        workload.teardown()
    return float(np.median(per_call))


def spread(values: list[float]) -> float:
    """The range of repeated figures over their median."""
    return (max(values) - min(values)) / float(np.median(values))


def verdict(difference: float, noise: float) -> str:
    """'agree' within AGREE, when the noise is within 2 AGREE (a difference inside a 50% noise agrees by
    luck); 'differ' beyond AGREE and beyond the noise; else the noise is too large to tell."""
    if abs(difference) <= AGREE and noise <= 2 * AGREE:
        return "agree"
    return "differ" if abs(difference) > noise else "noise too large to tell"


def agreement(case_ids: list[str], profile: str, seconds: float, repeats: int = 3,
              max_time: float | None = None) -> list[dict]:
    """Each case through the suite, then at once through the bare loop, `repeats` times alternately: the
    two see the same state of the process and the machine (a case timed after others ran, or minutes
    apart, is not the same work)."""
    rows = []
    for case_id in case_ids:
        suites, bares = [], []
        for _ in range(repeats):
            suites.append(suite_medians([case_id], profile, max_time)[case_id])
            bares.append(bare_loop(case_id, profile, seconds))
        ratios = [s / b for s, b in zip(suites, bares)]
        difference = float(np.median(ratios)) - 1
        noise = spread(ratios) if repeats > 1 else float("nan")
        rows.append({"case": case_id, "suite_s": float(np.median(suites)), "bare_s": float(np.median(bares)),
                     "difference": difference, "noise": noise, "verdict": verdict(difference, noise)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tensorbench.scripts.agreement", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="quick", help="the profile whose cases and rounds the suite uses")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long the bare loop times each case")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case ids")
    parser.add_argument("--repeats", type=int, default=3, help="suite and bare loop, alternately, this many times")
    parser.add_argument("--max-time", type=float, metavar="S",
                        help="the suite's seconds of timed rounds (default: the profile's; --seconds to match the loop)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    rows = agreement([c for c in args.cases.split(",") if c], args.profile, args.seconds, args.repeats, args.max_time)
    timed = f"{args.max_time:g} s" if args.max_time is not None else f"the {args.profile} profile's time"
    print(f"\nsuite: {timed} of timed rounds; bare loop: {args.seconds:g} s. Medians of {args.repeats} alternated "
          "repeats; difference: the median of the pairs' ratios; noise: the ratios' range over their median")
    print(f"{'case':45} {'suite median':>14} {'bare loop':>14} {'difference':>11} {'noise':>7}  verdict")
    for row in rows:
        print(f"{row['case']:45} {row['suite_s'] * 1e3:11.4f} ms {row['bare_s'] * 1e3:11.4f} ms "
              f"{row['difference']:+10.1%} {row['noise']:7.1%}  {row['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
