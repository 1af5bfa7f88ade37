"""Every check can fail. Each workload is given its first result corrupted -- zeroed, scaled by 1.01
(float32, float64) or 1.02 (bfloat16, float16), one element moved, one element off by one -- at its smallest
(smoke) and largest quick size, and its own check must reject each: the training workloads' first epoch's
loss too (their check runs that epoch again from the same start). The training workloads also check one
step of their own compiled train function against a float64 twin; the last tests make that step wrong."""

from __future__ import annotations

import numpy as np
import pytest
from tensorbench.workloads import registry
from tensorbench.workloads.base import CheckFailed
from tensorbench.workloads.devices import device_scope
from tensorbench.workloads.keras_backend import to_numpy

CATALOGUE = registry.all_workloads()
RESULT_WORKLOADS = ["fill", "random", "elementwise", "matmul", "conv2d", "peak_matmul", "gradient_tape", "weight_gradient",
                    "linear_classifier", "dense_forward", "fit", "fit_validation", "evaluate", "predict", "train",
                    "inference", "mixed", "reference_train", "reference_inference", "variable", "stream",
                    "matmul_shape", "stream_kernel"]
"""Every workload of the catalogue but three, tried below in their own ways: transfer (a fake accelerator),
all_reduce (several replicas need processes of their own) and distributed_train (its twin and replay)."""
STATE = {"variable": "state", "stream": "x", "stream_kernel": "written"}
"""Workloads whose step updates a Variable in place: the check reads the Variable, so it is corrupted."""
SCALE = {"float64": 1.01, "float32": 1.01, "bfloat16": 1.02, "float16": 1.02}
ONLY = {"reference_train": ("scaled",)}
"""The corruptions a slow check is tried with: ResNet-50's check steps and trains again (some 40 s a
corruption on the 2-core VM), and a scaled loss is the subtlest of the four."""


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
                leaves = list(outputs.values()) if isinstance(outputs, dict) else \
                    outputs if isinstance(outputs, (list, tuple)) else [outputs]
                original = [np.asarray(to_numpy(leaf), dtype=np.float64) for leaf in leaves]
            for how in ONLY.get(name, ("zeroed", "scaled", "moved", "off by one")):
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
                    corrupted = dict(zip(outputs, (w.tolist() for w in wrong))) if isinstance(outputs, dict) else \
                        type(outputs)(wrong) if isinstance(outputs, (list, tuple)) else wrong[0]
                with pytest.raises(CheckFailed):
                    workload.check(corrupted)
                rejected.append(how)
    finally:
        workload.teardown()
    assert rejected  # every corruption that changed the result was rejected (pytest.raises above)


def _too_far(model, step, factor: float):
    """`step` on a device whose step moves the trainable weights `factor` times as far as it should."""
    def too_far(*args):
        before = [to_numpy(v).copy() for v in model.trainable_weights]
        loss = step(*args)
        for variable, start in zip(model.trainable_weights, before):
            variable.assign(start + factor * (to_numpy(variable) - start))
        return loss
    return too_far


OWN_STEP = [
    ("train", {"model": "mlp", "batch_size": 8, "samples": 16}, 1.01),
    ("train", {"model": "mlp", "batch_size": 8, "samples": 16, "loop": "custom"}, 1.01),
    ("mixed", {"model": "mlp", "batch_size": 8, "samples": 16, "policy": "mixed_float16"}, 1.5),  # float16's rounding
    # ResNet-50's float32 step is 1.5% off its twin's on the CPU (BatchNormalization over 2 samples), so 4 times that is allowed
    ("reference_train", {"model": "resnet50", "batch_size": 2, "samples": 2, "policy": "float32"}, 1.5),
]


@pytest.mark.parametrize("name, params, factor", OWN_STEP,
                         ids=["train-fit", "train-custom", "mixed-float16", "reference-resnet50"])
def test_a_wrong_train_step_fails_against_the_float64_twin(cpu, monkeypatch, name, params, factor):
    """The training checks step the case's own compiled train function from its start: a device whose step
    moved the weights 1% too far fails against the float64 twin stepped the same way (50% too far where
    the case's own rounding moves its step by a percent or more on the CPU: mixed_float16, ResNet-50)."""
    workload = CATALOGUE[name](**params)
    try:
        with device_scope(cpu):
            workload.setup(cpu, "graph")
            monkeypatch.setattr(workload, "own_step", _too_far(workload.model, workload.own_step, factor))
            with pytest.raises(CheckFailed, match="first-step update"):
                workload.check_first_step()
    finally:
        workload.teardown()


DISTRIBUTED = [("distributed_train", {"model": "mlp", "strategy": "one_device", "replicas": 1, "workers": 1,
                                      "per_replica_batch": 8, "samples": 64, "loop": loop}) for loop in ("fit", "custom")]


@pytest.mark.parametrize("name, params", DISTRIBUTED, ids=["distributed-fit", "distributed-custom"])
def test_a_wrong_distributed_step_or_epoch_fails(cpu, monkeypatch, name, params):
    """distributed_train steps a copy of the model once across the replicas (in fit and in the custom
    loop): a device that computed it with weights 1% off fails against the twin; and its first epoch's
    loss, scaled by 1.01, fails against that epoch run again."""
    workload = CATALOGUE[name](**params)
    try:
        with device_scope(cpu):
            workload.setup(cpu, "graph")
            outputs = workload.step()
            with pytest.raises(CheckFailed, match="run again"):
                workload.check(float(to_numpy(outputs)) * 1.01)
            workload.initial_weights = [w * 1.01 for w in workload.initial_weights]
            twin = workload.twin
            monkeypatch.setattr(workload, "twin", lambda weights: twin([w / 1.01 for w in weights]))
            with pytest.raises(CheckFailed, match="first-step"):
                workload.check(outputs)
    finally:
        workload.teardown()


def test_the_checks_that_need_another_device_or_processes_reject_corruption():
    """transfer needs a GPU or TPU (here a fake one, on the CPU's own memory) and all_reduce several replicas
    (processes of their own, test_distributed.py): given their result corrupted, their checks fail too."""
    from types import SimpleNamespace

    from tensorbench.workloads.devices import Device

    fake = Device("GPU", 0, "/device:CPU:0", "a fake GPU on the CPU's memory")
    transfer = CATALOGUE["transfer"](direction="to_device", size_mib=1)
    try:
        with device_scope(fake):
            transfer.setup(fake, "graph")
            copied = to_numpy(transfer.step()).astype(np.float64)
            transfer.check(copied)
            for wrong in corruptions(copied, "float32").values():
                with pytest.raises(CheckFailed):
                    transfer.check(wrong)
    finally:
        transfer.teardown()
    all_reduce = CATALOGUE["all_reduce"](size_bytes=16, strategy="mirrored", replicas=2, workers=1)
    all_reduce.strategy = SimpleNamespace(experimental_local_results=lambda outputs: outputs)
    all_reduce.replicas, all_reduce.elements = 2, 4
    summed = np.full(4, 3.0)  # 1 + 2 on each of the 2 replicas
    all_reduce.check([summed, summed])
    for wrong in corruptions(summed, "float32").values():
        if not np.array_equal(wrong, summed):
            with pytest.raises(CheckFailed):
                all_reduce.check([summed, wrong])
