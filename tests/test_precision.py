"""Precision: every dtype's error against float64 is recorded and in its band; TF32 is a GPU-only
variant; Keras mixed-precision policies still learn; the report shows speed against error."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tensorbench.scripts import report
from tensorbench.workloads.checks import tolerance
from tensorbench.workloads.devices import device_scope
from tensorbench.workloads.model_training import MixedPrecision
from tensorbench.workloads.tensor_ops import DTYPES, Conv2D, Elementwise, MatMul

from .conftest import tensorbench

# rel_error bands per dtype, from the dtype's unit roundoff (checks.EPSILON / 2) up to its tolerance
LOWER = {"float64": 0.0, "float32": 1e-9, "bfloat16": 1e-4, "float16": 1e-5}


def checked(workload, device, mode="graph"):
    with device_scope(device):
        workload.setup(device, mode)
        verified = workload.check(workload.step())
    figures = workload.extra_info()
    workload.teardown()
    return verified, figures


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [lambda d: MatMul(n=256, dtype=d),
                                  lambda d: Conv2D(batch=2, size=16, channels=32, dtype=d),
                                  lambda d: Elementwise(op="multiply", n=64, dtype=d)],
                         ids=["matmul", "conv2d", "multiply"])
def test_each_dtype_records_its_error_in_its_band(cpu, make, dtype):
    workload = make(dtype)
    terms = workload.terms()
    verified, figures = checked(workload, cpu)
    assert LOWER[dtype] <= figures["rel_error"] <= tolerance(dtype, terms), figures["rel_error"]
    assert dtype in verified


def test_lower_precision_has_larger_error(cpu):
    errors = {d: checked(MatMul(n=256, dtype=d), cpu)[1]["rel_error"] for d in DTYPES}
    assert errors["float64"] < errors["float32"] < errors["float16"] < errors["bfloat16"]


def test_tf32_variants_are_gpu_only(cpu):
    reason = MatMul(n=64, tf32=False).unsupported(cpu, "graph")
    assert reason and "TF32" in reason
    assert MatMul(n=64, tf32=False).params["tf32"] is False and "tf32" not in MatMul(n=64).params


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_still_learns(cpu, policy):
    import keras

    verified, figures = checked(MixedPrecision(model="mlp", batch_size=16, samples=64, policy=policy), cpu)
    assert "fell" in verified and figures["policy"] == policy
    assert figures["loss_scaling"] == (policy == "mixed_float16")  # Keras scales float16 losses by itself
    assert keras.mixed_precision.global_policy().name == "float32"  # and the global policy is restored


def test_standard_profile_covers_every_dtype_and_policy():
    assert {p.get("dtype", "float32") for p in MatMul.sweeps["standard"]} == set(DTYPES)
    assert {p.get("dtype", "float32") for p in Conv2D.sweeps["standard"]} == set(DTYPES)
    assert {p.get("dtype", "float32") for p in Elementwise.sweeps["standard"]} == set(DTYPES)
    policies = {(p["model"], p["policy"]) for p in MixedPrecision.sweeps["standard"]}
    assert {m for m, _ in policies} == {"mlp", "cnn28", "transformer"}
    assert {p for _, p in policies} == {"float32", "mixed_float16", "mixed_bfloat16"}


def test_only_matmul_mixed_selects_the_precision_benchmarks():
    from tensorbench.workloads import registry

    assert set(registry.select(["matmul", "mixed"])) == {"matmul", "mixed"}


def test_report_shows_speed_against_error(tmp_path):
    out = tmp_path / "run"
    result = tensorbench("run", "--profile", "smoke", "--only", "matmul,mixed", "--devices", "cpu",
                         "--output", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    infos = [b["extra_info"] for b in json.loads((out / "benchmarks.json").read_text())["benchmarks"]]
    assert {i["dtype"] for i in infos if i["workload"] == "matmul"} == set(DTYPES)
    assert all(i["rel_error"] is not None for i in infos if i["workload"] == "matmul")
    assert {i["params"]["policy"] for i in infos if i["workload"] == "mixed"} == {"mixed_float16", "mixed_bfloat16"}
    assert (out / "charts" / "speed_vs_error.png").stat().st_size > 10_000
    precision = report.precision_table(report.build([out / "benchmarks.json"])[0])
    assert set(precision["precision"]) >= set(DTYPES) | {"mixed_float16", "mixed_bfloat16"}
    assert "What each precision buys" in (out / "report.html").read_text()
    assert isinstance(precision, pd.DataFrame)
