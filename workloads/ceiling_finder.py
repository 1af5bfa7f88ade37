"""The ceiling finder (`tensorbench ceiling`): how fast this device can go, found by sweeping rather than
read off one size. Every run already carries two ceiling rows (workloads/ceilings.py); this family,
run only when asked, looks harder, as mamf-finder does for PyTorch: matmul over square sizes and
shapes whose M, N and K differ, and STREAM's four kernels (copy, scale, add, triad) over working sets
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

import numpy as np
import tensorflow as tf

from .base import Workload, chart_roles
from .ceilings import cache_bytes
from .checks import assert_close
from .keras_backend import to_numpy
from .profiles import grid, sweep
from .registry import register
from .tensor_ops import MatMul
from .tf_execution import compile_for_mode, on_device

SQUARES = {"smoke": [64], "quick": [512, 1024, 2048, 4096], "full": [512, 1024, 1536, 2048, 3072, 4096, 6144, 8192]}
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


@functools.lru_cache(maxsize=2)
def _product(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A @ B in float64 for the seeded inputs of this shape: the reference, computed once for every dtype
    (a 4096-cube takes seconds in float64 on a small CPU)."""
    m, k, n = shape
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, k)) @ rng.standard_normal((k, n))


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

    def __init__(self, m: int, k: int, n: int, dtype: str = "float32"):
        Workload.__init__(self, m=m, k=k, n=n, dtype=dtype)
        self.m, self.k, self.n, self.tf32 = m, k, n, None

    def make_inputs(self, rng):
        return rng.standard_normal((self.m, self.k)), rng.standard_normal((self.k, self.n))

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
}
Q = 3.0
MIB = 2**20
STREAM_SIZES = {"smoke": [1], "quick": [4, 64, 256], "full": [1, 4, 16, 64, 256, 1024]}
"""MiB of each array: from a working set inside a 32 MiB last-level cache to several times beyond it."""


@register
class StreamKernel(Workload):
    """STREAM's copy, scale, add and triad over float32 Variables of `size_mib` MiB each (a, b, c)."""

    name = "stream_kernel"
    family = "ceiling_finder"
    section = "3-5-2"
    roles = chart_roles(ceiling="bandwidth", sweep="size_mib", measure="gbps")
    numpy_baseline = True
    modes = ("xla",)
    sweeps = sweep(**{profile: grid(kernel=list(KERNELS), size_mib=sizes) for profile, sizes in STREAM_SIZES.items()})

    def __init__(self, kernel: str, size_mib: int, dtype: str = "float32"):
        super().__init__(kernel=kernel, size_mib=size_mib, dtype=dtype)
        self.kernel, self.elements = kernel, size_mib * MIB // 4

    def bytes(self):
        return float(KERNELS[self.kernel][0] * self.elements * self.itemsize)

    def mode_note(self) -> str:
        return "only XLA updates the arrays in place (graph mode shares a copy's buffer and allocates the rest)"

    def setup(self, device, mode):
        self._extra_info.update(cache_bytes=cache_bytes(device.kind), formula=KERNELS[self.kernel][1])
        rng = np.random.default_rng(0)
        self.host = {name: rng.random(self.elements, dtype=np.float32) for name in "abc"}
        if device.kind == "numpy":
            self.arrays = {name: values.copy() for name, values in self.host.items()}
            self.fn = self._numpy_kernel
            return
        self.arrays = {name: tf.Variable(on_device(values, self.dtype)) for name, values in self.host.items()}
        self.fn = compile_for_mode(self._tf_kernel, mode)

    def _tf_kernel(self):
        a, b, c = (self.arrays[name] for name in "abc")
        if self.kernel == "copy":
            c.assign(a, read_value=False)
        elif self.kernel == "scale":
            b.assign(Q * c, read_value=False)
        elif self.kernel == "add":
            c.assign(a + b, read_value=False)
        else:
            a.assign(b + Q * c, read_value=False)

    def _numpy_kernel(self):
        a, b, c = (self.arrays[name] for name in "abc")
        if self.kernel == "copy":
            np.copyto(c, a)
        elif self.kernel == "scale":
            np.multiply(c, Q, out=b)
        elif self.kernel == "add":
            np.add(a, b, out=c)
        else:
            np.multiply(c, Q, out=a)  # two passes: NumPy has no fused triad
            np.add(a, b, out=a)

    def step(self):
        return self.fn()

    @property
    def written(self):
        """The array the kernel writes (the formula's left-hand side)."""
        return self.arrays[KERNELS[self.kernel][1][0]]

    def check(self, outputs):
        """After one step the written array holds the formula of the others (float64 of the inputs)."""
        a, b, c = (self.host[name].astype(np.float64) for name in "abc")
        expected = {"copy": a, "scale": Q * c, "add": a + b, "triad": b + Q * c}[self.kernel]
        return assert_close(f"stream {KERNELS[self.kernel][1]}", to_numpy(self.written), expected, self.dtype)


@register
class Transfer(Workload):
    """A float32 array of `size_mib` MiB copied from the host to the device, or back: what feeding an
    accelerator costs. Nothing to measure on the CPU, whose memory is the host's."""

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

    def step(self):
        return self.copy(self.source)

    def check(self, outputs):
        return assert_close(f"transfer {self.direction}", to_numpy(outputs), self.host_values.astype(np.float64),
                            self.dtype)
