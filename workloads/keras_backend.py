"""What differs between Keras 3's backends (TensorFlow, JAX, PyTorch), in one place, so that the Keras
workloads run unchanged under each: the modes each backend has, inputs placed on the device, a function
compiled for a mode, and model.compile's switches. The backend is fixed when Keras is imported
(KERAS_BACKEND), so `tensorbench run --backends` runs each backend in its own process.

Nothing here imports TensorFlow unless TensorFlow is the backend: the Keras workloads run where only
JAX or PyTorch is installed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from .base import COMPILED, KERAS_BACKENDS

__all__ = ["BACKEND_MODES", "KERAS_BACKENDS", "Batches", "compile_for_mode", "compile_options", "current",
           "float64_arithmetic", "loss_and_gradients", "on_cpu", "place", "to_numpy"]
BACKEND_MODES = {
    "tensorflow": ("eager", "graph", "xla"),  # run_eagerly; tf.function; tf.function(jit_compile=True)
    "jax": ("eager", "xla"),  # run_eagerly; jax.jit (XLA): JAX has no graph mode apart from XLA
    "torch": ("eager",),  # torch.compile is neither a TensorFlow graph nor XLA: not measured yet
}


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


def on_cpu():
    """The host CPU's scope, where the float64 references run, each backend its own way (keras.device would do
    it for all three; whether the lowest Keras this project allows has it was not checked)."""
    backend = current()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.device("/CPU:0")
    if backend == "jax":
        import jax

        return jax.default_device(jax.devices("cpu")[0])
    return keras.device("cpu")  # not "cpu:0": see devices._keras_device


@contextlib.contextmanager
def float64_arithmetic() -> Iterator[None]:
    """Inside it float64 computes in float64: JAX holds float64 arrays as float32, silently, unless
    jax_enable_x64 is on, so it is on here (in this block only: on for the whole process, it would change
    the default dtypes of the rows timed); the other backends always do."""
    if current() != "jax":
        yield
        return
    import jax
    import jax.experimental

    older = getattr(jax.experimental, "enable_x64", None)  # JAX before 0.5
    with (older() if older is not None else jax.enable_x64(True)):
        yield


def loss_and_gradients(model: keras.Model, loss_fn, x, y, training: bool = True) -> tuple[Any, Any, list[Any]]:
    """One forward and backward pass of `model` on (x, y), each backend its own documented way: the
    outputs, the loss, and the gradients of the loss with respect to the trainable variables."""
    backend = current()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = model(x, training=training)
            loss = loss_fn(y, outputs)
        return outputs, loss, [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]
    if backend == "jax":
        import jax

        def forward(trainable, non_trainable):
            outputs, _ = model.stateless_call(trainable, non_trainable, x, training=training)
            return loss_fn(y, outputs), outputs

        (loss, outputs), gradients = jax.value_and_grad(forward, has_aux=True)(
            [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])
        return outputs, loss, list(gradients)
    for variable in model.trainable_variables:  # torch: autograd on the variables' tensors
        variable.value.grad = None
    outputs = model(x, training=training)
    loss = loss_fn(y, outputs)
    loss.backward()
    return outputs.detach(), loss.detach(), [v.value.grad for v in model.trainable_variables]


class Batches(keras.utils.PyDataset):
    """Batches made before timing (on the device), cycled for `steps` steps: how Keras is fed without tf.data
    under JAX and PyTorch. A PyDataset with no workers is read in the training loop's own thread."""

    def __init__(self, batches: list[tuple[Any, Any]], steps: int):
        super().__init__()
        self.batches, self.steps = batches, steps

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.batches[index % len(self.batches)]
