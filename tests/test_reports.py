"""Reports and comparisons, on a real run of this project checked in under tests/fixtures/."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorbench.scripts import report, results
from tensorbench.scripts.ceilings import datasheet_peak

from .conftest import REPO, tensorbench

pytestmark = pytest.mark.plumbing

FIXTURE = Path(__file__).parent / "fixtures" / "quick-cpu-matmul-dense-train.json"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = tensorbench("report", str(FIXTURE), "--output", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_summary_csv_agrees_with_the_raw_json(written):
    document = json.loads(FIXTURE.read_text())
    summary = pd.read_csv(written / "summary.csv")
    assert {"name", "workload", "device_kind", "mode", "median_s", "throughput", "gflops"} <= set(summary.columns)
    assert len(summary) == len(document["benchmarks"])
    for bench in document["benchmarks"]:
        row = summary[summary["name"] == bench["name"]].iloc[0]
        median = bench["stats"]["median"]
        assert row["median_s"] == pytest.approx(median, rel=1e-12)
        info = bench["extra_info"]
        if info["items"]:
            assert row["throughput"] == pytest.approx(info["items"] / median)
        if info["flops"]:
            assert row["gflops"] == pytest.approx(info["flops"] / median / 1e9)
        assert row["device_kind"] == info["device_kind"] and row["mode"] == info["mode"]


def test_charts_are_real_pictures(written):
    import matplotlib.image

    pictures = sorted((written / "charts").glob("*.png"))
    names = {p.stem for p in pictures}
    assert {"speedup_over_cpu", "mode_speedup", "throughput_vs_batch", "gflops_vs_size",
            "first_call_vs_steady"} <= names
    for path in pictures:
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 500
        assert pixels.std() > 0.05, f"{path.name} is blank"


def test_the_html_report_stands_alone(written):
    page = (written / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "the page fetches something"
    sources = re.findall(r'<img[^>]+src="([^"]{0,30})', page)
    assert len(sources) == len(list((written / "charts").glob("*.png"))) and all(
        s.startswith("data:image/png;base64,") for s in sources)
    assert "not to be trusted" in page and "matmul-n1024-float32" in page
    markdown = (written / "report.md").read_text()
    assert "](charts/throughput_vs_batch.png)" in markdown and "| benchmark" in markdown


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; .ci/run installs Debian's chromium")
def test_the_html_report_renders_its_charts_in_chromium(written, tmp_path):
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
               (written / "report.html").as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False).stdout
    loaded = re.search(r'data-charts-loaded="(\d+)"', dom)
    broken = re.search(r'data-charts-broken="(\d+)"', dom)
    assert loaded and broken, dom[-2000:]
    assert int(loaded.group(1)) == len(list((written / "charts").glob("*.png"))) and int(broken.group(1)) == 0


def test_trust_flags_follow_pyperf():
    row = pd.Series({"median_s": 1e-7, "iqr_s": 5e-8, "rounds": 3})
    flags = results.trust_flags(row)
    assert "spread 50%" in flags and "3 rounds" in flags and "under 1 us" in flags
    assert results.trust_flags(pd.Series({"median_s": 1.0, "iqr_s": 0.01, "rounds": 10})) == ""


def test_ceilings_are_measured_and_from_datasheets(written):
    summary = pd.read_csv(written / "summary.csv")
    matmul = summary[summary["workload"] == "matmul"]
    # the ceiling is the best round: a median reaches it at most
    assert ((matmul["pct_of_measured"] > 0) & (matmul["pct_of_measured"] <= 100 + 1e-9)).all()
    assert summary["pct_of_datasheet"].isna().all()  # a CPU has no datasheet entry
    assert datasheet_peak("NVIDIA H100 80GB HBM3", "bfloat16") == ("NVIDIA H100 SXM datasheet bfloat16", 989400.0)
    assert datasheet_peak("NVIDIA A100-SXM4-40GB", "tf32")[0] == "NVIDIA A100 datasheet tf32"
    assert datasheet_peak("TPU v3", "bfloat16")[1] == 61500.0  # a TensorFlow TPU device is one TensorCore
    assert datasheet_peak("Tesla T4", "float32") == ("NVIDIA T4 datasheet float32", 8100.0)
    assert datasheet_peak("NVIDIA L40S", "float32") is None


def _slowed(document: dict, name_part: str, factor: float) -> dict:
    slowed = copy.deepcopy(document)
    for bench in slowed["benchmarks"]:
        if name_part in bench["name"]:
            bench["stats"]["data"] = [x * factor for x in bench["stats"]["data"]]
            bench["stats"]["median"] *= factor
    return slowed


def test_a_run_compared_with_itself_passes():
    result = tensorbench("compare", str(FIXTURE), str(FIXTURE), "--fail-above", "5")
    assert result.returncode == 0, result.stderr
    assert "slower" not in result.stdout.replace("the candidate is slower", "")
    assert "training: 1.000x" in result.stdout
    counts = result.stdout.strip().splitlines()[-1]  # the closing count of each verdict
    assert re.fullmatch(r"\d+ benchmarks compared: \d+ no change(, \d+ too noisy to tell)?", counts) or re.fullmatch(
        r"\d+ benchmarks compared: \d+ too noisy to tell(, \d+ no change)?", counts), counts


def test_a_benchmark_slowed_twofold_fails_and_is_named(tmp_path):
    candidate = tmp_path / "candidate.json"
    # the fixture's steadiest 10 ms benchmark: its interval at 5 rounds is narrow enough to call 2x
    candidate.write_text(json.dumps(_slowed(json.loads(FIXTURE.read_text()), "matmul-n1024-float32-numpy-eager", 2.0)))
    chart = tmp_path / "compare.png"
    result = tensorbench("compare", str(FIXTURE), str(candidate), "--fail-above", "50", "--csv",
                         str(tmp_path / "c.csv"), "--chart", str(chart))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "matmul-n1024-float32 numpy eager" in result.stderr and "slower by 100%" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # only the slowed one
    table = pd.read_csv(tmp_path / "c.csv")
    row = table[(table["benchmark"] == "matmul-n1024-float32") & (table["device_kind"] == "numpy")].iloc[0]
    assert row["verdict"] == "slower" and row["ratio"] == pytest.approx(2.0) and row["ci_low"] > 1
    assert chart.stat().st_size > 10_000
    assert tensorbench("compare", str(FIXTURE), str(candidate)).returncode == 0  # no --fail-above: report only


AA = [Path(__file__).parent / "fixtures" / f"quick-cpu-aa-{i}.json" for i in (1, 2)]
"""Two quick runs of the same code, one after the other, on the development VM (an A/A pair)."""


def test_two_runs_of_the_same_code_give_no_slower_verdict():
    from tensorbench.scripts.compare import compare

    for baseline, candidate in (AA, AA[::-1]):
        table, notes = compare(str(baseline), str(candidate))
        assert len(table) > 150 and not (table["verdict"] == "slower").any(), table["verdict"].value_counts()
        assert any("one run a side" in note for note in notes)


def test_a_twofold_slowdown_is_slower_with_two_runs_a_side(tmp_path):
    from tensorbench.scripts.compare import compare

    slowed = []
    for index, path in enumerate(AA):
        slowed.append(tmp_path / f"slowed-{index}.json")
        slowed[-1].write_text(json.dumps(_slowed(json.loads(path.read_text()), "matmul-n1024-float32-cpu-graph", 2.0)))
    table, notes = compare(",".join(map(str, AA)), ",".join(map(str, slowed)))
    verdicts = table.set_index(["benchmark", "device_kind", "mode"])["verdict"]
    assert verdicts[("matmul-n1024-float32", "CPU", "graph")] == "slower"
    assert (verdicts == "slower").sum() == 1 and any("several runs a side" in note for note in notes)


def test_changed_workload_versions_are_not_compared(tmp_path):
    document = json.loads(FIXTURE.read_text())
    for bench in document["benchmarks"]:
        if bench["extra_info"]["workload"] == "matmul":
            bench["extra_info"]["version"] = "2"
    candidate = tmp_path / "candidate.json"
    candidate.write_text(json.dumps(document))
    result = tensorbench("compare", str(FIXTURE), str(candidate))
    assert result.returncode == 0 and "matmul: workload version changed between the runs; not compared" in result.stdout
    assert "matmul-n1024" not in result.stdout


def test_a_plain_pytest_benchmark_file_gives_what_can_be_shown(tmp_path):
    document = json.loads(FIXTURE.read_text())
    for bench in document["benchmarks"]:
        bench["extra_info"] = {}
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(document))
    result = tensorbench("report", str(plain), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "out" / "report.html").read_text()
    assert "plain pytest-benchmark files" in page
    assert len(pd.read_csv(tmp_path / "out" / "summary.csv")) == len(document["benchmarks"])


@pytest.mark.parametrize("content, message", [
    (None, "no such file"), ("", "empty file"), ("{oops", "not JSON"), ('{"a": 1}', "not a pytest-benchmark"),
])
@pytest.mark.parametrize("command", ["report", "compare"])
def test_bad_files_are_one_line_errors(tmp_path, content, message, command):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    args = [str(path)] if command == "report" else [str(FIXTURE), str(path)]
    result = tensorbench(command, *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("tensorbench: error: ") and message in lines[0]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
BENCHMARK_LIKE = st.fixed_dictionaries({}, optional={
    "name": JSON_VALUES | st.text(max_size=10),
    "param": JSON_VALUES,
    "stats": JSON_VALUES | st.fixed_dictionaries({}, optional={
        k: JSON_VALUES | st.floats(0, 10) for k in ("median", "iqr", "mean", "stddev", "min", "rounds")}
        | {"data": st.lists(JSON_VALUES | st.floats(0, 1), max_size=5)}),
    "extra_info": JSON_VALUES | st.fixed_dictionaries({}, optional={
        k: JSON_VALUES for k in ("workload", "device", "device_kind", "mode", "dtype", "params", "items", "flops",
                                 "version", "family", "first_call_s")}),
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries({"benchmarks": st.lists(BENCHMARK_LIKE | JSON_VALUES, max_size=5)},
                          optional={"machine_info": JSON_VALUES, "tensorbench": JSON_VALUES}),
))
def test_the_loader_either_loads_or_says_why(tmp_path, document):
    """Malformed documents: a table, or a ResultsError; never another exception."""
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document))
    try:
        table = results.load([path])
    except results.ResultsError:
        return
    assert isinstance(table, pd.DataFrame)
    report.build([path])  # and the report layer copes with whatever loaded


def test_a_file_from_before_roles_loads_and_upgrades(tmp_path):
    """Rows without roles (files written before them) are read, with a note, and left out of what needs
    roles; scripts/upgrade.py gives them their workloads' roles from the catalogue."""
    from tensorbench.scripts.upgrade import upgrade

    document = json.loads(FIXTURE.read_text())
    for bench in document["benchmarks"]:
        bench["extra_info"].pop("roles")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document))
    _, figures, notes = report.build([old])
    assert any("before workloads declared their roles" in n for n in notes) and "gflops_vs_size" not in figures
    assert upgrade(old) == len(document["benchmarks"])
    _, figures, notes = report.build([old])
    assert "gflops_vs_size" in figures and not any("before workloads declared" in n for n in notes)


def test_the_size_chart_marks_untrusted_points_and_names_each_ceiling():
    """Flagged and implausible points are drawn apart, with a legend entry; each measured ceiling has its own
    dash and its name on the line. A run with no flag draws no such entry."""
    from tensorbench.scripts import charts
    from tensorbench.scripts.ceilings import with_ceilings

    table = with_ceilings(results.load([REPO / "results" / "reference" / "quick-cpu" / "benchmarks.json"]))

    def legend(table):
        figure = charts.CHARTS["gflops_vs_size"](table)
        labels = [label for ax in figure.axes for label in ax.get_legend_handles_labels()[1]]
        notes = [text.get_text() for ax in figure.axes for text in ax.texts]
        return labels, notes

    labels, notes = legend(table)
    assert charts.FLAGGED in labels and "cpu float32 ceiling" in notes and "numpy float32 ceiling" in notes
    styles = {line.get_linestyle() for ax in charts.CHARTS["gflops_vs_size"](table).axes for line in ax.lines
              if "ceiling" in line.get_label()}
    assert len(styles) >= 2
    labels, _ = legend(table.assign(trust="", implausible=""))
    assert charts.FLAGGED not in labels
