"""Section 3-5-2: tensor operations (listing 3.9), from dispatch-bound tiny tensors to sizes that
approach the device's peak, with NumPy as the baseline the chapter compares against."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .base import chart_roles
from .function import FunctionWorkload
from .profiles import grid, sweep
from .registry import register

DTYPES = ["float64", "float32", "bfloat16", "float16"]
LOW_AND_HIGH = ["float64", "bfloat16", "float16"]  # float32 is in every sweep already

ELEMENTWISE = {
    # op: (TensorFlow, NumPy, float64 reference written another way, number of inputs)
    "square": (tf.square, np.square, lambda x: x * x, 1),
    "sqrt": (tf.sqrt, np.sqrt, lambda x: x**0.5, 1),
    "add": (tf.add, np.add, lambda x, y: x + y, 2),
    "multiply": (tf.multiply, np.multiply, lambda x, y: x * y, 2),
}


@register
class Elementwise(FunctionWorkload):
    """square, sqrt, add or elementwise multiply of n x n matrices (listing 3.9)."""

    name = "elementwise"
    family = "tensor_ops"
    section = "3-5-2"
    numpy_baseline = True
    sweeps = sweep(
        smoke=grid(op=list(ELEMENTWISE), n=[8]),
        quick=grid(op=list(ELEMENTWISE), n=[8, 1024]),
        standard=grid(op=list(ELEMENTWISE), n=[8, 64, 512, 2048, 4096])
        + grid(op=["multiply"], n=[2048], dtype=LOW_AND_HIGH),
        full=grid(op=list(ELEMENTWISE), n=[8, 64, 512, 2048, 8192, 16384])
        + grid(op=["multiply"], n=[8192], dtype=LOW_AND_HIGH),
    )

    def __init__(self, op: str, n: int, dtype: str = "float32"):
        super().__init__(op=op, n=n, dtype=dtype)
        self.op, self.n = op, n
        self.tf_op, self.np_op, self.reference_op, self.arity = ELEMENTWISE[op]

    def make_inputs(self, rng):
        # positive values, so sqrt is defined
        return tuple(rng.uniform(0.5, 1.5, size=(self.n, self.n)) for _ in range(self.arity))

    def compute_tf(self, *inputs):
        return self.tf_op(*inputs)

    def compute_np(self, *inputs):
        return self.np_op(*inputs)

    def reference(self, *inputs):
        return self.reference_op(*inputs)

    def flops(self):
        return float(self.n * self.n)

    def bytes(self):
        return float((self.arity + 1) * self.n * self.n * self.itemsize)


@register
class MatMul(FunctionWorkload):
    """C = A @ B for square n x n matrices (listing 3.9's tf.matmul)."""

    name = "matmul"
    roles = chart_roles(sweep="n", measure="gflops", ceiling="compute")
    family = "tensor_ops"
    section = "3-5-2"
    numpy_baseline = True
    uses = ("matmul",)
    sweeps = sweep(
        smoke=grid(n=[8], dtype=DTYPES) + [{"n": 8, "tf32": False}],
        quick=grid(n=[8, 128, 1024]),
        standard=grid(n=[8, 32, 128, 512, 1024, 2048, 4096], dtype=DTYPES) + [{"n": 4096, "tf32": False}],
        full=grid(n=[8, 32, 128, 512, 1024, 2048, 4096, 8192, 16384], dtype=DTYPES)
        + [{"n": 8192, "tf32": False}],
    )

    def __init__(self, n: int, dtype: str = "float32", tf32: bool | None = None):
        super().__init__(n=n, dtype=dtype, **({} if tf32 is None else {"tf32": tf32}))
        self.n, self.tf32 = n, tf32

    def unsupported(self, device, mode):
        if self.tf32 is not None and (device.kind != "GPU" or self.dtype != "float32"):
            return "TF32 is a float32 mode of NVIDIA tensor cores (Ampere and newer); it has no effect here"
        return super().unsupported(device, mode)

    def setup(self, device, mode):
        if self.tf32 is not None:
            self.tf32_before = tf.config.experimental.tensor_float_32_execution_enabled()
            tf.config.experimental.enable_tensor_float_32_execution(self.tf32)
            self._extra_info["tf32_enabled"] = self.tf32  # this row's own setting, against the run's
        super().setup(device, mode)

    def teardown(self):
        if self.tf32 is not None and getattr(self, "tf32_before", None) is not None:
            tf.config.experimental.enable_tensor_float_32_execution(self.tf32_before)
        super().teardown()

    def make_inputs(self, rng):
        return rng.standard_normal((self.n, self.n)), rng.standard_normal((self.n, self.n))

    def compute_tf(self, a, b):
        return tf.matmul(a, b)

    def compute_np(self, a, b):
        return np.matmul(a, b)

    def reference(self, a, b):
        return a @ b  # float64 (dgemm): the numpy baseline times float32 only

    def terms(self):
        return self.n

    def flops(self):
        return 2.0 * self.n**3

    def bytes(self):
        return 3.0 * self.n * self.n * self.itemsize


@register
class Conv2D(FunctionWorkload):
    """A 3x3 'same' convolution of a batch of images (NHWC), the Conv2D layer's operation (section
    3-6-1: Conv2D for images)."""

    name = "conv2d"
    family = "tensor_ops"
    section = "3-6-1"
    uses = ("conv",)
    sweeps = sweep(
        smoke=grid(batch=[2], size=[8], channels=[4]),
        quick=grid(batch=[32], size=[32], channels=[32]),
        standard=grid(batch=[32], size=[32, 64], channels=[32, 128])
        + grid(batch=[32], size=[64], channels=[128], dtype=LOW_AND_HIGH),
        full=grid(batch=[64, 256], size=[64, 128], channels=[64, 256])
        + grid(batch=[256], size=[128], channels=[256], dtype=LOW_AND_HIGH),
    )

    def __init__(self, batch: int, size: int, channels: int, dtype: str = "float32"):
        super().__init__(batch=batch, size=size, channels=channels, dtype=dtype)
        self.batch, self.size, self.channels = batch, size, channels

    def make_inputs(self, rng):
        images = rng.standard_normal((self.batch, self.size, self.size, self.channels))
        kernel = rng.standard_normal((3, 3, self.channels, self.channels)) / np.sqrt(9 * self.channels)
        return images, kernel

    def compute_tf(self, images, kernel):
        return tf.nn.conv2d(images, kernel, strides=1, padding="SAME")

    def reference(self, images, kernel):
        """Sum over the 3x3 window of shifted images times the kernel's taps, in float64."""
        padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
        out = np.zeros(images.shape[:3] + (kernel.shape[3],))
        for dy in range(3):
            for dx in range(3):
                window = padded[:, dy:dy + self.size, dx:dx + self.size, :]
                out += np.einsum("bhwc,cd->bhwd", window, kernel[dy, dx], optimize=True)
        return out

    def terms(self):
        return 9 * self.channels

    def flops(self):
        return 2.0 * self.batch * self.size * self.size * 9 * self.channels * self.channels

    def bytes(self):
        itemsize = self.itemsize
        return float(itemsize * (2 * self.batch * self.size * self.size * self.channels + 9 * self.channels**2))

    def items(self):
        return float(self.batch)
