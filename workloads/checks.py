"""Result checks shared by the workloads: relative error against a float64 reference, within what
the dtype's precision allows."""

from __future__ import annotations

import math

import numpy as np

from .base import CheckFailed

EPSILON = {
    "float64": 2.0**-52,
    "float32": 2.0**-23,
    "tf32": 2.0**-10,  # float32 matmul/conv on NVIDIA tensor cores when TF32 is on
    "float16": 2.0**-10,
    "bfloat16": 2.0**-7,
}


ACCUMULATES_IN = {"bfloat16": "float32", "float16": "float32"}


def tolerance(dtype: str, terms: int = 1) -> float:
    """Allowed relative error for a result whose elements each sum `terms` rounded products.

    Two parts: rounding the inputs and the output to `dtype` (a few units of its epsilon), and the
    accumulation, whose error grows like sqrt(terms) for random data, in float32 for the half types
    (as oneDNN, cuBLAS and XLA accumulate them). 8 units of each is a loose bound that a correct kernel
    meets and a wrong one (a transposed operand, a dropped block) does not.
    """
    accumulation = EPSILON[ACCUMULATES_IN.get(dtype, dtype)]
    return 8 * (EPSILON[dtype] + accumulation * math.sqrt(max(terms, 1)))


def relative_error(actual, reference) -> float:
    """||actual - reference|| / ||reference|| in float64 (Frobenius norm); absolute when reference is 0."""
    a = np.asarray(actual, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape:
        raise CheckFailed(f"shape {a.shape} where {r.shape} was expected")
    scale = np.linalg.norm(r)
    diff = np.linalg.norm(a - r)
    return float(diff / scale if scale > 0 else diff)


def assert_close(what: str, actual, reference, dtype: str, terms: int = 1) -> str:
    """Raise CheckFailed unless `actual` matches the float64 `reference`; return what was checked."""
    err = relative_error(actual, reference)
    tol = tolerance(dtype, terms)
    if not math.isfinite(err) or err > tol:
        raise CheckFailed(f"{what}: relative error {err:.2e} exceeds {tol:.1e} for {dtype}")
    return f"{what} vs float64 reference: rel err {err:.1e} <= {tol:.1e}"


def assert_true(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)
