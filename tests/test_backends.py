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


def run_without_tensorflow(tmp_path, only: str) -> tuple[subprocess.CompletedProcess, dict]:
    """The smoke profile's cases of `only` under JAX, in a process where importing TensorFlow fails (as on
    the GPU hosts, which have no TensorFlow): its pytest run and its JSON."""
    out = tmp_path / "jax.json"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = run_command(sys.executable, "-c", REFUSE_TENSORFLOW, str(REPO / "benchmarks"), "-q", "-rs", "-p",
                         "no:cacheprovider", "--tensorbench-profile=smoke", f"--tensorbench-only={only}",
                         "--tensorbench-devices=cpu", f"--benchmark-json={out}", cwd=REPO, env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "tensorbench imported tensorflow" not in result.stdout, result.stdout[-4000:]
    return result, json.loads(out.read_text())


REFUSE_TENSORFLOW = """
import sys, traceback
class Refuse:  # every import of TensorFlow fails, and one from tensorbench's code is reported
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            stack = "".join(traceback.format_stack())
            if "/keras/src/utils/module_utils.py" not in stack:  # Keras seeds TensorFlow where it can
                print("tensorbench imported tensorflow:", stack)
                sys.exitcode_override = 3
            raise ImportError("no TensorFlow here")
sys.meta_path.insert(0, Refuse())
import pytest
status = pytest.main(sys.argv[1:])
sys.exit(getattr(sys, "exitcode_override", status))
"""
"""A process as the GPU hosts have it, without TensorFlow, that fails when tensorbench's own code tries to
import TensorFlow (Keras's set_random_seed tries, to seed it where it is installed, and is let be)."""


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


@needs_jax
def test_the_training_family_runs_with_jax_and_no_tensorflow(tmp_path):
    """fit, evaluate and predict of every layer family, fed by a PyDataset of batches on the device, each
    checked against its float64 twin (JAX computing float64 inside the check: keras_backend.float64_arithmetic);
    the custom loop, TensorFlow's GradientTape, is a skip that says why."""
    result, doc = run_without_tensorflow(tmp_path, "training")
    rows = [b["extra_info"] for b in doc["benchmarks"]]
    assert {r["workload"] for r in rows} == {"train", "inference", "mixed"}
    assert {r["params"]["model"] for r in rows} >= {"mlp", "cnn28", "lstm", "transformer"}
    assert all(r["backend"] == "jax" and r["mode"] == "xla" and r["steps"]["figure"] == "step" for r in rows)
    assert all("PyDataset" in r["input_pipeline"] for r in rows)
    assert "custom loop is section 3-5-4's GradientTape step" in result.stdout
