"""Section 3-5-1: constant tensors and Variables (listings 3.1 to 3.8), with NumPy's equivalents
(listing 3.3's in-place item assignment among them) on the numpy baseline."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import tensorflow as tf

from .base import Workload
from .checks import assert_close, assert_true
from .function import FunctionWorkload
from .keras_backend import to_numpy
from .profiles import grid, sweep
from .registry import register
from .tf_execution import compile_for_mode, on_device

SHAPES = {
    "smoke": [(2, 1)],
    "quick": [(2, 1), (1024, 1024)],
    "standard": [(2, 1), (64, 64), (1024, 1024), (4096, 4096)],
    "full": [(2, 1), (64, 64), (1024, 1024), (4096, 4096), (16384, 16384)],
}


class _ShapedOutput(FunctionWorkload):
    """A tensor of a given shape made from nothing: bytes are the output's size."""

    family = "tensors"
    section = "3-5-1"
    numpy_baseline = True

    def __init__(self, shape: tuple[int, ...], dtype: str = "float32", **params):
        super().__init__(shape=tuple(shape), dtype=dtype, **params)
        self.shape = tuple(shape)

    def bytes(self):
        return float(math.prod(self.shape) * self.itemsize)


@register
class Fill(_ShapedOutput):
    """A tensor of a shape filled with ones or zeros (listing 3.1's tf.ones / tf.zeros).

    Timed as `tf.fill(shape, value)`, which is what tf.ones and tf.zeros run from 1000 elements on
    (below, they make a constant), with the value an input made on the device: a tf.function of
    tf.ones(shape) has no input, so the graph folds it to a constant and returns the same cached tensor
    at every call (on the development CPU, 0.16 ms for 64 MiB, "423 GB/s"). The numpy baseline is np.full for the same reason: np.zeros maps lazily
    zeroed pages and writes nothing (13 us for 64 MiB).
    """

    name = "fill"
    version = "2"
    sweeps = sweep(**{scale: grid(op=["ones", "zeros"], shape=shapes) for scale, shapes in SHAPES.items()})
    VALUES: ClassVar = {"ones": 1.0, "zeros": 0.0}

    def __init__(self, op: str, shape: tuple[int, ...], dtype: str = "float32"):
        super().__init__(shape, dtype, op=op)
        self.value = self.VALUES[op]

    def make_inputs(self, rng):
        return (np.array(self.value),)

    def compute_tf(self, value):
        return tf.fill(self.shape, value)

    def compute_np(self, value):
        return np.full(self.shape, value, dtype=self.dtype)

    def reference(self, value):
        return np.full(self.shape, self.value)


@register
class RandomTensor(_ShapedOutput):
    """tf.random.normal(mean 0, stddev 1) / tf.random.uniform([0, 1)) of a shape (listing 3.2).

    The numpy baseline uses a seeded np.random.Generator in the same dtype, the modern form of the
    chapter's np.random.normal / np.random.uniform (which return float64).

    Seeded (tf.random.set_seed in setup, an op seed in the op), so that the check can draw the first
    output again by another path and compare it exactly: a first output corrupted after the op ran fails,
    which no test of moments could see in 2 values. XLA's stateful random ops draw other values in each
    compilation, so under XLA only shapes of at least MIN_SAMPLE values run, and their moments are checked.
    """

    name = "random"
    sweeps = sweep(**{scale: grid(dist=["normal", "uniform"], shape=shapes) for scale, shapes in SHAPES.items()})

    SEED, OP_SEED = 0, 1

    def __init__(self, dist: str, shape: tuple[int, ...], dtype: str = "float32"):
        super().__init__(shape, dtype, dist=dist)
        self.dist = dist
        self.rng = np.random.default_rng(self.SEED)

    def unsupported(self, device, mode):
        if mode == "xla" and device.kind != "numpy" and math.prod(self.shape) < self.MIN_SAMPLE:
            return (f"XLA draws other values in each compilation, so a first output of {math.prod(self.shape)} "
                    f"values can be neither drawn again nor judged by its moments (under {self.MIN_SAMPLE})")
        return super().unsupported(device, mode)

    def setup(self, device, mode):
        self.mode = None if device.kind == "numpy" else mode
        if self.mode:
            tf.random.set_seed(self.SEED)  # resets the seeded ops' counters: the first draw can be made again
        super().setup(device, mode)

    def compute_tf(self):
        if self.dist == "normal":
            return tf.random.normal(self.shape, mean=0.0, stddev=1.0, dtype=self.dtype, seed=self.OP_SEED)
        return tf.random.uniform(self.shape, minval=0.0, maxval=1.0, dtype=self.dtype, seed=self.OP_SEED)

    def first_again(self) -> np.ndarray | None:
        """The first output drawn again by another path: a graph mode's in eager, an eager one's in a
        tf.function (one seeded kernel, run by the other runtime), NumPy's by a fresh generator; None
        under XLA, which cannot draw it again."""
        if self.mode is None:
            fresh = np.random.default_rng(self.SEED)
            draw = fresh.standard_normal if self.dist == "normal" else fresh.random
            return draw(self.shape, dtype=self.dtype)
        if self.mode == "xla":
            return None
        tf.random.set_seed(self.SEED)
        again = self.compute_tf() if self.mode == "graph" else tf.function(self.compute_tf)()
        return to_numpy(again)

    def compute_np(self):
        if self.dist == "normal":
            return self.rng.standard_normal(self.shape, dtype=self.dtype)
        return self.rng.random(self.shape, dtype=self.dtype)

    def reference(self):
        raise TypeError("random values have no elementwise reference; check() tests their statistics")

    def check(self, outputs):
        """The first output is what the seeded op draws again (first_again), and the sample's mean and
        spread agree with the distribution's (6 standard errors), over at least
        MIN_SAMPLE values: a small shape's first output is pooled with further calls' (at 2 elements the
        mean alone let an all-zero output pass)."""
        first = to_numpy(outputs).astype(np.float64)
        assert_true(first.shape == self.shape, f"shape {first.shape}, expected {self.shape}")
        again = self.first_again()
        if again is not None:
            assert_true(np.array_equal(first, again.astype(np.float64)),
                        "the first output is not what the same seeded op draws again")
        pool = [first.ravel()]
        while sum(p.size for p in pool) < self.MIN_SAMPLE:
            pool.append(to_numpy(self.step()).astype(np.float64).ravel())
        x = np.concatenate(pool)
        n = x.size
        assert_true(bool(np.isfinite(x).all()), "non-finite random values")
        mean, std = (0.0, 1.0) if self.dist == "normal" else (0.5, math.sqrt(1 / 12))
        if self.dist == "uniform":
            assert_true(bool(((x >= 0) & (x < 1)).all()), "uniform values outside [0, 1)")
        mean_tol = 6 * std / math.sqrt(n)
        assert_true(abs(x.mean() - mean) <= mean_tol, f"mean {x.mean():.4f}, expected {mean} +- {mean_tol:.2g}")
        std_tol = 6 * std / math.sqrt(2 * n) + self.STD_ROUNDING
        assert_true(abs(x.std() - std) <= std_tol, f"stddev {x.std():.4f}, expected {std:.4f} +- {std_tol:.2g}")
        drawn = "" if again is None else "first output drawn again exactly; "
        return (f"{drawn}{self.dist} sample of {n} ({len(pool)} call(s)): mean {x.mean():.3g} and stddev "
                f"{x.std():.3g} within 6 standard errors")

    MIN_SAMPLE = 1024
    """At 2 elements a call, 512 calls: 4096 took 0.5 to 1 s of each such case's check on the development
    VM. An all-zero or constant output still fails the spread by 7 of its tolerances (6/sqrt(2048))."""
    STD_ROUNDING = 1e-3
    """Room for the dtype's rounding of each value, beside the sampling error."""


VARIABLE_OPS = ("create", "assign", "slice_assign", "assign_add", "assign_sub")


@register
class VariableUpdate(Workload):
    """tf.Variable creation, assign, slice assignment v[0, 0].assign, assign_add / assign_sub
    (listings 3.5 to 3.8); on the numpy baseline a copy, x[...] = , x[0, 0] = , += and -=."""

    name = "variable"
    family = "tensors"
    section = "3-5-1"
    numpy_baseline = True
    sweeps = sweep(**{scale: grid(op=list(VARIABLE_OPS), shape=shapes) for scale, shapes in SHAPES.items()})

    def __init__(self, op: str, shape: tuple[int, ...], dtype: str = "float32"):
        super().__init__(op=op, shape=tuple(shape), dtype=dtype)
        self.op, self.shape = op, tuple(shape)

    def unsupported(self, device, mode):
        if self.op == "create" and mode != "eager" and device.kind != "numpy":
            return "a tf.function may create a Variable on its first call only, so creation is eager"
        return super().unsupported(device, mode)

    SHARES_THE_BUFFER = ("create", "assign")
    """TensorFlow's ops that copy nothing: the Variable takes a reference to the tensor's buffer (on the
    development CPU, creation took 250-400 us and assign 44-90 us eager at 2x1 and at 4096x4096 alike),
    while NumPy's copy and x[...] = write every element."""

    def bytes(self):
        itemsize = self.itemsize
        if self.op == "slice_assign":
            return float(itemsize)  # one element written
        if self.op in self.SHARES_THE_BUFFER and self.device_kind != "numpy":
            return None  # nothing is copied: no GB/s
        arrays_touched = {"create": 2, "assign": 2, "assign_add": 3, "assign_sub": 3}[self.op]
        return float(arrays_touched * math.prod(self.shape) * itemsize)

    def setup(self, device, mode):
        self.device_kind = device.kind
        rng = np.random.default_rng(0)
        self.initial = rng.standard_normal(self.shape)
        self.ones = np.ones(self.shape)
        if device.kind == "numpy":
            self.state = self.initial.astype(self.dtype)
            self.other = self.ones.astype(self.dtype)
            self.fn = getattr(self, f"_np_{self.op}")
        else:
            self.other = on_device(self.ones, self.dtype)
            self.init_tensor = on_device(self.initial, self.dtype)
            self.state = tf.Variable(self.init_tensor)
            self.fn = compile_for_mode(getattr(self, f"_tf_{self.op}"), mode)

    def step(self):
        return self.fn()

    def in_place(self):
        return self.state

    # TensorFlow: updates return nothing, so graph mode does not read the variable back.
    def _tf_create(self):
        return tf.Variable(self.init_tensor)

    def _tf_assign(self):
        self.state.assign(self.other, read_value=False)

    def _tf_slice_assign(self):
        self.state[0, 0].assign(3.0)

    def _tf_assign_add(self):
        self.state.assign_add(self.other, read_value=False)

    def _tf_assign_sub(self):
        self.state.assign_sub(self.other, read_value=False)

    # NumPy: arrays are mutable in place (listing 3.3).
    def _np_create(self):
        return np.array(self.state)

    def _np_assign(self):
        self.state[...] = self.other

    def _np_slice_assign(self):
        self.state[0, 0] = 3.0

    def _np_assign_add(self):
        self.state += self.other

    def _np_assign_sub(self):
        self.state -= self.other

    def check(self, outputs):
        """After one step the value equals the op applied once to the initial value, in float64."""
        expected = self.initial.copy()
        if self.op == "assign":
            expected = self.ones.copy()
        elif self.op == "slice_assign":
            expected[0, 0] = 3.0
        elif self.op == "assign_add":
            expected += self.ones
        elif self.op == "assign_sub":
            expected -= self.ones
        actual = outputs if self.op == "create" else self.state
        return assert_close(f"variable {self.op}", to_numpy(actual), expected, self.dtype)
