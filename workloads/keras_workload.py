"""KerasWorkload, the base of every Keras workload (seeding, clean-up between benchmarks), with what
they share: a float64 NumPy forward pass for checks and what was in force when a model was compiled.
Keras 3 APIs only."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from . import keras_backend
from .base import Workload
from .devices import ASYNC_KINDS, discover

NUMPY_ACTIVATIONS = {
    None: lambda z: z,
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(
        -1, keepdims=True),
}


def dense_forward_np(x: np.ndarray, layers: list[Any]) -> np.ndarray:
    """Forward pass of Dense-like layers in float64, from their own weights: the check's reference."""
    h = np.asarray(x, dtype=np.float64)
    for layer in layers:
        kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
        activation = getattr(layer.activation, "__name__", None) if layer.activation else None
        h = NUMPY_ACTIVATIONS[activation](h @ kernel + bias)
    return h


def restore(model: keras.Model, optimizer: keras.optimizers.Optimizer, weights: list, optimizer_state: list) -> None:
    """The model's weights and the optimizer's state (its step count, moments, loss scale) back to those
    given: where training started, so that a check can step or train again from there."""
    model.set_weights(weights)
    for variable, value in zip(optimizer.variables, optimizer_state):
        variable.assign(value)


def compiled_settings(model: keras.Model) -> dict[str, Any]:
    """What Keras had in force for this model: Keras may turn XLA on by itself on GPU hosts."""
    return {
        "jit_compile": bool(model.jit_compile),
        "run_eagerly": bool(model.run_eagerly),
        "steps_per_execution": int(model.steps_per_execution),
        "keras_backend": keras.backend.backend(),
    }


class KerasWorkload(Workload):
    """A workload that builds Keras models: seeded, and Keras's global state cleared afterwards."""

    def unsupported(self, device, mode):
        """A workload's graph mode is its backend's compiled one there (keras_backend.modes_here): PyTorch's
        Keras trains in eager mode only, where a workload that leaves eager out (run_eagerly, Keras's
        debugging switch) still runs."""
        if device.kind != "numpy" and mode not in self.modes and mode in keras_backend.modes_here(self.modes):
            return keras_backend.mode_unavailable(mode)
        return super().unsupported(device, mode) or keras_backend.mode_unavailable(mode)

    def seed_everything(self, seed: int = 0) -> None:
        keras.utils.set_random_seed(seed)

    def teardown(self) -> None:
        """Clear Keras's global state. On a machine with an accelerator, also collect garbage, so that
        device memory held by reference cycles in the model is free before the next benchmark; on a CPU
        machine that collection cost 0.23 s per benchmark and bought nothing."""
        super().teardown()
        keras.utils.clear_session(free_memory=any(d.kind in ASYNC_KINDS for d in discover()))
