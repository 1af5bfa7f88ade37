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

import functools

import numpy as np
import tensorflow as tf

from .base import Workload, chart_roles
from .checks import assert_close
from .devices import last_level_cache_bytes
from .keras_backend import to_numpy
from .profiles import grid, sweep
from .registry import register
from .tensor_ops import DTYPES, MatMul
from .tf_execution import compile_for_mode, in_scope

SATURATING_N = {"CPU": 2048, "numpy": 2048, "GPU": 8192, "TPU": 8192}
"""Square matmul sizes that saturate a device (doctor's CPU figure at n=1024 was 6% under n=4096's)."""
ACCELERATOR_CACHE_BYTES = 512 * 1024**2
"""More than any accelerator's on-chip cache as of 2026 (H100/H200 L2 50 MiB, B200 126 MiB, MI300X
Infinity Cache 256 MiB): arrays this large stream from device memory."""
CACHE_MULTIPLE = 1
"""Each array of the bandwidth test is this many times the last-level cache (STREAM asks 4): x and y
together are twice the cache, and each step moves 3 times its bytes. On the 2-core Intel Xeon VM of
2026-12-05 (a 480 MiB L3) NumPy's x += y gave 26.9, 26.9, 26.9 and 26.5 GB/s over arrays of 0.5, 1, 2
and 4 times the cache (28.9 at a quarter, 44.8 inside it), and 4 times cost 16 s of a quick run's setup,
most of it first-touch page faults (docs/results.md)."""


RANDOM_BLOCK = 2**20


@functools.lru_cache(maxsize=4)
def random_blocks(elements: int, count: int) -> tuple[np.ndarray, ...]:
    """`count` read-only blocks of min(elements, RANDOM_BLOCK) random float32 (seed 0): each input of
    `elements` is its block repeated, so that an element moved by less than a block changes the result,
    and the input is made whole only where it is used (on the device)."""
    rng = np.random.default_rng(0)
    blocks = tuple(rng.random(min(elements, RANDOM_BLOCK), dtype=np.float32) for _ in range(count))
    for values in blocks:
        values.flags.writeable = False
    return blocks


def repeated(block: np.ndarray, elements: int, part: slice) -> np.ndarray:
    """Elements `part` of `block` repeated to `elements` (np.resize's), without making the whole: a view
    where the part lies inside one repeat."""
    start, stop, _ = part.indices(elements)
    offset = start % block.size
    if offset + stop - start <= block.size:
        return block[offset:offset + stop - start]
    return block[np.arange(start, stop) % block.size]


def refill(array: np.ndarray, block: np.ndarray) -> None:
    """`array` set to `block` repeated (np.resize's), in place: no fresh memory."""
    whole = array.size - array.size % block.size
    np.copyto(array[:whole].reshape(-1, block.size), block)
    np.copyto(array[whole:], block[:array.size - whole])


def tiled(block: np.ndarray, elements: int, dtype: str = "float32") -> tf.Tensor:
    """`block` repeated to `elements` by tf.tile, an op: made on the tf.device in scope, not on the host."""
    reps = -(-elements // block.size)
    return tf.tile(tf.cast(tf.constant(block), dtype), [reps])[:elements]


def cache_bytes(kind: str) -> int:
    """The largest cache between the device and its memory: the CPU's last-level cache (32 MiB assumed
    where Linux does not tell), or ACCELERATOR_CACHE_BYTES on a GPU or TPU."""
    return ACCELERATOR_CACHE_BYTES if kind in ("GPU", "TPU") else (last_level_cache_bytes() or 32 * 1024**2)


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
class Stream(Workload):
    """x += y in place (Variable.assign_add), over float32 arrays larger than any cache: the memory
    bandwidth ceiling, 3 arrays' bytes a step (read x and y, write x)."""

    name = "stream"
    roles = chart_roles(ceiling="bandwidth")
    family = "ceilings"
    section = "3-5-2"
    numpy_baseline = True
    sweeps = sweep(smoke=grid(size=[4096]), quick=grid(size=["saturating"]))

    def __init__(self, size: int | str, dtype: str = "float32"):
        super().__init__(size=size, dtype=dtype)
        self.size = size
        self.elements = size if isinstance(size, int) else None

    def bytes(self):
        return 3.0 * self.elements * self.itemsize

    def setup(self, device, mode):
        cache = cache_bytes(device.kind)
        self.elements = CACHE_MULTIPLE * cache // self.itemsize if self.size == "saturating" else self.size
        self._extra_info.update(elements=self.elements, cache_bytes=cache)
        x0, y = random_blocks(self.elements, 2)
        self.expected = x0.astype(np.float64) + y  # x after one step, a block of it
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
