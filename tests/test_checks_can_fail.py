"""Every check can fail. Each workload whose check reads its result is given that result corrupted -- zeroed,
scaled by 1.01 (float32, float64) or 1.02 (bfloat16, float16), one element moved, one element off by one --
at its smallest (smoke) and largest quick size, and its own check must reject each. (The training family's
checks recompute the first batch on the device against a float64 twin, and so do the distributed training
steps; the last tests corrupt that.)"""

from __future__ import annotations

import numpy as np
import pytest
from tensorbench.workloads import registry
from tensorbench.workloads.base import CheckFailed
from tensorbench.workloads.devices import device_scope
from tensorbench.workloads.keras_backend import to_numpy

CATALOGUE = registry.all_workloads()
RESULT_WORKLOADS = ["fill", "elementwise", "matmul", "conv2d", "peak_matmul", "gradient_tape", "weight_gradient",
                    "linear_classifier", "dense_forward", "evaluate", "predict", "inference", "variable", "stream",
                    "matmul_shape", "stream_kernel", "reference_inference"]
STATE = {"variable": "state", "stream": "x", "stream_kernel": "written"}
"""Workloads whose step updates a Variable in place: the check reads the Variable, so it is corrupted."""
SCALE = {"float64": 1.01, "float32": 1.01, "bfloat16": 1.02, "float16": 1.02}


def _sizes(cls) -> list[dict]:
    """The smoke profile's first case and the quick profile's last (the smoke one where quick has none:
    the reference models' BERT case took 32 s and checks as ResNet-50's does); stream's quick case (two
    128 MiB arrays, checked four times in float64) alone took 13 s, and checks the same code as its smoke
    case."""
    smallest, largest = cls.sweeps["smoke"][0], (cls.sweeps["quick"] or cls.sweeps["smoke"][:1])[-1]
    return [smallest] if largest == smallest or cls.name in ("stream", "stream_kernel") else [smallest, largest]


CASES = [(name, params) for name in RESULT_WORKLOADS for params in _sizes(CATALOGUE[name])]


def corruptions(values: np.ndarray, dtype: str) -> dict[str, np.ndarray]:
    moved = values.copy().ravel()
    if moved.size > 1:
        high, low = int(np.argmax(np.abs(moved))), int(np.argmin(np.abs(moved)))
        moved[high], moved[low] = moved[low], moved[high]
    off_by_one = values.copy().ravel()
    off_by_one[0] += 1.0
    return {"zeroed": np.zeros_like(values), "scaled": values * SCALE.get(dtype, 1.01),
            "moved": moved.reshape(values.shape), "off by one": off_by_one.reshape(values.shape)}


@pytest.mark.parametrize("name, params", CASES, ids=[f"{n}-{'-'.join(map(str, p.values()))}" for n, p in CASES])
def test_a_corrupted_result_fails_its_check(cpu, name, params):
    cls = CATALOGUE[name]
    workload = cls(**params)
    mode = next(m for m in ("graph", "eager", "xla") if workload.unsupported(cpu, m) is None)
    in_place = name in STATE and params.get("op") != "create"  # creation returns the new Variable
    rejected = []
    try:
        with device_scope(cpu):
            workload.setup(cpu, mode)
            outputs = workload.step()
            if in_place:
                variable = getattr(workload, STATE[name])
                original = to_numpy(variable).astype(np.float64)
            else:
                leaves = outputs if isinstance(outputs, (list, tuple)) else [outputs]
                original = [to_numpy(leaf).astype(np.float64) for leaf in leaves]
            for how in ("zeroed", "scaled", "moved", "off by one"):
                if in_place:
                    wrong = corruptions(original, workload.dtype)[how]
                    if np.array_equal(wrong, original):
                        continue
                    variable.assign(wrong.astype(variable.dtype.as_numpy_dtype))
                    corrupted = outputs
                else:
                    wrong = [corruptions(leaf, workload.dtype)[how] for leaf in original]
                    if all(np.array_equal(w, o) for w, o in zip(wrong, original)):
                        continue  # moving an element of a constant, or zeroing zeros, changes nothing
                    corrupted = type(outputs)(wrong) if isinstance(outputs, (list, tuple)) else wrong[0]
                with pytest.raises(CheckFailed):
                    workload.check(corrupted)
                rejected.append(how)
    finally:
        workload.teardown()
    assert rejected  # every corruption that changed the result was rejected (pytest.raises above)


TWIN_CHECKED = [
    ("train", {"model": "mlp", "batch_size": 8, "samples": 16}, "first batch"),
    *[("distributed_train", {"model": "mlp", "strategy": "one_device", "replicas": 1, "workers": 1,
                             "per_replica_batch": 8, "samples": 64, "loop": loop}, "first-step")
      for loop in ("fit", "custom")],
    # outputs and loss only (its gradients are not checked): BatchNormalization undoes a scaled kernel, the
    # scaled classifier and normalisation weights still move the outputs (by 3.2e-2 here, 100 times the tolerance)
    ("reference_train", {"model": "resnet50", "batch_size": 2, "samples": 2, "policy": "float32"}, "first batch"),
]


@pytest.mark.parametrize("name, params, match", TWIN_CHECKED,
                         ids=["train", "distributed-fit", "distributed-custom", "reference-resnet50"])
def test_a_wrong_first_step_fails_against_the_float64_twin(cpu, monkeypatch, name, params, match):
    """The training family's check computes the first batch on the device at the initial weights, and
    distributed_train's steps a copy of the model once across the replicas (in fit and in the custom
    loop); a device that computed either with weights 1% off fails against the twin."""
    workload = CATALOGUE[name](**params)
    try:
        with device_scope(cpu):
            workload.setup(cpu, "graph")
            outputs = workload.step()
            workload.initial_weights = [w * 1.01 for w in workload.initial_weights]
            twin = workload.twin
            monkeypatch.setattr(workload, "twin", lambda weights: twin([w / 1.01 for w in weights]))
            with pytest.raises(CheckFailed, match=match):
                workload.check(outputs)
    finally:
        workload.teardown()
