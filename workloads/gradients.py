"""Section 3-5-3: GradientTape (listings 3.10 to 3.12), first and second order, and the gradient of
a loss with respect to a weight matrix, which is what training computes."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .base import Workload
from .checks import assert_close
from .function import FunctionWorkload
from .keras_backend import to_numpy
from .profiles import grid, sweep
from .registry import register
from .tf_execution import compile_for_mode, on_device

# case: (what it computes, analytic answer)
TAPE_CASES = {
    "variable": ("d(x^2)/dx of a Variable at x = 3 (listing 3.10)", 6.0),
    "constant": ("d(x^2)/dx of a watched constant at x = 3 (listing 3.11)", 6.0),
    "second_order": ("acceleration of position 4.9 t^2 by nested tapes (listing 3.12)", 9.8),
}


@register
class TapeScalar(Workload):
    """The chapter's scalar GradientTape examples, each checked against its analytic value."""

    name = "gradient_tape"
    family = "gradients"
    section = "3-5-3"
    sweeps = sweep(smoke=grid(case=list(TAPE_CASES)))

    def __init__(self, case: str, dtype: str = "float32"):
        super().__init__(case=case, dtype=dtype)
        self.case = case
        self.description, self.expected = TAPE_CASES[case]

    def setup(self, device, mode):
        if self.case == "variable":
            self.x = tf.Variable(on_device(np.array(3.0), self.dtype))
        elif self.case == "constant":
            self.x = on_device(np.array(3.0), self.dtype)
        else:
            self.x = tf.Variable(on_device(np.array(0.0), self.dtype))  # time = 0
        self.fn = compile_for_mode(getattr(self, f"_{self.case}"), mode)

    def step(self):
        return self.fn()

    def _variable(self):
        with tf.GradientTape() as tape:
            result = tf.square(self.x)
        return tape.gradient(result, self.x)

    def _constant(self):
        with tf.GradientTape() as tape:
            tape.watch(self.x)
            result = tf.square(self.x)
        return tape.gradient(result, self.x)

    def _second_order(self):
        time = self.x
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                position = 4.9 * time**2
            speed = inner.gradient(position, time)
        return outer.gradient(speed, time)

    def check(self, outputs):
        return assert_close(self.description, to_numpy(outputs), np.array(self.expected), self.dtype, 4)


@register
class WeightGradient(FunctionWorkload):
    """Gradient of a mean squared error with respect to an n x n weight matrix, for a batch:
    loss = mean((x W + b - y)^2), dloss/dW = 2 x^T (x W + b - y) / (batch n)."""

    name = "weight_gradient"
    family = "gradients"
    uses = ("matmul",)
    section = "3-5-3"
    sweeps = sweep(
        smoke=grid(n=[8], batch=[4]),
        quick=grid(n=[64, 512], batch=[128]),
        standard=grid(n=[64, 256, 1024, 2048], batch=[128]),
        full=grid(n=[64, 256, 1024, 4096], batch=[128, 1024]),
    )

    def __init__(self, n: int, batch: int, dtype: str = "float32"):
        super().__init__(n=n, batch=batch, dtype=dtype)
        self.n, self.batch = n, batch

    def make_inputs(self, rng):
        x = rng.standard_normal((self.batch, self.n))
        w = rng.standard_normal((self.n, self.n)) / np.sqrt(self.n)
        b = rng.standard_normal((self.n,))
        y = rng.standard_normal((self.batch, self.n))
        return x, w, b, y

    def compute_tf(self, x, w, b, y):
        with tf.GradientTape() as tape:
            tape.watch(w)
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
        return tape.gradient(loss, w)

    def reference(self, x, w, b, y):
        """The analytic gradient of the mean squared error, in float64."""
        residual = x @ w + b - y
        return 2.0 * x.T @ residual / residual.size

    def terms(self):
        return self.n + self.batch

    def flops(self):
        return 4.0 * self.batch * self.n * self.n  # the forward matmul and the gradient matmul

    def bytes(self):
        itemsize = self.itemsize
        return float(itemsize * (2 * self.n * self.n + 2 * self.batch * self.n + self.n))

    def items(self):
        return float(self.batch)
