"""Section 3-6-1: the chapter's SimpleDense Layer (listing 3.22, build/call/add_weight) against
keras.layers.Dense, in the 784-32-64-32-10 softmax Sequential stack of section 3-6-1."""

from __future__ import annotations

import itertools

import keras
import numpy as np

from .checks import assert_close
from .keras_backend import compile_for_mode, place, to_numpy
from .keras_workload import KerasWorkload, dense_forward_np
from .profiles import grid, sweep
from .registry import register

UNITS = (32, 64, 32, 10)
INPUT_DIM = 784


class SimpleDense(keras.layers.Layer):
    """Listing 3.22, written with keras.ops so that it runs under any Keras backend."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.W = self.add_weight(shape=(input_dim, self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        y = keras.ops.matmul(inputs, self.W) + self.b
        if self.activation is not None:
            y = self.activation(y)
        return y


LAYER_IMPLEMENTATIONS = {"simple_dense": SimpleDense, "keras_dense": keras.layers.Dense}


def dense_stack(impl: str, dtype: str = "float32") -> keras.Sequential:
    """784-32-64-32-10: relu hidden layers, softmax output, built with either Dense implementation."""
    layer = LAYER_IMPLEMENTATIONS[impl]
    activations = ["relu"] * (len(UNITS) - 1) + ["softmax"]
    return keras.Sequential(
        [keras.Input(shape=(INPUT_DIM,), dtype=dtype)]
        + [layer(units, activation=act) for units, act in zip(UNITS, activations)]
    )


@register
class DenseStackForward(KerasWorkload):
    """Forward pass (inference) of the dense stack on a batch of 784-feature vectors."""

    name = "dense_forward"
    family = "keras_layers"
    uses = ("matmul",)
    section = "3-6-1"
    sweeps = sweep(
        smoke=grid(impl=list(LAYER_IMPLEMENTATIONS), batch=[2]),
        quick=grid(impl=list(LAYER_IMPLEMENTATIONS), batch=[2, 512]),
        standard=grid(impl=list(LAYER_IMPLEMENTATIONS), batch=[2, 32, 512, 4096]),
        full=grid(impl=list(LAYER_IMPLEMENTATIONS), batch=[2, 32, 512, 4096, 32768]),
    )

    def __init__(self, impl: str, batch: int, dtype: str = "float32"):
        super().__init__(impl=impl, batch=batch, dtype=dtype)
        self.impl, self.batch = impl, batch

    def items(self):
        return float(self.batch)

    def flops(self):
        dims = (INPUT_DIM, *UNITS)
        return 2.0 * self.batch * sum(a * b for a, b in itertools.pairwise(dims))

    def setup(self, device, mode):
        self.seed_everything()
        self.model = dense_stack(self.impl, self.dtype)
        self.host_x = np.random.default_rng(0).random((self.batch, INPUT_DIM))
        self.x = place(self.host_x, self.dtype)
        self.forward = compile_for_mode(lambda x: self.model(x, training=False), mode)

    def step(self):
        return self.forward(self.x)

    def check(self, outputs):
        reference = dense_forward_np(self.host_x, self.model.layers)
        return assert_close(f"{self.impl} stack forward", to_numpy(outputs), reference, self.held_to(),
                            terms=INPUT_DIM)
