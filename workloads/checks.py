"""Result checks shared by the workloads: relative error against a float64 reference, within what
the dtype's precision allows."""

from __future__ import annotations

import hashlib
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


ACCUMULATES_IN = {"bfloat16": "float32", "float16": "float32", "tf32": "float32"}
ELEMENT_FACTOR = 4.0
"""The largest single element's error may be this many times the tolerance, relative to the largest
reference element: the normwise error averages over elements, one element's error does not."""


def tolerance(dtype: str, terms: int = 1) -> float:
    """Allowed relative (Frobenius) error for a result whose elements each sum `terms` rounded products.

    Two parts: rounding the inputs and the output to `dtype`, one unit of its epsilon (on the
    development CPU, bfloat16 and float16 results of matmul, conv2d and multiply were off by 0.37 and 0.38
    of it at most: 2.9e-3 and 3.7e-4, results/reference/standard-cpu); and the accumulation, in float32 for the
    half types and TF32 (as oneDNN, cuBLAS and XLA accumulate them), 4 units times sqrt(terms): float32
    matmul at n=4096 was off by 4.1e-7 on the CPU, a seventieth of that, and the room is for GPU
    kernels (Winograd and FFT convolutions) that have not run here yet. So bfloat16 is held to 0.8% and
    float16 to 0.1%: a result scaled by 1.02 fails, as one with a transposed operand or a dropped block
    does; every float32 or float64 result scaled by 1.01 fails too.
    """
    accumulation = EPSILON[ACCUMULATES_IN.get(dtype, dtype)]
    return EPSILON[dtype] + 4 * accumulation * math.sqrt(max(terms, 1))


def errors(actual, reference) -> tuple[float, float]:
    """(the normwise relative error, the worst element's error): ||actual - reference|| / ||reference||
    (Frobenius) and max |actual - reference| / max |reference|, each absolute where its reference scale
    is 0. The element error catches one wrong element, which the normwise error dilutes by the square
    root of the size. In float64, a block of CHUNK elements at a time: a STREAM check compares 64 M
    elements, and whole-array float64 temporaries (half a GiB each) cost more than the sums.

    `reference`: an array, or a function of a slice of the flattened elements that returns those of
    the reference (for a reference too large to hold whole in float64)."""
    blocks = reference if callable(reference) else None
    if blocks is None and np.shape(actual) != np.shape(reference):
        raise CheckFailed(f"shape {np.shape(actual)} where {np.shape(reference)} was expected")
    a = np.asarray(actual).reshape(-1)
    if a.size == 0:
        return 0.0, 0.0
    if blocks is None:
        r = np.asarray(reference).reshape(-1)
        blocks = r.__getitem__
    squares, largest = [], []  # per block: (sum of squared differences, of squared references); max |.|
    for start in range(0, a.size, CHUNK):
        block = np.asarray(blocks(slice(start, start + CHUNK)), dtype=np.float64)
        diff = a[start:start + CHUNK].astype(np.float64)
        diff -= block
        squares.append((diff @ diff, block @ block))
        largest.append((_largest_magnitude(diff), _largest_magnitude(block)))
    (diff2, ref2), (worst, scale) = np.sum(squares, axis=0), np.max(largest, axis=0)  # NaN stays NaN
    norm, ref_norm = float(np.sqrt(diff2)), float(np.sqrt(ref2))
    return (norm / ref_norm if ref_norm > 0 else norm), float(worst / scale if scale > 0 else worst)


CHUNK = 2**16
"""Elements a block: 512 KiB in float64, inside a core's L2 (2**16 checked 64 M elements in 0.27 s on the
development VM, 2**20 in 0.36 s, 2**22 in 0.50 s)."""


def _largest_magnitude(values: np.ndarray) -> float:
    """max |values| without the temporary array np.abs would make (NaN when any value is NaN)."""
    return float(max(abs(values.max()), abs(values.min())))


ERROR_WORDS = "rel err"
"""How a verdict names its relative error (assert_within's text), which largest_error reads back."""


def largest_error(verdict: str) -> float | None:
    """The largest relative error a check's text reports (None where it reports none): the figure the
    report sets beside a row's speed."""
    import re

    found = [float(x) for x in re.findall(rf"{ERROR_WORDS} ([0-9.]+e[-+][0-9]+)", verdict or "")]
    return max(found) if found else None


MARGIN = 4.0
"""A case whose error was measured on the CPU (a model's first batch: tools/check_errors.py) is held to
this many times that error where it is larger than the rounding model's tolerance: room for another
device's kernels (other summation orders, Winograd and FFT convolutions), not for another order of
magnitude."""


def allowed(dtype: str, terms: int = 1, measured: float = 0.0) -> float:
    """The tolerance a result is held to: the rounding model's (tolerance()), or MARGIN times the error
    measured for this very case in this precision where that is larger."""
    return max(tolerance(dtype, terms), MARGIN * measured)


def assert_close(what: str, actual, reference, dtype: str, terms: int = 1, measured: float = 0.0,
                 elements: bool = True) -> str:
    """Raise CheckFailed unless `actual` matches the float64 `reference`, as a whole and (with `elements`)
    element by element; return what was checked. `measured`: the error this case showed on the CPU
    (allowed())."""
    return assert_within(what, *errors(actual, reference), dtype, terms, measured, elements)


def assert_within(what: str, err: float, worst: float, dtype: str, terms: int = 1, measured: float = 0.0,
                  elements: bool = True) -> str:
    """assert_close's verdict on errors already measured (errors())."""
    tol = allowed(dtype, terms, measured)
    if not math.isfinite(err) or err > tol:
        raise CheckFailed(f"{what}: relative error {err:.2e} exceeds {tol:.1e} for {dtype}")
    if elements and (not math.isfinite(worst) or worst > ELEMENT_FACTOR * tol):
        raise CheckFailed(f"{what}: an element is off by {worst:.2e} of the largest, over "
                          f"{ELEMENT_FACTOR * tol:.1e} for {dtype}")
    return f"{what} vs float64 reference: {ERROR_WORDS} {err:.1e} <= {tol:.1e}, worst element {worst:.1e}"


def assert_true(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def digest(*arrays) -> str:
    """A digest of the arrays' shapes and bytes (lists of arrays flattened): the key under which a float64
    reference computed from them is kept for a later case with the very same inputs."""
    hashed = hashlib.blake2b(digest_size=16)
    for array in arrays:
        for part in (array if isinstance(array, list) else [array]):
            part = np.ascontiguousarray(part)
            hashed.update(f"{part.dtype}{part.shape}".encode())
            hashed.update(part.tobytes())
    return hashed.hexdigest()
