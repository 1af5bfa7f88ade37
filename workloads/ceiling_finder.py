"""The ceiling finder (`tensorbench ceiling`): how fast this device can go, found by sweeping rather than
read off one size. Every run already carries two ceiling rows (workloads/ceilings.py); this family,
run only when asked, looks harder, as mamf-finder does for PyTorch: matmul over square sizes and
shapes whose M, N and K differ, and STREAM's four kernels (copy, scale, add, triad) and an in-place add
(`a += b`, which writes only what it reads and so pays no read for ownership) over working sets
from inside the caches to beyond the last level; on an accelerator, the host-to-device and
device-to-host rates. Built of section 3-5-2's tensor operations, each checked like the others.

The kernels' bytes are STREAM's counts (copy and scale move 2 arrays, add and triad 3), and the kernels
run under XLA only, which updates the Variables in place: in graph mode `c.assign(a)` shares a's buffer
and copies nothing (it read 288 to 1,887 GB/s on the 2-core development VM), and every other kernel
allocates a fresh output each call, so it timed page faults (2.9 to 6.2 GB/s at 64 and 256 MiB, where XLA
gave 15 to 20). A working set inside the caches is timed too, but one TensorFlow call costs
microseconds, so below a few MiB the figure is the call's overhead as much as the cache's bandwidth: the
results layer takes the memory bandwidth only from working sets beyond the last-level cache
(`cache_bytes`).
"""

from __future__ import annotations

import functools
from typing import ClassVar

import numpy as np
import tensorflow as tf

from .base import Workload, chart_roles
from .ceilings import tiled
from .checks import assert_close
from .keras_backend import to_numpy
from .profiles import grid, sweep
from .registry import register
from .saturation import cache_bytes, random_blocks, refill, repeated
from .tensor_ops import MatMul
from .tf_execution import compile_for_mode, in_scope, on_device

SQUARES = {"smoke": [64], "quick": [1024, 2048], "full": [512, 1024, 1536, 2048, 3072, 4096, 6144, 8192]}
"""Square sizes. Not 4096 in quick: the 4096-cube never gave a quick sweep's best. The best float32 came
from 4096 x 1024 x 4096 on the 2-core AMD EPYC VM (211.7 GFLOP/s) and on the Intel Xeon VM of 2026-12-02
(306.6 best round, the 4096-cube 299.8; bfloat16 163.3 and 161.5), while the 4096-cube's three rows
took 17 to 20 s of a 62 to 65 s quick sweep there (bfloat16 at 1 s a call, 5 rounds)."""
# M, K, N apart (wide, tall and deep products, as transformers and convolutions make them) and sizes off
# the multiples of 64 that kernels are tiled for
SHAPES = {"smoke": [(64, 32, 48)], "quick": [(4096, 1024, 4096), (1000, 1000, 1000)],
          "full": [(4096, 1024, 4096), (1024, 4096, 1024), (8192, 1024, 8192), (4096, 4096, 1024),
                   (1000, 1000, 1000), (2047, 2047, 2047), (4095, 4097, 4096)]}
MATMUL_DTYPES = {"smoke": ["float32"], "quick": ["bfloat16", "float32"], "full": ["float16", "bfloat16", "float32"]}


def _matmul_sweeps(profile: str) -> list[dict]:
    """Each shape in every dtype, one after the other: they share one float64 reference (_product)."""
    shapes = [(n, n, n) for n in SQUARES[profile]] + SHAPES[profile]
    return [{"m": m, "k": k, "n": n, "dtype": dtype} for m, k, n in shapes for dtype in MATMUL_DTYPES[profile]]


@functools.lru_cache(maxsize=1)
def _inputs(shape: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded float64 A and B of this shape, read-only: made once for every dtype and the numpy
    baseline (two 4096 x 4096 normal arrays take half a second on a small CPU)."""
    m, k, n = shape
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    a.flags.writeable = b.flags.writeable = False
    return a, b


@functools.lru_cache(maxsize=1)
def _product(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A @ B in float64 for the seeded inputs of this shape: the reference, computed once for every dtype
    (a 4096-cube takes seconds in float64 on a small CPU)."""
    a, b = _inputs(shape, seed)
    return a @ b


@register
class MatmulShape(MatMul):
    """C = A @ B for an m x k and a k x n matrix (listing 3.9's tf.matmul), at any shape. Graph mode:
    under XLA the CPU's matmul is the same library call."""

    name = "matmul_shape"
    modes = ("graph",)
    family = "ceiling_finder"
    roles = chart_roles(ceiling="compute")
    numpy_baseline = True
    sweeps = sweep(**{profile: _matmul_sweeps(profile) for profile in SQUARES})
    # its row is a best round: on the development VM a bfloat16 matmul's calls spread over 2x (n=1024: 635
    # GFLOP/s median, 849 the best of 738 calls), and the best of the quick profile's 5 rounds (0.05 s)
    # fell 17% short of a bare loop's
    timed_s: ClassVar[dict[str, float]] = {"quick": 0.3}

    def __init__(self, m: int, k: int, n: int, dtype: str = "float32"):
        Workload.__init__(self, m=m, k=k, n=n, dtype=dtype)
        self.m, self.k, self.n, self.tf32 = m, k, n, None

    def make_inputs(self, rng):
        return _inputs((self.m, self.k, self.n), self.seed)

    def reference(self, a, b):
        return _product((self.m, self.k, self.n), self.seed)

    def terms(self):
        return self.k

    def flops(self):
        return 2.0 * self.m * self.k * self.n

    def bytes(self):
        return float((self.m * self.k + self.k * self.n + self.m * self.n) * self.itemsize)


KERNELS = {
    # kernel: (arrays it moves, STREAM's formula)
    "copy": (2, "c = a"),
    "scale": (2, "b = q * c"),
    "add": (3, "c = a + b"),
    "triad": (3, "a = b + q * c"),
    # not STREAM's: the update the `stream` ceiling times (workloads/ceilings.py). Under XLA on the
    # development VM, 256 MiB arrays: c = a + b 21.9 GB/s, a += b 41.0 (graph mode's assign_add 38.6):
    # writing an array that is not read costs a read for ownership that STREAM's counts leave out
    "add_in_place": (3, "a += b"),
}
Q = 3.0
MIB = 2**20
STREAM_SIZES = {"smoke": [1], "quick": [4, 256], "full": [1, 4, 16, 64, 256, 1024]}
"""MiB of each array: from a working set inside a 32 MiB last-level cache to several times beyond it
(quick: one inside, one beyond, within its 60 s; thorough: the levels between)."""


def _stream_blocks(elements: int) -> dict[str, np.ndarray]:
    """The random blocks that arrays a, b and c repeat (ceilings.random_blocks), shared by the kernels
    of one size."""
    return dict(zip("abc", random_blocks(elements, 3)))


@functools.lru_cache(maxsize=4)
def _stream_arrays(device_id: str, elements: int) -> dict[str, np.ndarray | tf.Variable]:
    """The arrays the kernels of one size and device work on, made once (NumPy arrays, or Variables on
    the tf.device in scope) and reset from the blocks by each kernel's setup: a fresh 256 MiB array costs
    its page faults (0.36 s a Variable on the development VM, 0.13 s to assign one in place; on a VM
    that backs its memory on first touch, 1 s)."""
    blocks = _stream_blocks(elements)
    if device_id == "numpy":
        return {name: np.empty(elements, np.float32) for name in blocks}  # filled by each kernel's setup
    return {name: in_scope(tf.Variable(tiled(block, elements))) for name, block in blocks.items()}


@register
class StreamKernel(Workload):
    """STREAM's copy, scale, add and triad, and `a += b`, over float32 Variables of `size_mib` MiB each."""

    name = "stream_kernel"
    family = "ceiling_finder"
    section = "3-5-2"
    roles = chart_roles(ceiling="bandwidth", sweep="size_mib", measure="gbps")
    numpy_baseline = True
    modes = ("xla",)
    # size by size, so that the cases of one size share their arrays (_stream_arrays)
    sweeps = sweep(**{profile: sorted(grid(kernel=list(KERNELS), size_mib=sizes), key=lambda p: p["size_mib"])
                      for profile, sizes in STREAM_SIZES.items()})

    def __init__(self, kernel: str, size_mib: int, dtype: str = "float32"):
        super().__init__(kernel=kernel, size_mib=size_mib, dtype=dtype)
        self.kernel, self.elements = kernel, size_mib * MIB // 4

    def bytes(self):
        return float(KERNELS[self.kernel][0] * self.elements * self.itemsize)

    def mode_note(self) -> str:
        return "only XLA updates the arrays in place (graph mode shares a copy's buffer and allocates the rest)"

    def setup(self, device, mode):
        self._extra_info.update(cache_bytes=cache_bytes(device.kind), formula=KERNELS[self.kernel][1])
        self.blocks = _stream_blocks(self.elements)
        self.arrays = _stream_arrays(device.id, self.elements)
        for name, block in self.blocks.items():  # each kernel starts from the inputs
            if device.kind == "numpy":
                refill(self.arrays[name], block)
            else:
                self.arrays[name].assign(tiled(block, self.elements), read_value=False)
        self.fn = self._numpy_kernel if device.kind == "numpy" else compile_for_mode(self._tf_kernel, mode)

    def _tf_kernel(self):
        a, b, c = (self.arrays[name] for name in "abc")
        if self.kernel == "copy":
            c.assign(a, read_value=False)
        elif self.kernel == "scale":
            b.assign(Q * c, read_value=False)
        elif self.kernel == "add":
            c.assign(a + b, read_value=False)
        elif self.kernel == "triad":
            a.assign(b + Q * c, read_value=False)
        else:
            a.assign_add(b, read_value=False)

    def _numpy_kernel(self):
        a, b, c = (self.arrays[name] for name in "abc")
        if self.kernel == "copy":
            np.copyto(c, a)
        elif self.kernel == "scale":
            np.multiply(c, Q, out=b)
        elif self.kernel == "add":
            np.add(a, b, out=c)
        elif self.kernel == "triad":
            np.multiply(c, Q, out=a)  # two passes: NumPy has no fused triad
            np.add(a, b, out=a)
        else:
            np.add(a, b, out=a)

    def step(self):
        return self.fn()

    def in_place(self):
        return self.written

    @property
    def written(self):
        """The array the kernel writes (the formula's left-hand side)."""
        return self.arrays[KERNELS[self.kernel][1][0]]

    def check(self, outputs):
        """After one step the written array holds the formula of the others (float64 of the inputs)."""
        return assert_close(f"stream {KERNELS[self.kernel][1]}", to_numpy(self.written), self._expected, self.dtype)

    def _expected(self, part: slice) -> np.ndarray:
        """The formula in float64 of the inputs, for one block of the elements (checks.errors): at 256
        MiB an array, the whole in float64 would be half a GiB."""
        a, b, c = (repeated(self.blocks[name], self.elements, part) for name in "abc")
        expected = (c if self.kernel in ("scale", "triad") else a).astype(np.float64)
        if self.kernel in ("scale", "triad"):
            expected *= Q
        if self.kernel in ("add", "triad", "add_in_place"):
            expected += b
        return expected


@register
class Transfer(Workload):
    """A float32 array of `size_mib` MiB copied from the host to the device, or back: what feeding an
    accelerator costs. Nothing to measure on the CPU, whose memory is the host's. The host's side is a
    TensorFlow CPU tensor, in pageable memory (as a user's NumPy batch is): the driver stages such a copy
    through pinned buffers, so the row is the pageable copy's rate, not the link's (extra_info.host_memory)."""

    name = "transfer"
    family = "ceiling_finder"
    section = "3-5-1"
    sweeps = sweep(smoke=grid(direction=["to_device", "to_host"], size_mib=[1]),
                   quick=grid(direction=["to_device", "to_host"], size_mib=[64]),
                   full=grid(direction=["to_device", "to_host"], size_mib=[1, 16, 256, 1024]))
    modes = ("graph",)

    def __init__(self, direction: str, size_mib: int, dtype: str = "float32"):
        super().__init__(direction=direction, size_mib=size_mib, dtype=dtype)
        self.direction, self.elements = direction, size_mib * MIB // 4

    def mode_note(self) -> str:
        return "one copy between host and device, as a tf.function; eager and XLA would time the same copy"

    def unsupported(self, device, mode):
        shared = device.kind not in ("GPU", "TPU")
        return super().unsupported(device, mode) or (
            "host and device share memory here: a transfer needs a GPU or TPU" if shared else None)

    def bytes(self):
        return float(self.elements * self.itemsize)

    def setup(self, device, mode):
        self.host_values = np.random.default_rng(0).random(self.elements, dtype=np.float32)
        with tf.device("/CPU:0"):
            in_host = tf.identity(tf.constant(self.host_values))
        source, target = ((in_host, device.tf_name) if self.direction == "to_device"
                          else (on_device(self.host_values, self.dtype), "/CPU:0"))

        @tf.function
        def copy(values):  # the input is passed on every call: nothing to fold into a constant
            with tf.device(target):
                return tf.identity(values)

        self.source, self.copy = source, copy
        self._extra_info["host_memory"] = "pageable"

    def step(self):
        return self.copy(self.source)

    def check(self, outputs):
        return assert_close(f"transfer {self.direction}", to_numpy(outputs), self.host_values.astype(np.float64),
                            self.dtype)
