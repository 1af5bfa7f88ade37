"""`tensorbench doctor`: a verdict with a reason on each line, the common faults spotted, every check in
its JSON."""

from __future__ import annotations

import json

import pytest
from tensorbench.scripts import doctor
from tensorbench.workloads import devices

from .conftest import tensorbench

HAS_GPU = any(d.kind == "GPU" for d in devices.discover())


@pytest.fixture(scope="module")
def cpu_doctor(tmp_path_factory):
    path = tmp_path_factory.mktemp("doctor") / "doctor.json"
    result = tensorbench("doctor", "--json", str(path))
    return result, json.loads(path.read_text())


def test_doctor_passes_on_this_machine_and_its_json_holds_every_check(cpu_doctor):
    result, document = cpu_doctor
    assert result.returncode == 0, result.stdout + result.stderr
    assert document["verdict"] in ("pass", "warn")
    printed = [line for line in result.stdout.splitlines() if line[:5].strip() in ("PASS", "INFO", "WARN", "FAIL")]
    assert len(printed) == len(document["checks"])
    names = {c["name"] for c in document["checks"]}
    assert {"versions", "build", "settings", "devices", "matmul correct on cpu", "convolution correct on cpu",
            "gradient correct on cpu", "training step correct on cpu", "matmul float32 on cpu",
            "memory bandwidth on cpu"} <= names
    matmul = next(c for c in document["checks"] if c["name"] == "matmul float32 on cpu")
    assert matmul["figures"]["gflops"] > 0 and matmul["figures"]["n"] in (1024, 2048)  # the best of a short sweep
    assert matmul["figures"]["derived_peak_gflops"] > 0 and "derived from cores, clock and vectors" in matmul["reason"]
    assert all(c["reason"] for c in document["checks"])
    assert document["environment"]["tensorflow"]["version"]
    assert "Traceback" not in result.stderr and result.stdout.rstrip().splitlines()[-1].startswith("verdict:")


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_require_gpu_fails_with_a_clear_line(monkeypatch, capsys):
    """Through the command line, in this process, with the environment checks only: the speed checks are
    the test above's, and a second doctor process cost 17 s."""
    from tensorbench.scripts import cli

    monkeypatch.setattr(doctor, "diagnose", doctor.environment_checks)
    assert cli.main(["doctor", "--require-gpu"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL  gpu required: --require-gpu, but no GPU visible to TensorFlow" in printed
    assert printed.rstrip().splitlines()[-1].startswith("verdict: FAIL")


def test_a_wrong_result_fails_the_machine(cpu, monkeypatch):
    import tensorflow as tf
    from tensorbench.workloads.tensor_ops import MatMul

    monkeypatch.setattr(MatMul, "compute_tf", lambda self, a, b: tf.matmul(a, b, transpose_a=True))
    checks = doctor.correctness_checks(cpu)
    failed = [c for c in checks if c.status == "fail"]
    assert [c.name for c in failed] == ["matmul correct on cpu"] and "relative error" in failed[0].reason
    assert doctor.verdict(checks) == "fail"


def test_a_gpu_the_driver_sees_but_tensorflow_does_not_is_a_fault(monkeypatch):
    monkeypatch.setattr(devices, "nvidia_smi_gpus", lambda: [{"name": "NVIDIA L4", "memory_bytes": 24 * 2**30,
                                                               "driver": "550.54"}])
    monkeypatch.setattr(devices, "missing", lambda: {"gpu": "nvidia-smi sees NVIDIA L4 but this TensorFlow was built "
                                                            "without CUDA: pip install 'tensorbench[gpu]'"})
    checks = doctor.environment_checks(require_gpu=False)
    fault = next(c for c in checks if c.name == "gpu not usable")
    assert fault.status == "fail" and "built without CUDA" in fault.reason
    assert any(c.name == "driver" and "550.54" in c.reason for c in checks)


def test_the_verdict_is_the_worst_line():
    make = doctor.Check
    assert doctor.verdict([make("a", "pass", "x"), make("b", "info", "y")]) == "pass"
    assert doctor.verdict([make("a", "pass", "x"), make("b", "warn", "y")]) == "warn"
    assert doctor.verdict([make("a", "warn", "x"), make("b", "fail", "y")]) == "fail"
