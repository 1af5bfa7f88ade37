"""The ceilings of ceilings.py (section 3-5-2) under Keras's JAX and PyTorch backends, in keras.ops and the
backend's own in-place add: what the device can do there, the figures that backend's rows are held to.
Named as TensorFlow's (a process runs one backend's), so that the report sets the backends side by side.

- `peak_matmul`: keras.ops.matmul of n x n at the size that saturates the device, per dtype, compiled the
  backend's way (jax.jit under xla, as called under eager).
- `stream`: x += y in place over arrays each as large as the last-level cache: under JAX a jitted add that
  donates x's buffer (XLA writes the sum into it), under PyTorch `torch.add(x, y, out=x)`; 3 arrays'
  bytes a step.
"""

from __future__ import annotations

import keras
import numpy as np

from .base import COMPILED, Workload, chart_roles
from .checks import assert_close
from .keras_backend import compile_for_mode, current, mode_unavailable, place, to_numpy
from .profiles import grid, sweep
from .registry import register
from .saturation import SATURATING_N, InPlaceAdd, repeated

DTYPES = ["float32", "bfloat16", "float16"]
"""float64 is left out: JAX computes it only with jax_enable_x64, which would change every other row's
default dtypes in the process."""


@register
class PeakMatmul(Workload):
    """keras.ops.matmul of n x n at the size that saturates the device: the compute ceiling."""

    name = "peak_matmul"
    roles = chart_roles(ceiling="compute")
    family = "ceilings"
    section = "3-5-2"
    uses = ("matmul",)
    sweeps = sweep(smoke=grid(size=[64]), quick=grid(size=["saturating"]),
                   standard=grid(size=["saturating"], dtype=DTYPES),
                   full=grid(size=[1024, 4096, "saturating"], dtype=DTYPES))

    def __init__(self, size: int | str, dtype: str = "float32"):
        super().__init__(size=size, dtype=dtype)
        self.size = size
        self.n = size if isinstance(size, int) else None

    def unsupported(self, device, mode):
        return super().unsupported(device, mode) or mode_unavailable(mode)

    def flops(self):
        return None if self.n is None else 2.0 * self.n**3  # None until setup sizes "saturating" for the device

    def bytes(self):
        return None if self.n is None else 3.0 * self.n * self.n * self.itemsize

    def setup(self, device, mode):
        self.n = SATURATING_N.get(device.kind, 2048) if self.size == "saturating" else self.size
        self._extra_info.update(n=self.n)
        rng = np.random.default_rng(0)
        self.host = rng.standard_normal((self.n, self.n)), rng.standard_normal((self.n, self.n))
        self.a, self.b = (place(x, self.dtype) for x in self.host)
        self.fn = compile_for_mode(keras.ops.matmul, mode)

    def step(self):
        return self.fn(self.a, self.b)

    def check(self, outputs):
        """The first rows of the product against float64 (the inputs as the device holds them): a whole
        product of 8192 in float64 on the host would take minutes."""
        rows = min(self.n, 256)
        a, b = (to_numpy(keras.ops.cast(x, "float32")).astype(np.float64) for x in (self.a[:rows], self.b))
        outputs = to_numpy(keras.ops.cast(outputs[:rows], "float32"))
        return assert_close(f"matmul, first {rows} rows", outputs, a @ b, self.held_to(), terms=self.n)


@register
class Stream(InPlaceAdd):
    """x += y in place over float32 arrays larger than any cache: the memory bandwidth ceiling."""

    def unsupported(self, device, mode):
        compiled = COMPILED[current()]
        if mode != compiled:
            return (f"the in-place add runs under {current()}'s {compiled} mode only (JAX updates a buffer in "
                    "place only in a jitted function that donates it)")
        return super().unsupported(device, mode)

    def setup(self, device, mode):
        x0, y = self.sized(device)
        self.x, self.y = place(np.resize(x0, self.elements), self.dtype), place(np.resize(y, self.elements), self.dtype)
        if current() == "jax":
            import jax

            self.add = jax.jit(lambda x, y: x + y, donate_argnums=0)
        else:
            import torch

            self.add = lambda x, y: torch.add(x, y, out=x)

    def step(self):
        self.x = self.add(self.x, self.y)
        return self.x

    def check(self, outputs):
        """After one step x is x0 + y, element by element."""
        return assert_close("stream x += y", to_numpy(outputs),
                            lambda part: repeated(self.expected, self.elements, part), self.dtype)
