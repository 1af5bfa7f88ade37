"""The suite end to end: `tensorbench run` and plain `pytest benchmarks/` write pytest-benchmark's JSON
with tensorbench's schema, raw rounds and machine, and pytest-benchmark's own tools read it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from tensorbench.workloads.noise_probe import PROBES, SAMPLE_KEYS
from tensorbench.workloads.record import SCHEMA_VERSION

from .conftest import REPO, run_command, tensorbench
from .test_record import undeclared

pytestmark = pytest.mark.plumbing

EXTRA_INFO_KEYS = {
    "workload", "family", "version", "section", "backend", "device", "device_kind", "device_name", "mode",
    "dtype", "params", "flops", "bytes", "items", "first_call_s", "check",
    "setup_s", "check_s", "warmup_s", "calibration_s", "timed_s",  # where each benchmark's time went
    "max_time_s", "timed_as",  # how its rounds were timed
    "label", "roles",  # what the report reads a row by, instead of its workload's name
}
MACHINE_KEYS = {
    "tensorflow", "keras", "numpy", "cpu_model", "cpu_cores", "devices", "missing_devices", "onednn_enabled",
    "tf32_enabled", "threads", "environment",
}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One `tensorbench run --profile smoke --devices cpu` (the numpy baseline comes with the CPU),
    shared by the tests below."""
    out = tmp_path_factory.mktemp("run")
    result = tensorbench("run", "--profile", "smoke", "--devices", "cpu", "--output", str(out))
    # every case's own check passed (tests/test_workloads.py leaves these cases to this run)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads((out / "benchmarks.json").read_text())


def test_every_section_every_mode_and_the_numpy_baseline_are_recorded(smoke_run):
    _, doc = smoke_run
    infos = [b["extra_info"] for b in doc["benchmarks"]]
    sections = {s for info in infos for s in info["section"].split(",")}
    assert {"3-5-1", "3-5-2", "3-5-3", "3-5-4", "3-6-1", "3-6-3", "3-6-5", "3-6-6", "3-6-7"} <= sections
    matmul_modes = {(i["device_kind"], i["mode"]) for i in infos if i["workload"] == "matmul"}
    assert matmul_modes == {("CPU", "eager"), ("CPU", "graph"), ("CPU", "xla"), ("numpy", "eager")}
    assert {i["workload"] for i in infos if i["device_kind"] == "numpy"} == {
        "fill", "random", "variable", "elementwise", "matmul", "peak_matmul", "stream"}
    ceilings = {(i["workload"], i["device_kind"], i["roles"]["ceiling"]) for i in infos if "ceiling" in i["roles"]}
    assert ceilings == {(w, kind, role) for w, role in [("peak_matmul", "compute"), ("stream", "bandwidth"),
                                                        ("matmul", "compute")] for kind in ("CPU", "numpy")}
    assert all(i["label"] == b["param"].split(f"-{i['device']}-{i['mode']}")[0] for i, b in zip(infos, doc["benchmarks"]))
    # both reference models train and infer here, each checked against its float64 twin
    reference = {(i["workload"], i["params"]["model"]) for i in infos if i["family"] == "reference_models"
                 and "vs float64 reference" in i["check"] and i["published_as"]["input"]}
    assert reference == {(w, m) for w in ("reference_train", "reference_inference") for m in ("resnet50", "bert_base")}


def test_extra_info_carries_the_schema(smoke_run):
    """Every field the run wrote is one the record declares (tests/test_record.py), the schema's version too."""
    _, doc = smoke_run
    assert not undeclared(doc) and doc["tensorbench"]["schema_version"] == SCHEMA_VERSION
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        assert EXTRA_INFO_KEYS <= set(info), bench["name"]
        assert info["first_call_s"] > 0 and info["check"]
        assert all(info[key] is None or info[key] > 0 for key in ("flops", "bytes", "items")), bench["name"]
        assert isinstance(info["params"], dict) and info["params"]["dtype"] == info["dtype"]
        assert info["mode"] in ("eager", "graph", "xla")
        assert bench["params"] == {"case_id": bench["param"]}  # readable, not an object's repr
    classifier = next(b["extra_info"] for b in doc["benchmarks"] if b["extra_info"]["workload"] == "linear_classifier")
    assert len(classifier["loss_history"]) == 40 and classifier["final_loss"] < 0.05


def test_the_run_says_where_its_time_went(smoke_run):
    """The closing line and the JSON's time_spent_s: the import, each phase summed over the benchmarks,
    the report and the rest add up to the wall-clock time; the timed rounds are what the stats hold."""
    result, document = smoke_run
    spent = document["tensorbench"]["time_spent_s"]
    parts = ["import", "setup", "first_call", "check", "warmup", "calibration", "timed", "report", "other"]
    assert set(spent) == {"total", *parts} and all(spent[p] >= 0 for p in parts)
    assert abs(sum(spent[p] for p in parts) - spent["total"]) < 0.01 + 0.001 * spent["total"]
    assert spent["import"] > 0 and spent["timed"] > 0 and spent["report"] > 0
    for bench in document["benchmarks"]:
        stats = bench["stats"]
        assert bench["extra_info"]["timed_s"] == pytest.approx(stats["total"] * stats["iterations"], rel=1e-6)
    assert f"tensorbench: {spent['total']:.0f} s in all: import" in result.stdout


def test_the_run_says_how_noisy_its_machine_was(smoke_run):
    """Two probes (NumPy's matmul, a tf.function call) timed before and after the suite and between its
    benchmarks: their drifts, spreads and samples in the JSON, and a closing line; the report says it too."""
    result, document = smoke_run
    noise = document["tensorbench"]["noise"]
    probes = {p["probe"]: p for p in noise["probes"]}
    assert sorted(probes) == sorted(PROBES.values())
    samples = document["tensorbench"]["noise_samples"]  # the first at the first benchmark
    for name, label in PROBES.items():
        probe = probes[label]
        assert probe["before"]["at"] < probe["after"]["at"] and probe["before"]["median_s"] > 0
        assert probe["drift"] == pytest.approx(probe["after"]["median_s"] / probe["before"]["median_s"] - 1)
        assert probe["spread"] >= 0 and isinstance(probe["steady"], bool)
        key = SAMPLE_KEYS[name]
        assert samples and all(s[key] > 0 and probe["before"]["at"] < s["at"] < probe["after"]["at"] for s in samples)
        assert probe["during"] is None or probe["during"]["count"] == len(samples)
    assert noise["spread"] == max(p["spread"] for p in probes.values())
    assert noise["steady"] == all(p["steady"] for p in probes.values())
    assert "tensorbench: noise: " in result.stdout
    out = Path(result.args[result.args.index("--output") + 1])
    for report in ("report.md", "report.html"):  # the reader of the report is told too
        assert "noise while it ran: " in (out / report).read_text(), report  # html escapes the apostrophe


def test_the_run_says_how_its_rounds_were_timed_and_read(smoke_run):
    """The JSON names the estimator the results read (the time of a row is that statistic of its rounds),
    the rounds rule and the run's settings for it, and how each benchmark was timed."""
    from tensorbench.scripts.results import load

    result, document = smoke_run
    timing = document["tensorbench"]["timing"]
    assert timing["estimator"] in ("min", "median", "mean") and timing["spread"] == "iqr" and timing["rule"]
    assert timing["min_rounds"] == 2 and timing["warmup_calls"] == 0  # the smoke profile's
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        assert info["timed_as"] in ("one call a round", "looped", "lockstep", "steps"), bench["name"]
        assert info["max_time_s"] >= timing["max_time_s"]  # a workload may ask for longer, never shorter
        assert (info["timed_as"] == "looped") == (bench["stats"]["iterations"] > 1), bench["name"]
    out = Path(result.args[result.args.index("--output") + 1])
    table = load([out / "benchmarks.json"]).set_index("name")
    for bench in document["benchmarks"]:
        steps = bench["extra_info"].get("steps", {})  # a step row's time is its step's (docs/timing.md)
        expected = steps["step_s"] if steps.get("figure") == "step" else bench["stats"][timing["estimator"]]
        assert table.loc[bench["name"], "median_s"] == pytest.approx(expected, rel=1e-12)


def test_the_estimators_script_compares_the_statistics_between_runs(tmp_path):
    """scripts/estimators.py: each statistic's run-to-run difference over the benchmarks two runs share;
    a single run is a usage error."""
    fixtures = REPO / "tests" / "fixtures"
    runs = [str(fixtures / "quick-cpu-aa-1.json"), str(fixtures / "quick-cpu-aa-2.json")]
    result = run_command(sys.executable, "-m", "tensorbench.scripts.estimators", *runs, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rows (" in result.stdout and "1 pairs of runs" in result.stdout
    for statistic in ("min", "q1", "median", "mean"):
        assert re.search(rf"^{statistic} +\d+\.\d% +\d+\.\d%$", result.stdout, re.MULTILINE), result.stdout
    alone = run_command(sys.executable, "-m", "tensorbench.scripts.estimators", runs[0], cwd=tmp_path)
    assert alone.returncode == 2 and "error: give two or more runs" in alone.stderr


def test_raw_rounds_and_the_machine_are_kept(smoke_run):
    _, doc = smoke_run
    for bench in doc["benchmarks"]:
        stats = bench["stats"]
        assert len(stats["data"]) == stats["rounds"] >= 2
    machine = doc["machine_info"]
    assert MACHINE_KEYS <= set(machine["tensorbench"])
    assert machine["tensorbench"]["tensorflow"]["version"]
    assert "build_info" in machine["tensorbench"]["tensorflow"]
    assert any(d["kind"] == "CPU" for d in machine["tensorbench"]["devices"])
    assert machine["cpu"]  # pytest-benchmark's own machine description is kept
    assert doc["tensorbench"]["profile"] == "smoke"


def test_run_ends_with_a_short_table_and_a_report(smoke_run):
    result, doc = smoke_run
    assert "Median time per call" in result.stdout
    out = result.args[result.args.index("--output") + 1]
    for name in ("report.html", "report.md", "summary.csv", "charts/mode_speedup.png"):
        assert (Path(out) / name).exists(), name
    assert "matmul-n8-float32" in result.stdout
    assert f"tensorbench: {len(doc['benchmarks'])} benchmarks in" in result.stdout


def test_pytest_benchmark_compare_reads_it(smoke_run, tmp_path):
    _, doc = smoke_run
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    result = run_command(sys.executable, "-m", "pytest_benchmark", "compare", str(path), "--columns=median,rounds")
    assert result.returncode == 0, result.stderr
    assert "matmul-n8-float32-cpu-xla" in result.stdout


def test_plain_pytest_works_on_its_own(tmp_path):
    """`pytest benchmarks/ --benchmark-json=...` needs no tensorbench command."""
    out = tmp_path / "out.json"
    result = run_command(
        sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider",
        "-rs", "--tensorbench-profile=smoke", "--tensorbench-only=matmul", f"--benchmark-json={out}",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "empty parameter set" not in result.stdout  # families --only leaves out are deselected
    doc = json.loads(out.read_text())
    names = {b["param"] for b in doc["benchmarks"]}
    assert "matmul-n8-float32-cpu-graph" in names and "matmul-n8-float32-numpy-eager" in names
    assert all(b["options"]["min_rounds"] == 2 for b in doc["benchmarks"])  # the profile's setting


@pytest.mark.parametrize("name", ["quick-cpu", "standard-cpu"])
def test_the_reference_run_compares_against_a_new_run(smoke_run, tmp_path, name):
    """The shipped references (quick and standard profiles) and this smoke run share their smallest cases."""
    _, doc = smoke_run
    new = tmp_path / "new.json"
    new.write_text(json.dumps(doc))
    reference = REPO / "results" / "reference" / name / "benchmarks.json"
    assert (reference.parent / "NOTE.md").exists()
    result = tensorbench("compare", str(reference), str(new))
    assert result.returncode == 0, result.stderr
    assert "matmul-n8-float32" in result.stdout and "Geometric mean" in result.stdout
