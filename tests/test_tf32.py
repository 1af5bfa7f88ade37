"""The TF32 precision rule, tried on the CPU: every float32 case whose step multiplies matrices or convolves
runs under the TF32 stand-in (tests/tf32_standin.py, rounding as an Ampere-or-newer GPU's tensor cores do
with TF32 on), on a device that says it is such a GPU, and its own check must pass, held to TF32
(precision.py). Two controls keep the test honest: the stand-in changed that case's result (it rounds
where the case's arithmetic runs), and under TF32 a corrupted result still fails its check
(test_checks_can_fail.py's corruptions)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from tensorbench.benchmarks import harness
from tensorbench.workloads import precision, registry
from tensorbench.workloads.base import CheckFailed
from tensorbench.workloads.cases import Case
from tensorbench.workloads.devices import Device, device_scope
from tensorbench.workloads.keras_backend import to_numpy
from tensorbench.workloads.model_training import SHARED_MODEL

from .test_checks_can_fail import SCALE, corruptions
from .tf32_standin import tf32_standin

CATALOGUE = registry.all_workloads()
SKIPPED = {"all_reduce": "no matmul", "transfer": "no matmul"}
IN_PROCESS = {"strategy": "one_device", "replicas": 1, "workers": 1}
"""distributed_train's cases that run in this process; the others need processes of their own
(test_distributed.py) and step the same function across replicas."""
SLOW_MODELS = ("bert_base",)
"""Left out here: BERT-base's float64 twin took 30 to 60 s a case; its errors under the stand-in were
measured by tools/check_errors.py (model_training.MEASURED_ERRORS) and its checks allow them."""


def _tensor_cases() -> list[tuple[str, dict]]:
    """Each workload's smoke cases in float32 whose step runs a matmul or a convolution."""
    cases = []
    for name, cls in CATALOGUE.items():
        for params in cls.sweeps["smoke"]:
            workload = cls(**params)
            if (name not in SKIPPED and workload.dtype == "float32" and set(workload.uses) & set(precision.TENSOR_OPS)
                    and params.get("policy", "float32") == "float32" and params.get("tf32", True)
                    and params.get("model") not in SLOW_MODELS
                    and (name != "distributed_train" or IN_PROCESS.items() <= params.items())):
                cases.append((name, params))
    return cases


CASES = _tensor_cases()
IDS = [f"{name}-{'-'.join(map(str, params.values()))}" for name, params in CASES]


@pytest.fixture(scope="module")
def ampere():
    """The CPU, described as a GPU of compute capability 8.0 (TF32 tensor cores): the precision rule reads
    the device, the work runs on the CPU (its TensorFlow name)."""
    return Device("GPU", 0, "/device:CPU:0", "TF32 stand-in (the CPU)", details={"compute_capability": "8.0"})


def _mode(workload, device) -> str:
    return next(m for m in ("graph", "eager", "xla") if workload.unsupported(device, m) is None)


def test_the_rule_reads_the_device_and_the_frameworks_switch(ampere, cpu, monkeypatch):
    import tensorflow as tf

    assert precision.arithmetic(ampere, "float32", ("matmul",))[0] == "tf32"
    assert precision.arithmetic(cpu, "float32", ("matmul",))[0] == "float32"
    assert precision.arithmetic(ampere, "float32", ())[0] == "float32"  # an add is float32 anywhere
    assert precision.arithmetic(ampere, "bfloat16", ("matmul",))[0] == "bfloat16"
    volta = Device("GPU", 0, None, "V100", details={"compute_capability": "7.0"})
    assert precision.arithmetic(volta, "float32", ("matmul",))[0] == "float32"
    tpu = Device("TPU", 0, None, "TPU v5e")
    assert precision.arithmetic(tpu, "float32", ("matmul",))[0] == "bfloat16"
    monkeypatch.setattr(tf.config.experimental, "tensor_float_32_execution_enabled", lambda: False)
    assert precision.arithmetic(ampere, "float32", ("matmul",)) == (
        "float32", "TF32 off (tf.config.experimental.enable_tensor_float_32_execution)")


def test_torch_rounds_convolutions_but_not_matmuls_by_default(monkeypatch):
    """PyTorch's defaults: cuDNN's allow_tf32 on, cuBLAS's off at "highest" float32 matmul precision."""
    import sys
    from types import SimpleNamespace

    settings = SimpleNamespace(cudnn=SimpleNamespace(allow_tf32=True),
                               cuda=SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False)))
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(backends=settings,
                                                               get_float32_matmul_precision=lambda: "highest"))
    card = Device("GPU", 0, None, "H100", details={"backend": "torch", "compute_capability": "9.0"})
    assert precision.arithmetic(card, "float32", ("matmul",))[0] == "float32"
    assert precision.arithmetic(card, "float32", ("matmul", "conv"))[0] == "tf32"


def _numbers(outputs) -> list[np.ndarray]:
    """A step's outputs as float64 arrays: tensors, lists of them, dicts, and fit's History (its losses)."""
    outputs = getattr(outputs, "history", outputs)
    if isinstance(outputs, dict):
        return [a for value in outputs.values() for a in _numbers(value)]
    if isinstance(outputs, (list, tuple)) and outputs and not np.isscalar(outputs[0]):
        return [a for leaf in outputs for a in _numbers(leaf)]
    return [np.asarray(to_numpy(outputs), dtype=np.float64)]


def _first_outputs(cls, params, device, standin: bool) -> tuple[list[np.ndarray], dict]:
    """The case's first outputs (as float64 arrays) and its first_call record, with or without the stand-in."""
    workload = cls(**params)
    kept: list = []
    step = workload.step

    def keep_first():
        outputs = step()
        if not kept:
            kept.extend(_numbers(outputs))
        return outputs

    workload.step = keep_first
    SHARED_MODEL.clear()  # a model traced with or without the stand-in keeps its rounding: build afresh
    try:
        with tf32_standin() if standin else contextlib.nullcontext():
            info = harness.first_call(workload, Case(cls, params, device, _mode(workload, device)))
    finally:
        workload.teardown()
        SHARED_MODEL.clear()
    return kept, info


@pytest.mark.parametrize("name, params", CASES, ids=IDS)
def test_a_float32_case_under_tf32_passes_held_to_tf32(ampere, cpu, name, params):
    cls = CATALOGUE[name]
    rounded, info = _first_outputs(cls, params, ampere, standin=True)
    assert info["precision_rule"]["held_to"] == "tf32", info["precision_rule"]
    assert "TF32" in info["precision_rule"]["why"]
    plain = cls(**params)  # the same case without the stand-in: its first outputs only (its check runs elsewhere)
    SHARED_MODEL.clear()
    try:
        with device_scope(cpu):
            plain.setup(cpu, _mode(plain, cpu))
            outputs = _numbers(plain.step())
    finally:
        plain.teardown()
        SHARED_MODEL.clear()
    assert any(not np.array_equal(r, p) for r, p in zip(rounded, outputs)), "the stand-in changed nothing"


FUNCTION_CASES = [(name, params) for name, params in CASES
                  if name in ("matmul", "conv2d", "peak_matmul", "weight_gradient", "linear_classifier",
                              "dense_forward", "predict", "evaluate", "inference", "reference_inference")]


@pytest.mark.parametrize("name, params", FUNCTION_CASES, ids=[f"{n}-{'-'.join(map(str, p.values()))}"
                                                              for n, p in FUNCTION_CASES])
def test_under_tf32_a_corrupted_result_still_fails(ampere, name, params):
    cls = CATALOGUE[name]
    with tf32_standin():
        workload = cls(**params)
        workload.device = ampere
        try:
            with device_scope(ampere):
                workload.setup(ampere, _mode(workload, ampere))
                outputs = workload.step()
                leaves = outputs if isinstance(outputs, (list, tuple)) else [outputs]
                original = [to_numpy(leaf).astype(np.float64) for leaf in leaves]
                workload.check(outputs)
                assert workload.extra_info()["precision_rule"]["held_to"] == "tf32"
                for how in ("zeroed", "scaled"):
                    wrong = [corruptions(leaf, workload.dtype)[how] for leaf in original]
                    corrupted = type(outputs)(wrong) if isinstance(outputs, (list, tuple)) else wrong[0]
                    with pytest.raises(CheckFailed):
                        workload.check(corrupted)
        finally:
            workload.teardown()
    assert SCALE["float32"] == 1.01  # what "scaled" multiplied by


def test_doctors_correctness_checks_hold_an_ampere_card_to_tf32_and_a_cpu_to_float32(ampere, cpu):
    """doctor's checks would call a healthy A100 or H100 faulty if they held its TF32 matmuls to float32."""
    from tensorbench.scripts.doctor import correctness_checks

    with tf32_standin():
        on_ampere = correctness_checks(ampere)
        on_cpu = correctness_checks(cpu)  # the same rounded arithmetic, held to float32
    assert all(check.status == "pass" for check in on_ampere), [check.line() for check in on_ampere]
    assert "tf32" in on_ampere[0].reason
    assert [check.status for check in on_cpu][:2] == ["fail", "fail"]  # matmul and convolution
