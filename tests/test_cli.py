"""The command line: a user's mistake is one line and exit status 2; an interrupted run keeps what
finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import REPO, run_command, tensorbench

pytestmark = pytest.mark.plumbing


def assert_usage_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tensorbench: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("args, fragments", [
    (["run", "--profile", "huge"], ["'huge'", "smoke", "quick", "standard", "full"]),
    (["run", "--modes", "eager,turbo"], ["'turbo'", "eager, graph, xla"]),
    (["run", "--devices", "fpga"], ["'fpga'", "cpu, gpu, tpu, numpy"]),
    (["run", "--devices", ""], ["empty device list"]),
    (["run", "--dtypes", "float8"], ["'float8'", "float32, float16, bfloat16"]),
    (["frobnicate"], ["invalid choice", "run"]),
    ([], ["COMMAND"]),
])
def test_bad_arguments_are_one_line_errors(args, fragments):
    assert_usage_error(tensorbench(*args), *fragments)


def test_a_device_that_is_not_here_lists_what_is(tmp_path):
    from tensorbench.workloads import devices

    if any(d.kind == "TPU" for d in devices.discover()):
        pytest.skip("this machine has a TPU")
    assert_usage_error(tensorbench("run", "--devices", "tpu", "--output", str(tmp_path)), "'tpu'", "available: cpu")


def in_process(capsys, monkeypatch, *args: str) -> subprocess.CompletedProcess:
    """tensorbench's main() in this process, where TensorFlow is already imported (a new process takes
    some 10 s to import it on the 2-core CI machine); the test above checks the same end to end."""
    from tensorbench.scripts.cli import main

    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))  # run() sets it
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # main() sets SIGINT's handler: not pytest's
    status = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


def test_a_pattern_that_selects_nothing_lists_what_is_valid(tmp_path, capsys, monkeypatch):
    assert_usage_error(in_process(capsys, monkeypatch, "run", "--only", "resnet", "--output", str(tmp_path)),
                       "selects no workload", "matmul", "tensor_ops", "3-5-2")


def test_an_empty_selection_is_an_error(tmp_path, capsys, monkeypatch):
    assert_usage_error(in_process(capsys, monkeypatch, "run", "--only", "gradients", "--devices", "numpy",
                                  "--output", str(tmp_path)), "nothing to run")


def test_a_dtype_the_ceiling_preset_does_not_sweep_is_an_error(tmp_path, capsys, monkeypatch):
    assert_usage_error(in_process(capsys, monkeypatch, "ceiling", "--dtypes", "float16", "--output", str(tmp_path)),
                       "--dtypes float16", "bfloat16, float32 (quick)", "float16, bfloat16, float32 (thorough)")
    assert not list(tmp_path.iterdir())


def test_an_existing_result_is_never_overwritten(tmp_path, capsys, monkeypatch):
    (tmp_path / "benchmarks.json").write_text("{}")
    assert_usage_error(in_process(capsys, monkeypatch, "run", "--only", "matmul", "--output", str(tmp_path)),
                       "exists")
    assert (tmp_path / "benchmarks.json").read_text() == "{}"


def _wait_for_benchmarks(path, process, count: int, timeout: float = 240) -> None:
    """Wait until the checkpointed JSON holds `count` finished benchmarks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be interrupted"
        try:
            if len(json.loads(path.read_text())["benchmarks"]) >= count:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise AssertionError("no benchmark finished in time")


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 130), (signal.SIGKILL, -9)])
def test_an_interrupted_run_keeps_what_finished(tmp_path, signum, status):
    json_path = tmp_path / "benchmarks.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorbench.scripts.cli", "run", "--profile", "smoke", "--devices", "cpu",
         "--only", "keras_training", "--output", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for_benchmarks(json_path, process, 2)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == status, stderr[-2000:]
    benchmarks = json.loads(json_path.read_text())["benchmarks"]
    assert len(benchmarks) >= 2
    for bench in benchmarks:  # only finished ones: every round of each is there
        assert len(bench["stats"]["data"]) == bench["stats"]["rounds"] >= 2
        assert bench["extra_info"]["check"]
    if signum != signal.SIGKILL:
        assert "Traceback" not in stderr
        assert "interrupted" in stderr


def test_ci_runs_the_readmes_test_command_in_a_fresh_venv():
    """The README's set-up is what CI proves: its second command, verbatim, in a venv .ci/run makes, where
    only torch's CPU build may come first (the torch leg; a user's README install has no torch, and its
    tests skip)."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Set-up: two commands", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    install_and_run, test = [line.split("  #")[0].strip() for line in block.strip().splitlines()]
    assert install_and_run.startswith("python3 -m venv .venv && ") and install_and_run.endswith("tensorbench run")
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert "python3 -m venv .venv" in ci and test in ci
    between = ci[ci.index("python3 -m venv .venv") + 1:ci.index(test)]
    assert all(line.startswith(("#", "links=")) or "torch" in line for line in between), between


def test_the_suite_loads_pytest_benchmark_and_no_other_installed_plugin(tmp_path):
    """A pytest plugin installed beside tensorbench (here one that marks a file when pytest configures it)
    loads in a plain pytest, and not in the run's: pytest-randomly or pytest-cov would change what is
    timed, hypothesis's plugin added seconds to every run."""
    (tmp_path / "marking_plugin.py").write_text(
        "import os\n\ndef pytest_configure(config):\n    open(os.environ['MARKED'], 'a').write('loaded\\n')\n")
    info = tmp_path / "marking_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: marking-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nmarking = marking_plugin\n")
    marked = tmp_path / "marked"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
           "MARKED": str(marked)}
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    plain = run_command(sys.executable, "-m", "pytest", "-q", str(tmp_path / "test_nothing.py"), cwd=tmp_path, env=env)
    assert plain.returncode == 0 and marked.read_text() == "loaded\n", plain.stdout[-2000:]  # the plugin works

    marked.unlink()
    result = run_command(sys.executable, "-m", "tensorbench.scripts.cli", "run", "--profile", "smoke", "--devices",
                         "cpu", "--modes", "eager", "--only", "linear_classifier", "--output", str(tmp_path / "run"),
                         cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not marked.exists()
    assert json.loads((tmp_path / "run" / "benchmarks.json").read_text())["benchmarks"]  # pytest-benchmark ran


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    result = tensorbench("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"tensorbench {version('tensorbench')}", result


def bad_paths(tmp) -> list[list[str]]:
    """Every subcommand given a path it cannot read or write."""
    run = str(REPO / "results" / "reference" / "quick-cpu" / "benchmarks.json")
    not_json = tmp / "notes.txt"
    not_json.write_text("not a run")
    return [["run", "--output", f"{not_json}/x"], ["report", str(not_json)], ["report", str(tmp / "missing.json")],
            ["report", run, "--output", "/proc/tensorbench-report"], ["compare", run, str(not_json)],
            ["compare", run, run, "--csv", str(tmp / "no" / "x.csv")], ["compare", run, run, "--chart", str(tmp)],
            ["doctor", "--json", str(tmp / "no" / "d.json")], ["doctor", "--run", str(not_json)],
            ["ceiling", "--output", str(not_json)]]


def test_every_subcommand_given_a_bad_path_says_so_in_one_line_and_makes_nothing(tmp_path):
    """A path that cannot be read or written is the user's mistake: one line, exit status 2, no traceback, and
    no file or folder made (the inputs are read before any output is)."""
    from pathlib import Path as P

    cases = bad_paths(tmp_path)
    before = sorted(P(tmp_path).rglob("*"))
    for args in cases:
        result = tensorbench(*args, cwd=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("tensorbench: error: "), (
            args, result.returncode, result.stderr[-2000:])
        assert sorted(P(tmp_path).rglob("*")) == before, args
    assert not P("/proc/tensorbench-report").exists()


def test_list_shows_the_workloads_and_the_names_only_takes():
    result = tensorbench("list", "--only", "3-5-3")
    assert result.returncode == 0 and not result.stderr, result.stderr[-2000:]
    rows = {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip() and not line.startswith("2 ")}
    assert {"gradient_tape", "weight_gradient"} <= rows
    assert "2 workloads under Keras's tensorflow backend" in result.stdout
    everything = tensorbench("list")
    assert "ceiling_finder" in everything.stdout and "when named" in everything.stdout  # a family run only when named
    wrong = tensorbench("list", "--only", "no_such_workload")
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        "tensorbench: error: --only no_such_workload selects no workload (tensorbench list shows them all)")
