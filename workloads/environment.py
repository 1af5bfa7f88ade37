"""What a number depends on besides the hardware: framework versions, build, devices and the
settings that change speed (Keras's backend, oneDNN, TF32, threads, precision policy). Stored with every run as
pytest-benchmark's machine_info, so that no result is separated from the machine it came from."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from . import devices

SPEED_ENVIRONMENT = (
    "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_DEFAULT_FPMATH_MODE", "TF_XLA_FLAGS", "XLA_FLAGS", "OMP_NUM_THREADS",
    "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_GPU_ALLOCATOR", "TF_FORCE_GPU_ALLOW_GROWTH",
    "NVIDIA_TF32_OVERRIDE", "CUDA_VISIBLE_DEVICES", "KERAS_BACKEND", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS",
)
"""Environment variables that change what TensorFlow, XLA, oneDNN or BLAS do."""


def _onednn_enabled() -> bool | None:
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def _numpy_blas() -> dict[str, Any]:
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
        return dict(config.get("Build Dependencies", {}).get("blas", {}))
    except (TypeError, AttributeError):  # NumPy < 1.26 has no mode="dicts"
        return {}


def _framework(backend: str) -> dict[str, Any]:
    """The version, build and speed settings of the framework that runs Keras in this process."""
    if backend == "jax":
        import jax

        return {"jax": {"version": jax.__version__, "default_backend": jax.default_backend(),
                        "x64_enabled": bool(jax.config.jax_enable_x64)}}
    if backend == "torch":
        import torch

        return {"torch": {"version": torch.__version__, "cuda": torch.version.cuda,
                          "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                          "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
                          "threads": torch.get_num_threads()}}
    import tensorflow as tf

    build = {k: v for k, v in tf.sysconfig.get_build_info().items() if isinstance(v, (str, int, bool, float))}
    return {
        "tensorflow": {"version": tf.__version__, "git_version": tf.version.GIT_VERSION, "build_info": build},
        "onednn_enabled": _onednn_enabled(),
        "tf32_enabled": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
        "threads": {"inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
                    "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "note": "0 means TensorFlow picks (one per usable core)"},
    }


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """Everything above, as a JSON-ready dict (collected once per process)."""
    import keras
    import numpy as np

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "tensorbench_python": sys.version.split()[0],
        "keras": {"version": keras.__version__, "backend": keras.backend.backend(),
                  "mixed_precision_policy": keras.mixed_precision.global_policy().name},
        **_framework(keras.backend.backend()),
        "numpy": {"version": np.__version__, "blas": _numpy_blas()},
        "cpu_model": devices.cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": affinity,
        "last_level_cache_bytes": devices.last_level_cache_bytes(),
        "host_memory_bytes": devices.host_memory_bytes(),
        "devices": [d.as_dict() for d in devices.discover()],
        "missing_devices": devices.missing(),
        "environment": {k: os.environ[k] for k in SPEED_ENVIRONMENT if k in os.environ},
    }
