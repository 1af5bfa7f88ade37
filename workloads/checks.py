"""Result checks shared by the workloads: relative error against a float64 reference, within what
the dtype's precision allows."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

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


def _float64_pair(actual, reference) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape:
        raise CheckFailed(f"shape {a.shape} where {r.shape} was expected")
    return a, r


def assert_close(what: str, actual, reference, dtype: str, terms: int = 1, depth: int = 1) -> str:
    """Raise CheckFailed unless `actual` matches the float64 `reference`, as a whole and element by
    element; return what was checked. `depth`: layers whose rounding compounds (a model's output)."""
    return assert_within(what, *errors(actual, reference), dtype, terms, depth)


def assert_within(what: str, err: float, worst: float, dtype: str, terms: int = 1, depth: int = 1) -> str:
    """assert_close's verdict on errors already measured (errors())."""
    tol = tolerance(dtype, terms) * math.sqrt(depth)
    if not math.isfinite(err) or err > tol:
        raise CheckFailed(f"{what}: relative error {err:.2e} exceeds {tol:.1e} for {dtype}")
    if not math.isfinite(worst) or worst > ELEMENT_FACTOR * tol:
        raise CheckFailed(f"{what}: an element is off by {worst:.2e} of the largest, over "
                          f"{ELEMENT_FACTOR * tol:.1e} for {dtype}")
    return f"{what} vs float64 reference: rel err {err:.1e} <= {tol:.1e}, worst element {worst:.1e}"


def assert_gradients_close(what: str, actual: list, reference: list, dtype: str, terms: int, depth: int = 1) -> str:
    """Each variable's gradient against its float64 reference. A gradient that is zero in exact
    arithmetic (a key bias under softmax attention) is rounding noise in both: each is measured against
    at least GRADIENT_FLOOR of the largest gradient's norm, not against its own near-zero norm. `depth`:
    layers whose rounding compounds, as in assert_close."""
    if len(actual) != len(reference):
        raise CheckFailed(f"{what}: {len(actual)} gradients where {len(reference)} were expected")
    pairs = [_float64_pair(a, r) for a, r in zip(actual, reference)]
    floor = GRADIENT_FLOOR * max(float(np.linalg.norm(r)) for _, r in pairs)
    tol = tolerance(dtype, terms) * math.sqrt(depth)
    worst = 0.0
    for index, (a, r) in enumerate(pairs):
        err = float(np.linalg.norm(a - r)) / max(float(np.linalg.norm(r)), floor)
        element = float(np.max(np.abs(a - r), initial=0.0)) / max(float(np.max(np.abs(r), initial=0.0)), floor)
        if not (math.isfinite(err) and err <= tol and element <= ELEMENT_FACTOR * tol):
            raise CheckFailed(f"{what}: gradient {index} off by {err:.2e} (worst element {element:.2e}), over "
                              f"{tol:.1e} for {dtype}")
        worst = max(worst, err)
    return f"{what} ({len(pairs)} variables) vs float64 reference: rel err <= {worst:.1e} <= {tol:.1e}"


GRADIENT_FLOOR = 1e-3


def assert_true(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def digest(*arrays) -> str:
    """A digest of the arrays' shapes and bytes (lists of arrays flattened): the key under which a check
    computed once from them is kept for a later case with the very same inputs."""
    hashed = hashlib.blake2b(digest_size=16)
    for array in arrays:
        for part in (array if isinstance(array, list) else [array]):
            part = np.ascontiguousarray(part)
            hashed.update(f"{part.dtype}{part.shape}".encode())
            hashed.update(part.tobytes())
    return hashed.hexdigest()


CHECKED_ONCE: dict[tuple, str] = {}
"""Verdicts of checks computed once in this process (checked_once), by all that each computes from."""


def checked_once(key: tuple, check: Callable[[], str], shared: str) -> str:
    """`check()`'s verdict, computed for the first case with this key and reused by later ones: for a
    check whose result depends only on what the key holds (a first step from the same weights and batch),
    not on what differs between the cases (their mode, their batch size). A wrong result raises, so it is
    never kept. `shared` says what the cases share, in the verdict of the later ones."""
    if key in CHECKED_ONCE:
        return f"{CHECKED_ONCE[key]} (computed for an earlier case: {shared})"
    CHECKED_ONCE[key] = check()
    return CHECKED_ONCE[key]
