"""What the device can do, measured in every run: the ceilings that the results layer holds every other
row to (scripts/ceilings.py). Both are built of the chapter's tensor operations (section 3-5-2).

- `peak_matmul`: matmul at a size that saturates the device, per dtype: the compute ceiling.
- `stream`: `x.assign_add(y)` in place over arrays each as large as the last-level cache (STREAM's "add", no
  allocation): the memory bandwidth ceiling. NumPy's `np.add(x, y, out=x)` on the numpy baseline.

A ceiling says what the device did, not what a datasheet promises: each row carries the role
`ceiling` ("compute" or "bandwidth"; `matmul` rows bound the compute ceiling too) in its extra_info, and
the sizes it ran at.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .base import Workload, chart_roles
from .checks import assert_close
from .keras_backend import to_numpy
from .profiles import grid, sweep
from .registry import register
from .saturation import SATURATING_N, InPlaceAdd, repeated
from .tensor_ops import DTYPES, MatMul
from .tf_execution import compile_for_mode, in_scope


def tiled(block: np.ndarray, elements: int, dtype: str = "float32") -> tf.Tensor:
    """`block` repeated to `elements` by tf.tile, an op: made on the tf.device in scope, not on the host."""
    reps = -(-elements // block.size)
    return tf.tile(tf.cast(tf.constant(block), dtype), [reps])[:elements]


@register
class PeakMatmul(MatMul):
    """tf.matmul of n x n at the size that saturates the device (SATURATING_N): the compute ceiling."""

    name = "peak_matmul"
    roles = chart_roles(ceiling="compute")
    family = "ceilings"
    section = "3-5-2"
    sweeps = sweep(smoke=grid(size=[64]), quick=grid(size=["saturating"]),
                   standard=grid(size=["saturating"], dtype=DTYPES))

    def __init__(self, size: int | str, dtype: str = "float32"):
        Workload.__init__(self, size=size, dtype=dtype)
        self.size, self.tf32 = size, None
        self.n = size if isinstance(size, int) else None

    def setup(self, device, mode):
        self.n = SATURATING_N.get(device.kind, 2048) if self.size == "saturating" else self.size
        self._extra_info.update(n=self.n)
        super().setup(device, mode)


@register
class Stream(InPlaceAdd):
    """x += y in place (Variable.assign_add), over float32 arrays larger than any cache: the memory
    bandwidth ceiling, 3 arrays' bytes a step (read x and y, write x)."""

    numpy_baseline = True

    def setup(self, device, mode):
        x0, y = self.sized(device)
        # each array is made once, where it is used: a fresh GiB cost 4 s of page faults on a VM
        if device.kind == "numpy":
            self.x, self.y = np.resize(x0, self.elements), np.resize(y, self.elements)
            self.fn = lambda: np.add(self.x, self.y, out=self.x)
            return
        self.x = in_scope(tf.Variable(tiled(x0, self.elements, self.dtype)))
        self.y = in_scope(tiled(y, self.elements, self.dtype))
        self.fn = compile_for_mode(self._add, mode)

    def _add(self):
        self.x.assign_add(self.y, read_value=False)  # returns nothing: graph mode reads nothing back

    def step(self):
        return self.fn()

    def in_place(self):
        return self.x

    def check(self, outputs):
        """After one step x is x0 + y, element by element (float64 of the float32 inputs, a block at a
        time: two arrays of 1 GiB whole in float64 would be 4 GiB)."""
        return assert_close("stream x += y", to_numpy(self.x),
                            lambda part: repeated(self.expected, self.elements, part), self.dtype)
