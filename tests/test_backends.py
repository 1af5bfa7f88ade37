"""Keras backends: the Keras workloads run under TensorFlow and JAX (each in its own process) and land
in one JSON with extra_info["backend"]; they import and run where TensorFlow is absent; a backend that is
not installed is skipped with its reason; TensorFlow-only workloads say so; the report sets them side by side."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from tensorbench.scripts import backend_comparison as backend_report
from tensorbench.scripts import results
from tensorbench.scripts.run import choose_backends
from tensorbench.workloads import registry
from tensorbench.workloads.base import KERAS_BACKENDS

from .conftest import REPO, run_command, tensorbench

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")


def test_tensorflow_only_workloads_are_tagged_and_keras_ones_run_anywhere():
    catalogue = registry.all_workloads()  # this process's backend is TensorFlow: every workload
    for cls in catalogue.values():
        module = cls.__module__.rsplit(".", 1)[-1]
        assert cls.backends == registry.CATALOGUE_MODULES[module], cls.name
    assert {n for n, c in catalogue.items() if c.backends == KERAS_BACKENDS} == {
        "dense_forward", "fit", "fit_validation", "evaluate", "predict", "train", "inference", "mixed",
        "reference_train", "reference_inference"}
    assert catalogue["matmul"].backends == ("tensorflow",)


def test_a_backend_that_is_not_installed_is_skipped_with_its_reason(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    installed, skipped = choose_backends(["tensorflow", "torch"])
    assert installed == ["tensorflow"]
    assert skipped == ["tensorbench: backend torch skipped: torch is not installed (pip install 'tensorbench[torch]')"]


@needs_jax
def test_fit_runs_under_tensorflow_and_jax_in_one_json(tmp_path):
    out = tmp_path / "run"
    result = tensorbench("run", "--profile", "smoke", "--backends", "tensorflow,jax", "--only", "fit,dense_forward",
                         "--devices", "cpu", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    doc = json.loads((out / "benchmarks.json").read_text())
    ran = {(b["extra_info"]["workload"], b["extra_info"]["backend"], b["extra_info"]["mode"]) for b in doc["benchmarks"]}
    assert {("fit", "tensorflow", m) for m in ("eager", "graph", "xla")} <= ran
    assert {("fit", "jax", m) for m in ("eager", "xla")} <= ran
    assert ("dense_forward", "jax", "xla") in ran
    assert "Keras on jax has no graph mode" in result.stdout  # a skip, with why
    assert "cpu xla jax" in result.stdout  # the closing table has a column per backend
    assert doc["tensorbench"]["machine_info_by_backend"]["jax"]["keras"]["backend"] == "jax"
    table = backend_report.comparison_table(results.load([out / "benchmarks.json"]))
    assert "jax vs tensorflow" in table.columns and len(table) >= 3
    # each backend's compiled mode beside the others' (TensorFlow's graph, JAX's xla), with first calls and errors
    compiled = table[table["mode"] == "compiled"]
    assert set(compiled["benchmark"]) >= {"fit-batch_size128-float32"}, table
    assert {"first call, jax", "check's error, tensorflow"} <= set(table.columns)
    assert "Keras backends side by side" in (out / "report.md").read_text()


def run_without_tensorflow(tmp_path, only: str, backend: str = "jax") -> tuple[subprocess.CompletedProcess, dict]:
    """The smoke profile's cases of `only` under `backend`, in a process where TensorFlow is not installed (as
    on the GPU hosts): its pytest run and its JSON."""
    out = tmp_path / f"{backend}.json"
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = run_command(sys.executable, "-c", REFUSE_TENSORFLOW, str(REPO / "benchmarks"), "-q", "-rs", "-p",
                         "no:cacheprovider", "--tensorbench-profile=smoke", f"--tensorbench-only={only}",
                         "--tensorbench-devices=cpu", f"--benchmark-json={out}", cwd=REPO, env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "tensorbench imported tensorflow" not in result.stdout, result.stdout[-4000:]
    return result, json.loads(out.read_text())


REFUSE_TENSORFLOW = """
import sys, traceback
from importlib.machinery import PathFinder
class Hidden(PathFinder):  # TensorFlow as if not installed; an import of it from tensorbench's code is reported
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] != "tensorflow":
            return None
        importer = [f for f in traceback.extract_stack() if "importlib" not in f.filename][-2].filename
        if "/keras/" not in importer and "/torch/" not in importer:  # Keras and torch only probe for it
            print("tensorbench imported tensorflow:", "".join(traceback.format_stack()))
            sys.exitcode_override = 3
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hidden)
import importlib.util
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] == "tensorflow" else real_find_spec(name, *a)
if sys.argv[1] == "tensorbench":  # a command, else pytest
    from tensorbench.scripts.cli import main
    status = main(sys.argv[2:])
else:
    import pytest
    status = pytest.main(sys.argv[1:])
sys.exit(getattr(sys, "exitcode_override", status))
"""
"""A process as the GPU hosts have it, without TensorFlow, that fails when tensorbench's own code tries to
import TensorFlow (Keras's set_random_seed and torch's dynamo probe for it, and are let be)."""


@needs_jax
def test_the_keras_workloads_run_with_jax_and_no_tensorflow(tmp_path):
    _, doc = run_without_tensorflow(tmp_path, "keras_layers,keras_training,ceilings")
    assert {b["extra_info"]["backend"] for b in doc["benchmarks"]} == {"jax"}
    assert {b["extra_info"]["workload"] for b in doc["benchmarks"]} == {
        "dense_forward", "fit", "fit_validation", "evaluate", "predict", "peak_matmul", "stream"}
    ceilings = {b["extra_info"]["workload"]: b["extra_info"] for b in doc["benchmarks"] if b["extra_info"]["roles"].get("ceiling")}
    assert {info["mode"] for info in ceilings.values()} == {"xla"}  # JAX's compiled mode, where TensorFlow's is graph
    assert ceilings["stream"]["bytes"] == 3 * 4096 * 4 and "x += y" in ceilings["stream"]["check"]
    tb = doc["machine_info"]["tensorbench"]
    assert "tensorflow" not in tb and tb["keras"]["backend"] == "jax" and "jax" in tb


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_fit_runs_under_torch_as_the_only_backend(tmp_path):
    """The first backend listed runs in run's own process: here PyTorch, with no TensorFlow workload."""
    out = tmp_path / "run"
    result = tensorbench("run", "--profile", "smoke", "--backends", "torch", "--only", "fit", "--devices", "cpu",
                         "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    doc = json.loads((out / "benchmarks.json").read_text())
    assert {(b["extra_info"]["backend"], b["extra_info"]["mode"]) for b in doc["benchmarks"]} == {("torch", "eager")}
    assert doc["machine_info"]["tensorbench"]["torch"]["version"]


def installed(backend: str):
    """`backend` as a test parameter, skipped with the reason where it is not installed."""
    return pytest.param(backend, marks=pytest.mark.skipif(importlib.util.find_spec(backend) is None,
                                                          reason=f"{backend} is not installed"))


@pytest.mark.parametrize("backend", [installed("jax"), installed("torch")])
def test_the_training_family_runs_without_tensorflow(tmp_path, backend):
    """fit, evaluate and predict of every layer family, fed by a PyDataset of batches on the device, each
    checked against its float64 twin (JAX computing float64 inside the check: keras_backend.float64_arithmetic),
    in the backend's compiled mode (JAX's XLA; PyTorch's eager, Keras having no other there); the custom loop,
    TensorFlow's GradientTape, is a skip that says why."""
    result, doc = run_without_tensorflow(tmp_path, "training", backend)
    rows = [b["extra_info"] for b in doc["benchmarks"]]
    assert {r["workload"] for r in rows} == {"train", "inference", "mixed"}
    assert {r["params"]["model"] for r in rows} >= {"mlp", "cnn28", "lstm", "transformer"}
    mode = {"jax": "xla", "torch": "eager"}[backend]
    assert all(r["backend"] == backend and r["mode"] == mode and r["steps"]["figure"] == "step" for r in rows)
    assert all("PyDataset" in r["input_pipeline"] for r in rows)
    assert all("first-step update" in r["check"] for r in rows if r["workload"] == "train")
    assert "custom loop is section 3-5-4's GradientTape step" in result.stdout


@pytest.mark.parametrize("backend", [installed("jax"), installed("torch")])
def test_doctor_and_ceiling_run_without_tensorflow(tmp_path, backend):
    """doctor's checks and speed lines, and the ceiling command, with Keras's JAX or PyTorch workloads where
    TensorFlow is not installed; without a backend named, the error says which to name."""
    def command(*args: str) -> subprocess.CompletedProcess:
        return run_command(sys.executable, "-c", REFUSE_TENSORFLOW, "tensorbench", *args, cwd=tmp_path,
                           env={**{k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"},
                                "KERAS_HOME": str(tmp_path / "keras")})  # no keras.json naming a backend

    result = command("doctor", "--backend", backend, "--json", str(tmp_path / "doctor.json"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert "tensorbench imported tensorflow" not in result.stdout
    checks = {c["name"]: c for c in json.loads((tmp_path / "doctor.json").read_text())["checks"]}
    assert {"matmul correct on cpu", "CNN training step correct on cpu", "matmul float32 on cpu",
            "memory bandwidth on cpu"} <= set(checks), sorted(checks)
    assert all(checks[name]["status"] == "pass" for name in checks if "correct" in name)
    assert "first-step update" in checks["CNN training step correct on cpu"]["reason"]
    assert f"({backend} backend)" in checks["versions"]["reason"]

    out = tmp_path / "ceiling"
    result = command("ceiling", "--backend", backend, "--dtypes", "float32", "--devices", "cpu", "--output", str(out))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    found = result.stdout.split("The ceilings found")[1]
    assert "compute, float32" in found and "bandwidth, beyond the cache" in found
    rows = json.loads((out / "benchmarks.json").read_text())["benchmarks"]
    assert {(b["extra_info"]["workload"], b["extra_info"]["backend"]) for b in rows} == {
        ("peak_matmul", backend), ("stream", backend)}

    result = command("doctor")  # Keras's default backend, TensorFlow, is not installed in this process
    assert result.returncode == 2 and result.stderr.strip() == (
        "tensorbench: error: Keras's backend is tensorflow, which is not installed here: choose one that is "
        "(--backend jax or --backend torch, or KERAS_BACKEND)"), result.stderr[-2000:]
