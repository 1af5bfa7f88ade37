"""The one rule for the arithmetic a float32 case really ran in, and so the precision its check holds it to.

A float32 matmul or convolution is not always float32 arithmetic: on NVIDIA GPUs from Ampere on
(compute capability 8.0), TensorFlow rounds their inputs to TF32's 10-bit mantissa unless TF32 is turned
off, JAX does so at its default matmul precision, and PyTorch does so for convolutions (cuDNN's
allow_tf32, on by default) and for matmuls only when asked (allow_tf32, "high" precision). A TPU
multiplies float32 in bfloat16 passes at JAX's default precision. A check that held such a result to
float32's 1e-6 would call a healthy card faulty; one that held every result to TF32's 1e-3 would let a
1e-4 error pass on a CPU. So every workload asks this module (Workload.held_to), and each row records
the rule it was held to and why (extra_info.precision_rule; docs/workloads.md, "Precision").

Nothing here imports a framework that the process has not loaded: the rule reads the settings of the
framework that found the device.
"""

from __future__ import annotations

import sys

from .devices import Device, backend

TF32_CAPABILITY = (8, 0)
"""The first NVIDIA compute capability with TF32 tensor cores (Ampere, A100); older cards run float32."""

TENSOR_OPS = ("matmul", "conv")
"""The ops whose float32 inputs an accelerator may round: matrix products (Dense, LSTM, attention,
einsum) and convolutions."""


def arithmetic(device: Device | None, dtype: str, uses: tuple[str, ...]) -> tuple[str, str]:
    """(the precision a `dtype` result is held to, why) for a case on `device` whose step uses `uses`
    (some of TENSOR_OPS). Only float32 changes: other dtypes are held to themselves."""
    if dtype != "float32" or not set(uses) & set(TENSOR_OPS):
        return dtype, f"{dtype} arithmetic"
    if device is None or device.kind not in ("GPU", "TPU"):
        return "float32", "float32 on the CPU"
    framework = backend(device)
    if device.kind == "TPU":
        return "bfloat16", (f"float32 {'/'.join(uses)} on a TPU ({framework}): bfloat16 passes at the default "
                            "precision (not yet run on a TPU)")
    capability = compute_capability(device)
    if capability is not None and capability < TF32_CAPABILITY:
        return "float32", f"compute capability {'.'.join(map(str, capability))}: no TF32 tensor cores"
    rounded = [op for op in uses if op in TENSOR_OPS and tf32_on(framework, op)]
    if rounded:
        return "tf32", f"float32 {'/'.join(rounded)} in TF32 on this GPU ({tf32_setting(framework, rounded[0])})"
    return "float32", f"TF32 off ({tf32_setting(framework, uses[0])})"


def compute_capability(device: Device) -> tuple[int, ...] | None:
    """The GPU's compute capability where its framework told it (TensorFlow's device details, JAX's
    device, torch.cuda), else None: unknown is treated as TF32-capable, the looser and safer side."""
    text = device.details.get("compute_capability")
    if text:
        return tuple(int(part) for part in str(text).split("."))
    framework = backend(device)
    try:
        if framework == "torch" and "torch" in sys.modules:
            return tuple(sys.modules["torch"].cuda.get_device_capability(device.index))
        if framework == "jax" and "jax" in sys.modules:
            found = sys.modules["jax"].devices("gpu")[device.index]
            return tuple(int(part) for part in str(found.compute_capability).split("."))
    except (AttributeError, IndexError, RuntimeError, ValueError):
        return None
    return None


def tf32_on(framework: str, op: str) -> bool:
    """Whether `framework`, as set now in this process, lets an Ampere-or-newer GPU run float32 `op` in TF32."""
    if framework == "jax":
        import jax

        return str(jax.config.jax_default_matmul_precision or "default").lower() not in ("highest", "float32")
    if framework == "torch":
        import torch

        if op == "conv":
            return bool(torch.backends.cudnn.allow_tf32)
        return bool(torch.backends.cuda.matmul.allow_tf32) or torch.get_float32_matmul_precision() != "highest"
    import tensorflow as tf

    return bool(tf.config.experimental.tensor_float_32_execution_enabled())


def tf32_setting(framework: str, op: str) -> str:
    """The switch that decides TF32 for `op` under `framework`, as a user would set it."""
    return {"jax": "jax_default_matmul_precision",
            "torch": "torch.backends.cudnn.allow_tf32" if op == "conv" else "torch.backends.cuda.matmul.allow_tf32",
            }.get(framework, "tf.config.experimental.enable_tensor_float_32_execution")
