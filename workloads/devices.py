"""The device layer: which devices this process's framework can use, described as data, and how to
wait for them.

A device is a kind (CPU, GPU, TPU, or the `numpy` baseline pseudo-device), a TensorFlow device string
(or, under Keras's JAX or PyTorch backend, the name keras.device takes), a human name and a memory size.
A kind that is not present carries the reason instead. The same kinds mean the same hardware whichever
backend found them, so results of different backends line up.

The GPU and TPU branches are written against the frameworks' documented APIs; what of this has run on
which hardware is in docs/hardware.md.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("cpu", "gpu", "tpu", "numpy")
"""Device kinds as users type them on the command line."""

ASYNC_KINDS = ("GPU", "TPU")
"""Kinds whose ops return before the work is done, so every timed call must wait for them."""


@dataclass(frozen=True)
class Device:
    kind: str  # "CPU", "GPU", "TPU" or "numpy"
    index: int
    tf_name: str | None  # "/device:GPU:0"; None for numpy
    name: str  # "NVIDIA H100 80GB HBM3", "AMD EPYC 7B13", "NumPy 2.1.3"
    memory_bytes: int | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def id(self) -> str:
        """Short id for benchmark names and --devices: cpu, gpu:1, tpu:0, numpy."""
        if self.kind in ("numpy", "CPU"):
            return self.kind.lower()
        return f"{self.kind.lower()}:{self.index}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "tf_name": self.tf_name,
            "name": self.name,
            "memory_bytes": self.memory_bytes,
            **self.details,
        }


def backend(device: Device) -> str:
    """The framework that found the device: tensorflow, jax or torch (numpy's is TensorFlow's process)."""
    return device.details.get("backend", "tensorflow")


def must_wait(device: Device) -> bool:
    """Whether a call on `device` may return before its work is done. CPU ops in TensorFlow's eager
    runtime and tf.function calls return only when their outputs are computed, and sync_devices costs
    about 12 us there (measured on the development machine), which would double a dispatch-bound
    timing; so TensorFlow's CPU, PyTorch's CPU and NumPy are not synchronised. JAX dispatches
    asynchronously on every device, the CPU included."""
    return device.kind in ASYNC_KINDS or backend(device) == "jax"


def wait(device: Device, outputs=None) -> None:
    """Wait until the work that produced `outputs` has finished (with no outputs: everything queued,
    such as setup's copies), each framework its own way: jax.block_until_ready (on every live array when
    no outputs are given), torch.cuda.synchronize, TensorFlow's sync_devices on a GPU; on a TPU, where
    TensorFlow documents sync_devices as doing nothing, by fetching one element that depends on the
    outputs (the TPU runs a process's ops in order, so the last output's element comes after the rest)."""
    framework = backend(device)
    if framework == "jax":
        import jax

        # an array a later call took the buffer of (jax.jit's donate_argnums) is done when that call is
        jax.block_until_ready(jax.live_arrays() if outputs is None else
                              [a for a in jax.tree_util.tree_leaves(outputs) if not _deleted(a)])
    elif device.kind not in ASYNC_KINDS:
        return
    elif framework == "torch":
        import torch

        torch.cuda.synchronize(device.index)
    elif device.kind == "TPU":
        fetch_an_element(outputs)
    else:
        import tensorflow as tf

        tf.test.experimental.sync_devices()


def _deleted(value) -> bool:
    is_deleted = getattr(value, "is_deleted", None)
    return bool(is_deleted()) if callable(is_deleted) else False


def fetch_an_element(outputs) -> None:
    """Copy to the host one element of the last tensor among `outputs`: it cannot arrive before the op
    that made it has run. Outputs with no tensor (a Python float, fit's history) are on the host already."""
    import tensorflow as tf

    tensors = [leaf for leaf in tf.nest.flatten(outputs) if isinstance(leaf, (tf.Tensor, tf.Variable))]
    if tensors:
        tf.reshape(tensors[-1], [-1])[:1].numpy()


def host_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def last_level_cache_bytes(root: Path = Path("/sys/devices/system/cpu")) -> int | None:
    """The last-level cache this process can fill, as Linux's sysfs tells it: the sum of the distinct
    instances of the highest cache level that serve the CPUs it may run on (STREAM's "sum of all the
    last-level caches used in the run": two vCPUs on two AMD CCDs fill two L3s), or None elsewhere."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = [0]
    instances: dict[int, dict[str, int]] = {}
    for cpu in cpus:
        for index in (root / f"cpu{cpu}" / "cache").glob("index*"):
            try:
                level = int((index / "level").read_text())
                text = (index / "size").read_text().strip()
                shared_list = index / "shared_cpu_list"
                shared = shared_list.read_text().strip() if shared_list.exists() else f"cpu{cpu}"
                size = int(text.rstrip("KMG")) * {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
            except (OSError, ValueError):
                continue
            level_instances = instances.setdefault(level, {})
            level_instances[shared] = max(level_instances.get(shared, 0), size)
    return sum(instances[max(instances)].values()) if instances else None


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, or what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nvidia_smi_gpus() -> list[dict[str, Any]]:
    """GPUs the NVIDIA driver sees (name, memory), independent of TensorFlow; [] without nvidia-smi."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, mem_mib, driver = (part.strip() for part in line.split(","))
        gpus.append({"name": name, "memory_bytes": int(float(mem_mib)) * 2**20, "driver": driver})
    return gpus


def tpu_runtime_hint() -> str | None:
    """Where a TPU runtime may be found, or None: probing without a hint would query a metadata server."""
    for var in ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE"):
        if os.environ.get(var):
            return var
    if os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio/0"):
        return "/dev/accel0"
    return None


@functools.lru_cache(maxsize=1)
def _discover() -> tuple[tuple[Device, ...], tuple[tuple[str, str], ...]]:
    from .keras_backend import current

    framework = current()
    if framework == "jax":
        return _discover_jax()
    if framework == "torch":
        return _discover_torch()
    return _discover_tensorflow()


def _keras_device(framework: str, kind: str, index: int, name: str, memory: int | None = None,
                  **details: Any) -> Device:
    """A device found by JAX or PyTorch: keras.device takes "cpu:0", "gpu:0", "tpu:0". PyTorch's CPU is
    "cpu": under keras.device("cpu:0") Keras 3.15 moves each new torch Parameter with .to("cpu:0"), which
    copies it (torch's "cpu" is not "cpu:0"), and training then finds no gradients on the copies."""
    scope = "cpu" if (framework, kind) == ("torch", "CPU") else f"{kind.lower()}:{index}"
    return Device(kind, index, None, name, memory, {"backend": framework, "keras_device": scope, **details})


def _discover_jax() -> tuple[tuple[Device, ...], tuple[tuple[str, str], ...]]:
    import jax

    found = [_keras_device("jax", "CPU", 0, cpu_model(), host_memory_bytes(), cores=os.cpu_count())]
    missing = {}
    for kind in ("gpu", "tpu"):
        try:
            listed = jax.devices(kind)
        except RuntimeError:
            listed = []
        found.extend(_keras_device("jax", kind.upper(), i, d.device_kind) for i, d in enumerate(listed))
        if not listed:
            missing[kind] = f"no {kind.upper()} visible to JAX {jax.__version__}"
    return tuple(found), tuple(missing.items())


def _discover_torch() -> tuple[tuple[Device, ...], tuple[tuple[str, str], ...]]:
    import torch

    found = [_keras_device("torch", "CPU", 0, cpu_model(), host_memory_bytes(), cores=os.cpu_count())]
    for i in range(torch.cuda.device_count()):
        found.append(_keras_device("torch", "GPU", i, torch.cuda.get_device_name(i),
                                   torch.cuda.get_device_properties(i).total_memory))
    missing = {} if len(found) > 1 else {"gpu": f"no CUDA GPU visible to PyTorch {torch.__version__}"}
    missing["tpu"] = "Keras's PyTorch backend has no TPU"
    return tuple(found), tuple(missing.items())


def _discover_tensorflow() -> tuple[tuple[Device, ...], tuple[tuple[str, str], ...]]:
    import numpy as np
    import tensorflow as tf

    found: list[Device] = []
    missing: dict[str, str] = {}

    # One CPU device, whatever logical devices it was split into (MirroredStrategy's processes split it)
    cpus = tf.config.list_logical_devices("CPU")
    found.append(Device("CPU", 0, cpus[0].name, cpu_model(), host_memory_bytes(),
                        {"cores": os.cpu_count(), **({"logical_devices": len(cpus)} if len(cpus) > 1 else {})}))

    smi = nvidia_smi_gpus()
    gpus = tf.config.list_physical_devices("GPU")
    for i, physical in enumerate(gpus):
        details = tf.config.experimental.get_device_details(physical)
        cc = details.get("compute_capability")
        smi_row = smi[i] if i < len(smi) else {}
        found.append(Device(
            "GPU", i, f"/device:GPU:{i}", details.get("device_name", smi_row.get("name", "GPU")),
            smi_row.get("memory_bytes"),
            {"compute_capability": ".".join(map(str, cc)) if cc else None, "driver": smi_row.get("driver")},
        ))
    if not gpus:
        if smi and not tf.test.is_built_with_cuda():
            missing["gpu"] = (f"nvidia-smi sees {smi[0]['name']} but this TensorFlow was built without "
                              "CUDA: pip install 'tensorbench[gpu]'")
        elif smi:
            missing["gpu"] = (f"nvidia-smi sees {smi[0]['name']} but TensorFlow cannot open it "
                              "(CUDA or cuDNN libraries missing?)")
        else:
            missing["gpu"] = "no GPU visible to TensorFlow"

    hint = tpu_runtime_hint()
    if hint:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            for i, logical in enumerate(tf.config.list_logical_devices("TPU")):
                found.append(Device("TPU", i, logical.name, f"TPU ({os.environ.get('TPU_ACCELERATOR_TYPE', hint)})"))
        except (ValueError, RuntimeError, tf.errors.OpError) as exc:
            missing["tpu"] = f"TPU runtime hinted by {hint} but not usable: {exc}"
    if not any(d.kind == "TPU" for d in found) and "tpu" not in missing:
        missing["tpu"] = "no TPU runtime (TPU_NAME, COLAB_TPU_ADDR or /dev/accel0 not present)"

    found.append(Device("numpy", 0, None, f"NumPy {np.__version__}", host_memory_bytes()))
    return tuple(found), tuple(missing.items())


def discover() -> list[Device]:
    """Every device usable here, CPU first, the numpy baseline last."""
    return list(_discover()[0])


def missing() -> dict[str, str]:
    """Kinds (cpu, gpu, tpu) that are not usable here, with the reason for each."""
    return dict(_discover()[1])


def resolve(requested: list[str] | None) -> list[Device]:
    """Devices named by kind (gpu: all GPUs) or id (gpu:1); all present devices when None.

    The numpy baseline runs on the host CPU, so asking for the CPU brings it along: the chapter
    compares the two. Raises LookupError naming what is there when a requested device is not present.
    """
    present = discover()
    if not requested:
        return present
    chosen: list[Device] = []
    for want in requested:
        hits = [d for d in present if want in (d.id, d.kind.lower())]
        if not hits:
            reason = missing().get(want.split(":")[0], "not present")
            there = ", ".join(d.id for d in present)
            raise LookupError(f"device {want!r} is not available ({reason}); available: {there}")
        chosen.extend(d for d in hits if d not in chosen)
    if any(d.kind == "CPU" for d in chosen):
        chosen.extend(d for d in present if d.kind == "numpy" and d not in chosen)
    return chosen


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a device allocation failure: TensorFlow's ResourceExhaustedError, or an XLA or
    PyTorch one by its message (those frameworks raise generic error types)."""
    import sys

    tf = sys.modules.get("tensorflow")  # only where TensorFlow is loaded
    if tf is not None and isinstance(exc, tf.errors.ResourceExhaustedError):
        return True
    text = str(exc)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def device_scope(device: Device):
    """tf.device for TensorFlow's devices, keras.device for those JAX or PyTorch found; none for NumPy."""
    if device.details.get("keras_device"):
        import keras

        return keras.device(device.details["keras_device"])
    if device.tf_name is None:
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.device(device.tf_name)
