"""What saturates a device, with no framework: the matmul size, the arrays larger than its caches, and
the seeded inputs that fill them (each made whole only where it is used). The ceilings of every Keras
backend read them (ceilings.py under TensorFlow, keras_ceilings.py under JAX and PyTorch)."""

from __future__ import annotations

import functools

import numpy as np

from .base import Workload, chart_roles
from .devices import last_level_cache_bytes
from .profiles import grid, sweep

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


def cache_bytes(kind: str) -> int:
    """The largest cache between the device and its memory: the CPU's last-level cache (32 MiB assumed
    where Linux does not tell), or ACCELERATOR_CACHE_BYTES on a GPU or TPU."""
    return ACCELERATOR_CACHE_BYTES if kind in ("GPU", "TPU") else (last_level_cache_bytes() or 32 * 1024**2)


class InPlaceAdd(Workload):
    """What every backend's `stream` shares: x += y in place over float32 arrays each CACHE_MULTIPLE times
    the largest cache, 3 arrays' bytes a step (read x and y, write x), and the reference after one step."""

    name = "stream"
    roles = chart_roles(ceiling="bandwidth")
    family = "ceilings"
    section = "3-5-2"
    sweeps = sweep(smoke=grid(size=[4096]), quick=grid(size=["saturating"]))

    def __init__(self, size: int | str, dtype: str = "float32"):
        super().__init__(size=size, dtype=dtype)
        self.size = size
        self.elements = size if isinstance(size, int) else None

    def bytes(self):
        return 3.0 * self.elements * self.itemsize

    def sized(self, device) -> tuple[np.ndarray, np.ndarray]:
        """The elements for `device`, recorded, and the blocks x0 and y repeat; self.expected is a block of x
        after one step (the check holds x against it repeated)."""
        cache = cache_bytes(device.kind)
        self.elements = CACHE_MULTIPLE * cache // self.itemsize if self.size == "saturating" else self.size
        self._extra_info.update(elements=self.elements, cache_bytes=cache)
        x0, y = random_blocks(self.elements, 2)
        self.expected = x0.astype(np.float64) + y
        return x0, y
