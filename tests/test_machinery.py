"""When the suite's own machinery breaks (a hook that raises, a changed pytest-benchmark API, an install
that fails every benchmark the same way), the run stops at once with one line, `tensorbench: error: ...`,
exit status 1, and a valid JSON of what finished; a workload that fails is listed with its error and the
run goes on. The breakage is injected by tests/break_the_suite.py."""

from __future__ import annotations

import json
import os
import sys

import pytest

from .conftest import REPO, run_command

pytestmark = pytest.mark.plumbing


def broken_run(tmp_path, how: str, *args: str):
    """`tensorbench run --profile smoke --devices cpu ARGS` with the machinery broken as `how` says."""
    env = {**os.environ, "PYTEST_PLUGINS": "tests.break_the_suite", "TENSORBENCH_TEST_BREAK": how}
    result = run_command(sys.executable, "-m", "tensorbench.scripts.cli", "run", "--profile", "smoke",
                         "--devices", "cpu", "--output", str(tmp_path), *args, cwd=REPO, env=env)
    document = json.loads((tmp_path / "benchmarks.json").read_text())
    return result, document


def assert_stopped_with_one_line(result, *fragments: str) -> str:
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "INTERNALERROR" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tensorbench: error: ")]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0], result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0]
    return errors[0]


def assert_every_benchmark_complete(document) -> None:
    for bench in document["benchmarks"]:
        assert len(bench["stats"]["data"]) == bench["stats"]["rounds"] >= 2
        assert bench["extra_info"]["check"]


def test_a_hook_that_raises_stops_the_run_and_keeps_what_finished(tmp_path):
    result, document = broken_run(tmp_path, "saving", "--only", "tensor_ops")
    line = assert_stopped_with_one_line(result, "update_json broke")
    assert len(document["benchmarks"]) == 2  # saved before the hook broke, complete
    assert_every_benchmark_complete(document)
    assert document["tensorbench"]["stopped"] in line
    assert "2 benchmarks in" in result.stdout


def test_a_broken_harness_stops_at_the_first_benchmark(tmp_path):
    result, document = broken_run(tmp_path, "harness", "--only", "tensor_ops")
    assert_stopped_with_one_line(result, "unexpected keyword argument 'rounds'", "suite's own machinery")
    assert document["benchmarks"] == []
    (failure,) = document["tensorbench"]["failed"]
    assert failure["case"] == "elementwise-square-n8-float32-cpu-eager" and "TypeError" in failure["error"]


def test_the_same_error_in_the_first_three_benchmarks_stops_the_run(tmp_path):
    result, document = broken_run(tmp_path, "workload", "--only", "tensor_ops")
    assert_stopped_with_one_line(result, "first 3 benchmarks failed with the same error", "libcudnn")
    assert [f["mode"] for f in document["tensorbench"]["failed"]] == ["eager", "graph", "xla"]
    assert result.stdout.count("FAILED") >= 3  # in the closing table


def test_a_failing_workload_is_listed_with_its_error_and_the_run_goes_on(tmp_path):
    result, document = broken_run(tmp_path, "matmul-check", "--only", "tensor_ops")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    failed = document["tensorbench"]["failed"]
    assert {f["case"] for f in failed} == {f"matmul-n8-float64-cpu-{mode}" for mode in ("eager", "graph", "xla")}
    assert document["tensorbench"]["stopped"] is None
    assert any(b["param"] == "matmul-n8-float32-cpu-graph" for b in document["benchmarks"])  # went on
    assert_every_benchmark_complete(document)
    for failure in failed:
        assert f"failed: {failure['case']}: AssertionError: matmul float64 off (injected" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("matmul-n8-float64 "))
    assert row.split()[1:4] == ["FAILED"] * 3  # cpu eager, graph, xla in the closing table
    assert "tensorbench: error" not in result.stderr


def test_pytest_benchmarks_own_saving_failing_leaves_the_checkpoint(tmp_path):
    """With plain pytest, --benchmark-json is pytest-benchmark's (written at the end) and --tensorbench-json
    ours (after each benchmark): its saving breaking at the end leaves ours complete."""
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    env = {**os.environ, "TENSORBENCH_TEST_BREAK": "final-save"}
    result = run_command(
        sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider",
        "-p", "tests.break_the_suite", "--tensorbench-profile=smoke", "--tensorbench-only=matmul",
        "--tensorbench-devices=cpu", f"--tensorbench-json={ours}", f"--benchmark-json={theirs}", cwd=REPO, env=env)
    assert "pytest-benchmark's saving broke" in result.stdout + result.stderr
    document = json.loads(ours.read_text())
    assert {b["param"] for b in document["benchmarks"]} >= {"matmul-n8-float32-cpu-graph", "matmul-n8-float32-numpy-eager"}
    assert_every_benchmark_complete(document)
    assert document["tensorbench"]["failed"] == [] and document["machine_info"]["tensorbench"]


def test_the_results_file_holds_the_document_it_was_given(tmp_path):
    from tensorbench.benchmarks.results_file import serialise, write_atomically

    document = {"machine_info": {"node": "h"}, "benchmarks": [{"fullname": "a", "stats": {"data": [1.5, 2.0]}},
                                                              {"fullname": "b", "stats": {"data": [3.0]}}],
                "tensorbench": {"failed": [], "stopped": None}}
    texts: dict[str, str] = {}
    path = tmp_path / "out" / "benchmarks.json"
    write_atomically(path, serialise(document, texts))
    assert json.loads(path.read_text()) == document and set(texts) == {"a", "b"}
    assert json.loads(serialise({"benchmarks": []}, texts)) == {"benchmarks": []}
    assert [p.name for p in path.parent.iterdir()] == ["benchmarks.json"]  # no temporary file left


def _burst(median, iqr=0.01, probe="compute"):
    from tensorbench.workloads.noise_probe import PROBES, SAMPLE_KEYS

    return {"probe": PROBES[probe], "sample_key": SAMPLE_KEYS[probe], "at": 0.0, "median_s": median,
            "iqr_s": iqr * median, "min_s": median, "windows": 30, "window_s": 0.01}


def _samples(*values, key="s"):
    return [{"at": float(i), key: v} for i, v in enumerate(values)]


def test_the_noise_verdict_follows_the_drift_and_the_spread():
    """A machine whose probe slowed 20% during the run, whose bursts spread 30%, or whose samples over
    the run spread 30% is not steady, and the closing line says how large a difference means nothing; a
    quiet one is steady."""
    from tensorbench.scripts import noise

    def compute_only(before, after, samples=None):
        return noise.summary({"compute": before}, {"compute": after}, samples)

    quiet = compute_only(_burst(1e-3), _burst(1.02e-3), _samples(1e-3, 1.01e-3, 0.99e-3, 1e-3))
    assert quiet["steady"] and quiet["drift"] == pytest.approx(0.02) and "steady" in noise.verdict(quiet)
    assert quiet["probes"][0]["during"]["count"] == 4 and "its 4 samples over the run spread" in noise.verdict(quiet)
    assert "in 10 ms windows" in noise.verdict(quiet)
    drifted = compute_only(_burst(1e-3), _burst(1.2e-3))
    assert not drifted["steady"] and "smaller than 20% mean nothing" in noise.verdict(drifted)
    assert drifted["probes"][0]["during"] is None  # too few samples to tell (none here)
    spread = compute_only(_burst(1e-3, iqr=0.3), _burst(1e-3))
    assert not spread["steady"] and "smaller than 30% mean nothing" in noise.verdict(spread)
    # steady bursts before and after, but the machine's speed moved while the run ran
    moved = compute_only(_burst(1e-3), _burst(1e-3), _samples(1e-3, 1.6e-3, 1e-3, 1.6e-3, 1e-3, 1.6e-3))
    assert not moved["steady"] and moved["probes"][0]["during"]["spread"] == pytest.approx(0.6 / 1.3)
    assert "0.77 to 1.23 of their median" in noise.verdict(moved)


def test_a_steady_compute_probe_does_not_make_a_run_steady_when_dispatch_was_not():
    """The run is steady only if every probe was: quiet NumPy windows beside tf.function calls whose
    samples spread 40% say NOT STEADY, name both probes, and give the larger spread."""
    from tensorbench.scripts import noise
    from tensorbench.workloads.noise_probe import PROBES

    samples = [{"at": float(i), "s": 1e-3, "dispatch_s": d}
               for i, d in enumerate([300e-6, 420e-6, 300e-6, 420e-6, 300e-6, 420e-6])]
    mixed = noise.summary({"compute": _burst(1e-3), "dispatch": _burst(3e-4, probe="dispatch")},
                          {"compute": _burst(1e-3), "dispatch": _burst(3e-4, probe="dispatch")}, samples)
    compute, dispatch = mixed["probes"]
    assert compute["steady"] and not dispatch["steady"] and not mixed["steady"]
    assert mixed["spread"] == dispatch["spread"] == pytest.approx(0.12 / 0.36)
    line = noise.verdict(mixed)
    assert line.startswith("tensorbench: noise: NOT STEADY") and "smaller than 33% mean nothing" in line
    assert all(label in line for label in PROBES.values())


def test_the_probes_windows_are_judged_as_rows_are():
    """Runs of 5 consecutive windows, flagged as a row's rounds are (pytest-benchmark's IQR over median,
    over 10%): steady windows never, a step between two speeds inside a run of 5 always; a remainder
    too short for a row is left out; bursts that kept no windows give None."""
    from tensorbench.scripts import noise

    steady = {"windows_s": [1e-3, 1.01e-3, 0.99e-3, 1e-3, 1.02e-3] * 2 + [5e-3]}  # the 11th: no row
    stepped = {"windows_s": [1e-3, 1e-3, 1e-3, 1.5e-3, 1.5e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3]}
    assert noise.flagged_as_rows([steady]) == {"rounds": 5, "rows": 2, "flagged": 0}
    assert noise.flagged_as_rows([steady, stepped]) == {"rounds": 5, "rows": 4, "flagged": 1}
    assert noise.flagged_as_rows([{"median_s": 1e-3}]) is None
    summary = noise.summary({"compute": {**_burst(1e-3), **stepped}}, {"compute": {**_burst(1e-3), **steady}})
    assert summary["probes"][0]["as_rows"]["flagged"] == 1
    assert "1 of its 4 rows of 5 windows flagged for spread" in noise.verdict(summary)


def test_a_run_from_before_there_were_two_probes_is_still_described():
    """A `tensorbench.noise` block of one probe, at its top level, as runs wrote it until 2026-12-03,
    reads as it did (the report describes old runs beside new ones)."""
    from tensorbench.scripts import noise

    label = {"probe": "NumPy float32 matmul, 256 x 256"}  # its label then: on NumPy's threads
    old = noise.probe_summary({**_burst(1e-3), **label}, {**_burst(1.2e-3), **label})
    assert "probes" not in old and all(key in old for key in noise.READ)
    assert "NOT STEADY: the probe (NumPy float32 matmul, 256 x 256, in 10 ms windows) ran 20% slower" \
        in noise.described(old)


def test_the_probe_times_windows_and_samples_at_most_once_a_period():
    import time

    from tensorbench.workloads.noise_probe import Sampler, burst, window

    measured = burst(seconds=0.05, window_s=0.005)
    assert measured["windows"] >= 2 and 0 < measured["min_s"] <= measured["median_s"]
    assert 0 < window(0.001) < 0.1 and 0 < window(0.001, probe="dispatch") < 0.1
    sampler = Sampler(every_s=0.05)
    for _ in range(3):
        sampler.maybe_sample()
    assert len(sampler.samples) == 1
    time.sleep(0.06)
    sampler.maybe_sample()
    assert len(sampler.samples) == 2 and sampler.samples[1]["at"] > sampler.samples[0]["at"]
    assert all(sample["s"] > 0 and sample["dispatch_s"] > 0 for sample in sampler.samples)  # both probes


def test_the_agreement_script_sets_the_suite_beside_a_bare_loop():
    """scripts/agreement.py runs a case through the suite and through a bare timeit loop, and prints both
    medians and their difference (what they are is for the README, not for a test)."""
    import re
    import sys

    from tensorbench.scripts.agreement import verdict

    result = run_command(sys.executable, "-m", "tensorbench.scripts.agreement", "--profile", "smoke",
                         "--seconds", "0.2", "--repeats", "2", "--cases", "matmul-n8-float32-cpu-graph", cwd=REPO)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert re.search(r"matmul-n8-float32-cpu-graph +[0-9.]+ ms +[0-9.]+ ms +[-+][0-9.]+% +[0-9.]+%  "
                     r"(agree|differ|noise too large to tell)", result.stdout)
    # a verdict only where the noise between repeats is smaller than what it judges
    assert verdict(0.03, 0.08) == "agree" and verdict(0.3, 0.1) == "differ"
    assert verdict(0.03, 0.5) == verdict(0.3, 0.4) == verdict(0.03, float("nan")) == "noise too large to tell"


def test_the_bare_matmul_loop_prints_each_dtypes_best():
    import re
    import sys

    result = run_command(sys.executable, "-m", "tensorbench.scripts.bare_matmul", "--seconds", "0.05",
                         "--sizes", "32,64", cwd=REPO)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for label in ("tf float32", "tf bfloat16", "numpy float32"):
        assert re.search(rf"best {label} +[0-9.]+ GFLOP/s at n=(32|64)", result.stdout), result.stdout


def test_the_ceiling_command_runs_the_finder_and_prints_the_best(tmp_path):
    """tensorbench ceiling: the ceiling finder as a run (its JSON and report), then the best compute and
    bandwidth each device reached. Run at the smoke sizes (a preset the command line does not offer), with
    the matmul's timed_s set for them: its rows are asked for that long (`max_time_s`; the rounds that
    follow from it are test_a_call_shorter_than_a_round_is_looped...'s), the others get the profile's 2
    rounds; its one shape is large enough (2 x 768^3 FLOP) for a call of a millisecond
    or more, which is timed once a round. How long the rounds then take is the machine's: they are
    counted from the warm-up's fastest call, and on the loaded CI VM the calls sped up after the warm-up
    (0.12 and 0.14 s timed of the 0.2 s asked, 2026-12-03), so the test asks what was asked, not the time."""
    import json
    import re
    import sys

    out = tmp_path / "ceiling"
    script = ("import sys; from tensorbench.scripts import ceiling; ceiling.PRESETS['smoke'] = 'smoke'; "
              "from tensorbench.workloads.ceiling_finder import MatmulShape; MatmulShape.timed_s = {'smoke': 0.2}; "
              "MatmulShape.sweeps = {**MatmulShape.sweeps, 'smoke': [dict(m=768, k=768, n=768, dtype='float32')]}; "
              f"sys.exit(ceiling.ceiling(['cpu', 'numpy'], 'smoke', {str(out)!r}))")
    result = run_command(sys.executable, "-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"ceiling, smoke preset: \d+ cases; their timed rounds alone take at least \d+ s", result.stdout)
    benchmarks = json.loads((out / "benchmarks.json").read_text())["benchmarks"]
    workloads = {b["extra_info"]["workload"] for b in benchmarks}
    assert workloads == {"matmul_shape", "stream_kernel"}  # transfer: skipped without an accelerator
    for b in benchmarks:
        if b["extra_info"]["workload"] == "matmul_shape":
            assert b["extra_info"]["max_time_s"] == 0.2 and b["extra_info"]["timed_as"] == "one call a round"
            assert b["stats"]["rounds"] >= 2 and b["stats"]["iterations"] == 1, b["stats"]
        else:
            assert b["stats"]["rounds"] == 2
    table = result.stdout.split("The ceilings found")[1]
    assert "compute, float32" in table and "bandwidth, in cache" in table and "GFLOP/s" in table
    assert (out / "report.html").exists()


def test_dtypes_select_the_cases_with_a_dtype_and_keep_those_without():
    """--dtypes bfloat16 on the ceiling finder: the bfloat16 matmuls, and STREAM, whose kernels are float32
    with no dtype parameter to choose."""
    from tensorbench.workloads.cases import enumerate_cases
    from tensorbench.workloads.devices import resolve

    cases = enumerate_cases("quick", resolve(["cpu"]), ["graph", "xla"], ["ceiling_finder"], ["bfloat16"])
    by_workload = {}
    for case in cases:
        by_workload.setdefault(case.workload.name, set()).add(case.params.get("dtype"))
    assert by_workload["matmul_shape"] == {"bfloat16"} and by_workload["stream_kernel"] == {None}
    every = enumerate_cases("quick", resolve(["cpu"]), ["graph", "xla"], ["ceiling_finder"])
    assert {c.params.get("dtype") for c in every if c.workload.name == "matmul_shape"} == {"bfloat16", "float32"}


class FakeClock:
    """harness's perf_counter, moved only by the steps it makes: the warm-up's rules are judged on the
    call durations a test gives, not on how a loaded VM sleeps (a steady step of 1 to 1.3 ms sleeps, which
    on this clock stops at the least warm-up time, 0.4 s of its 2 s budget, ran 1.2 s in CI on
    2026-12-03, the second xdist worker loading the same 2 cores)."""

    def __init__(self):
        self.now = 0.0
        self.calls = 0

    def perf_counter(self) -> float:
        return self.now

    def step(self, durations):
        """A step whose calls take these durations, one after another."""
        durations = iter(durations)

        def call():
            self.calls += 1
            self.now += next(durations)
        return call


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    from tensorbench.benchmarks import harness

    fake = FakeClock()
    monkeypatch.setattr(harness, "time", fake)
    return fake


def test_the_warm_up_goes_on_until_the_calls_settle(clock):
    """A step that is slow for its first ten calls is warmed past them (a count of 3 stopped in the
    slow phase, and the suite timed an elementwise add at 5.8 ms a call where a bare loop gave 1.0 ms);
    a steady one whose calls spread settles long before the budget; one that never settles is stopped
    by the profile's warm-up time."""
    import itertools
    import random

    from tensorbench.benchmarks.harness import Rounds, warm_up

    settling = clock.step(itertools.chain([0.005] * 10, itertools.repeat(0.001)))
    calls = warm_up(settling, Rounds(min_rounds=5, max_time=0.01, warmup_calls=3, warmup_time=2.0))
    assert clock.calls >= 10 + 5 and calls[-1] == pytest.approx(0.001)

    # steady but noisy, as on the development VM: the calls spread 30%, and a few are much faster than
    # the rest (a bare loop's fastest call was 0.6 to 0.8 of its median), so the last five's median was
    # seldom within 5% of the fastest and the warm-up ran to its budget
    noise = random.Random(0)
    clock.now = 0.0
    warm_up(clock.step(0.001 * (0.6 if noise.random() < 0.02 else noise.uniform(1.0, 1.3))
                       for _ in itertools.count()),
            Rounds(min_rounds=5, max_time=0.01, warmup_calls=3, warmup_time=2.0))
    assert clock.now < 1.0

    clock.now = 0.0
    warm_up(clock.step(0.001 * 1.1**i for i in itertools.count()),  # never settles
            Rounds(min_rounds=5, max_time=0.01, warmup_calls=3, warmup_time=0.05))
    assert 0.05 <= clock.now < 0.05 * 1.1 + 0.01  # stopped by the call that passed the budget


def test_a_step_too_slow_to_settle_in_the_budget_is_warmed_up_by_its_warm_up_calls_only(clock):
    """An epoch-long step (30 ms, where settled() needs 20 calls and the budget holds 8) stops after the
    profile's warm-up calls once the least warm-up time has passed, instead of running to the budget; a
    step slow in its first calls, but whose calls would fit the budget, is still warmed past them."""
    import itertools

    from tensorbench.benchmarks.harness import Rounds, warm_up

    warm_up(clock.step(itertools.repeat(0.03)), Rounds(min_rounds=5, max_time=0.05, warmup_calls=1,
                                                      warmup_time=0.25))
    assert clock.calls == 2  # 0.05 s at the least (LEAST_WARMUP_SHARE of 0.25 s): two calls

    # a step whose first calls are slow but short of that (an add of 4.6 ms, then 1 ms) settles as before
    clock.calls = 0
    warm_up(clock.step(itertools.chain([0.005] * 10, itertools.repeat(0.001))),
            Rounds(min_rounds=5, max_time=0.05, warmup_calls=1, warmup_time=0.25))
    assert clock.calls >= 10 + 5

    # a slow step still getting faster (a matmul whose first call took 25 ms, then 9 ms; smoke's
    # warm-up: no calls asked, no least time) warms up until two calls agree, so that the rounds,
    # counted from the fastest call, fill the time asked
    clock.calls = 0
    calls = warm_up(clock.step(itertools.chain([0.025, 0.015], itertools.repeat(0.009))),
                    Rounds(min_rounds=2, max_time=0.2, warmup_calls=0, warmup_time=0.0))
    assert clock.calls >= 4 and min(calls) == pytest.approx(0.009)


def test_a_call_shorter_than_a_round_is_looped_and_a_longer_one_is_a_round_by_itself(monkeypatch):
    """Rounds last the profile's min_round_s, counted from the warm-up's fastest call: a 1.5 ms call is
    looped twice a round when rounds are 2 ms, and is timed once a round when they are 1 ms; the rounds
    fill max_time, min_rounds at the least. The warm-up's fastest call is given, not slept: a sleep of
    1.5 ms took over 2 ms on a loaded 2-core VM (the lowest-versions CI run of 2026-12-02)."""
    from types import SimpleNamespace

    from tensorbench.benchmarks import harness
    from tensorbench.benchmarks.harness import Rounds, time_rounds
    from tensorbench.workloads.devices import Device

    monkeypatch.setattr(harness, "warm_up", lambda timed, rounds: [1.5e-3])

    class Benchmark:
        def __init__(self):
            self.how = None
            self.stats = SimpleNamespace(stats=SimpleNamespace(total=0.0), iterations=1)

        def __call__(self, timed):
            raise AssertionError("pytest-benchmark's own calibration is not used")

        def pedantic(self, timed, rounds, iterations):
            self.how = (rounds, iterations)

    for min_round_s, max_time, expected, timed_as in ((2e-3, 0.0, (7, 2), "looped"),
                                                      (1e-3, 0.0, (7, 1), "one call a round"),
                                                      (2e-3, 0.3, (100, 2), "looped")):  # 0.3 s of 3 ms rounds
        benchmark = Benchmark()
        spent = time_rounds(benchmark, Device("CPU", 0, "/device:CPU:0", "a CPU"), None, lambda: None,
                            Rounds(min_rounds=7, max_time=max_time, warmup_calls=3, min_round_s=min_round_s))
        assert benchmark.how == expected and spent["timed_as"] == timed_as
    from tensorbench.workloads.profiles import PROFILES
    assert PROFILES["quick"].benchmark_options()["benchmark_min_time"] == PROFILES["quick"].min_round_s == 2e-3


def test_the_suites_own_numpy_work_runs_on_one_blas_thread_and_the_numpy_step_on_numpys_own(numpy_device,
                                                                                            monkeypatch):
    """Setup, check and the compute probe run with the BLAS on one thread (a threaded OpenBLAS call leaves
    a worker spinning for some 0.1 s, into the step timed next: workloads/blas_threads.py); the NumPy
    baseline's step keeps NumPy's threads."""
    from tensorbench.benchmarks import harness
    from tensorbench.workloads import noise_probe
    from tensorbench.workloads.cases import Case
    from tensorbench.workloads.tensor_ops import MatMul
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    own = blas_threads()
    if not own or max(own) < 2:
        pytest.skip("NumPy's BLAS runs on one thread here already: nothing to tell apart")
    seen: dict[str, list[int]] = {}

    class Recording(MatMul):
        def setup(self, device, mode):
            seen["setup"] = blas_threads()
            super().setup(device, mode)

        def step(self):
            seen.setdefault("step", blas_threads())
            return super().step()

        def check(self, outputs):
            seen["check"] = blas_threads()
            return super().check(outputs)

    harness.first_call(Recording(n=8), Case(Recording, {"n": 8}, numpy_device, "eager"))
    monkeypatch.setattr(noise_probe, "_call", lambda probe: lambda: seen.setdefault("probe", blas_threads()))
    noise_probe.window(0.0)
    assert seen == {"setup": [1] * len(own), "check": [1] * len(own), "step": own, "probe": [1] * len(own)}
    assert blas_threads() == own  # and restored after
