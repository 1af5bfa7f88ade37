"""A TF32 stand-in for the CPU: TensorFlow's float32 matrix products and convolutions made to round as an
Ampere-or-newer GPU's tensor cores do with TF32 on, so that the TF32 precision rule can be tried here.

TF32 keeps float32's 8-bit exponent and 10 of its 23 mantissa bits: cuBLAS and cuDNN round each float32
operand of a matmul or convolution to it and accumulate in float32. The stand-in rounds both operands
(round to nearest on the 13 dropped bits) before the op, and in the backward pass rounds the gradient that
flows into it, so that the two matmuls of the backward pass also multiply rounded operands (the forward
operands they reuse are the rounded ones). Every entry point the workloads and Keras's TensorFlow backend
call is wrapped: tf.matmul / tf.linalg.matmul (Dense, LSTM, attention via Keras's einsum), tf.einsum,
tf.nn.convolution and tf.nn.conv2d. Non-float32 operands pass through.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

DROPPED_BITS = 13  # float32's 23 mantissa bits less TF32's 10


def round_to_tf32(x: tf.Tensor) -> tf.Tensor:
    """Each float32 element rounded to the nearest TF32 value (ties away from zero)."""
    bits = tf.bitcast(x, tf.int32)
    half = tf.constant(1 << (DROPPED_BITS - 1), tf.int32)
    mask = tf.constant(~((1 << DROPPED_BITS) - 1), tf.int32)
    return tf.bitcast(tf.bitwise.bitwise_and(bits + half, mask), tf.float32)


@tf.custom_gradient
def _rounded_operand(x):
    return round_to_tf32(x), lambda upstream: upstream


@tf.custom_gradient
def _rounding_gradient(y):
    return tf.identity(y), lambda upstream: round_to_tf32(upstream) if upstream.dtype == tf.float32 else upstream


def _as_tf32(fn, operands: int):
    """`fn` with its first `operands` float32 tensor arguments rounded, and its output's gradient rounded."""
    def wrapped(*args, **kwargs):
        args = list(args)
        if not all(isinstance(a, (tf.Tensor, tf.Variable)) or hasattr(a, "dtype") for a in args[:operands]):
            args[:operands] = [tf.convert_to_tensor(a) for a in args[:operands]]
        if not all(a.dtype == tf.float32 for a in args[:operands]):
            return fn(*args, **kwargs)
        args[:operands] = [_rounded_operand(tf.convert_to_tensor(a)) for a in args[:operands]]
        return _rounding_gradient(fn(*args, **kwargs))
    return wrapped


@contextlib.contextmanager
def tf32_standin():
    """Inside the block, TensorFlow's float32 matmuls and convolutions round as TF32 would."""
    targets = [(tf, "matmul", 2), (tf.linalg, "matmul", 2), (tf.nn, "convolution", 2), (tf.nn, "conv2d", 2)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in targets] + [(tf, "einsum", tf.einsum)]
    try:
        for owner, name, operands in targets:
            setattr(owner, name, _as_tf32(getattr(owner, name), operands))
        original_einsum = tf.einsum

        def einsum(equation, *inputs, **kwargs):
            return _as_tf32(lambda *xs, **kw: original_einsum(equation, *xs, **kw), len(inputs))(*inputs, **kwargs)
        tf.einsum = einsum
        yield
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
