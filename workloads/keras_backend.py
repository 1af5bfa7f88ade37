"""What differs between Keras 3's backends (TensorFlow, JAX, PyTorch), in one place, so that the Keras
workloads run unchanged under each: the modes each backend has, inputs placed on the device, a function
compiled for a mode, and model.compile's switches. The backend is fixed when Keras is imported
(KERAS_BACKEND), so `tensorbench run --backends` runs each backend in its own process.

Nothing here imports TensorFlow unless TensorFlow is the backend: the Keras workloads run where only
JAX or PyTorch is installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from .base import KERAS_BACKENDS

__all__ = ["BACKEND_MODES", "KERAS_BACKENDS", "compile_for_mode", "compile_options", "current", "place", "to_numpy"]
BACKEND_MODES = {
    "tensorflow": ("eager", "graph", "xla"),  # run_eagerly; tf.function; tf.function(jit_compile=True)
    "jax": ("eager", "xla"),  # run_eagerly; jax.jit (XLA): JAX has no graph mode apart from XLA
    "torch": ("eager",),  # torch.compile is neither a TensorFlow graph nor XLA: not measured yet
}


COMPILED = {"tensorflow": "graph", "jax": "xla", "torch": "eager"}
"""Each backend's compiled mode, the one it runs where a profile asks TensorFlow's graph mode
(run_rules.py): JAX compiles with XLA; PyTorch's Keras has no compiled mode yet."""


def modes_here(modes: tuple[str, ...]) -> tuple[str, ...]:
    """`modes` as this process's backend runs them: graph as its compiled mode (COMPILED)."""
    return tuple(dict.fromkeys(COMPILED[current()] if mode == "graph" else mode for mode in modes))


def current() -> str:
    """The backend Keras was imported with in this process."""
    return keras.config.backend()


def mode_unavailable(mode: str) -> str | None:
    """Why this process's backend has no `mode`, or None."""
    backend = current()
    if mode in BACKEND_MODES[backend]:
        return None
    return f"Keras on {backend} has no {mode} mode (it has {', '.join(BACKEND_MODES[backend])})"


def place(array: np.ndarray, dtype: str) -> Any:
    """An input tensor resident on the device of the current device scope (tf.device or keras.device)."""
    if current() == "tensorflow":
        from .tf_execution import on_device  # convert_to_tensor ignores tf.device there: see on_device

        return on_device(array, dtype)
    return keras.ops.convert_to_tensor(np.asarray(array), dtype=dtype)


def compile_for_mode(fn: Callable[..., Any], mode: str) -> Callable[..., Any]:
    """`fn` as it runs in `mode` under this backend: as is (eager), traced (graph), XLA-compiled (xla)."""
    backend = current()
    if backend == "tensorflow":
        from . import tf_execution

        return tf_execution.compile_for_mode(fn, mode)
    if mode == "eager":
        return fn
    if backend == "jax" and mode == "xla":
        import jax

        return jax.jit(fn)
    raise ValueError(f"Keras on {backend} has no {mode} mode")


def compile_options(mode: str) -> dict[str, Any]:
    """model.compile() switches for a mode: run_eagerly for eager; jit_compile off (graph) or on (xla)."""
    return {
        "eager": {"run_eagerly": True, "jit_compile": False},
        "graph": {"run_eagerly": False, "jit_compile": False},
        "xla": {"run_eagerly": False, "jit_compile": True},
    }[mode]


def to_numpy(value: Any) -> np.ndarray:
    """Outputs of a step (a tensor of any backend, a tf.Variable, an array, a scalar) as NumPy, for checks
    only: the one conversion every workload uses."""
    if isinstance(value, np.ndarray):
        return value
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(value, (tf.Tensor, tf.Variable)) and tf.executing_eagerly():
        # a view where TensorFlow allows one (a CPU tensor): keras's np.array() copies, and a copy of a
        # 1 GiB stream array took 4.7 s on a VM's fresh pages. A Variable updated later copies its
        # buffer while the view lives (copy on write): the view keeps the values it was taken with.
        return np.asarray(tf.convert_to_tensor(value))
    return np.asarray(keras.ops.convert_to_numpy(value))
