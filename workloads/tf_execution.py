"""How TensorFlow code runs in the catalogue: inputs placed on the device, and a function compiled for
a mode (eager, tf.function, XLA). In one place so that every workload runs the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context

from .base import CheckFailed


def compile_for_mode(fn: Callable[..., Any], mode: str) -> Callable[..., Any]:
    """`fn` as it runs in `mode`: itself (eager), tf.function (graph) or tf.function with XLA (xla)."""
    if mode == "eager":
        return fn
    if mode == "graph":
        return tf.function(fn)
    if mode == "xla":
        return tf.function(fn, jit_compile=True)
    raise ValueError(f"unknown mode {mode!r}")


def on_device(array: np.ndarray, dtype: str) -> tf.Tensor:
    """A tensor resident on the current tf.device, so that timed calls do not copy it from the host.

    tf.convert_to_tensor is not an op and ignores tf.device, so a NumPy value stays in host memory
    (tensorflow/tensorflow#42242); tf.identity of it is an op, runs on the device and returns a
    device-resident copy. Raises CheckFailed if the copy landed elsewhere.
    """
    return in_scope(tf.identity(tf.cast(tf.convert_to_tensor(array), dtype)))  # cast: float64 -> bfloat16 too


def current_device() -> str:
    """The innermost tf.device scope's name, "" outside any."""
    return context.context().device_name or ""


def in_scope(value):
    """`value` (a tensor or Variable), after checking that it lives on the current tf.device; raises
    CheckFailed if it landed elsewhere."""
    scope = current_device()
    if scope and _device_tail(value.device) != _device_tail(scope):
        raise CheckFailed(f"input landed on {value.device}, not on {scope}")
    return value


def _device_tail(name: str) -> str:
    """'/job:localhost/replica:0/task:0/device:CPU:0' -> 'CPU:0', the part two spellings share."""
    return name.split("device:")[-1].upper()
