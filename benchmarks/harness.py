"""How one case is timed. Every benchmark goes through measure(); no workload is special-cased.

    setup (untimed) -> first call, synchronised, timed once = first_call_s -> check (untimed; a wrong
    answer fails the benchmark) -> pytest-benchmark calibrates and times the warm step, each call
    ending with a device synchronisation on asynchronous devices.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import pytest
from tensorbench.workloads.base import Workload
from tensorbench.workloads.devices import ASYNC_KINDS, Device, sync


@dataclass(frozen=True)
class Case:
    """One benchmark: a workload class with its parameters, on a device, in a mode."""

    workload: type[Workload]
    params: dict[str, Any]
    device: Device
    mode: str

    @property
    def id(self) -> str:
        """Readable pytest id: matmul-n1024-float32-cpu-graph."""
        params = {**self.params, "dtype": self.params.get("dtype", "float32")}
        parts = [self.workload.name] + [_param_id(k, v) for k, v in params.items()]
        return "-".join(parts + [self.device.id, self.mode])


def _param_id(key: str, value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "x".join(map(str, value))
    if isinstance(value, str):
        return value
    return f"{key}{value}"


def _json_ready(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def device_scope(device: Device):
    if device.tf_name is None:
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.device(device.tf_name)


def _peak_memory(device: Device, reset: bool = False) -> int | None:
    """Peak bytes allocated on a GPU since the last reset (not yet run on a GPU); None elsewhere."""
    if device.kind != "GPU":
        return None
    import tensorflow as tf

    try:
        if reset:
            tf.config.experimental.reset_memory_stats(device.tf_name)
            return None
        return int(tf.config.experimental.get_memory_info(device.tf_name)["peak"])
    except (ValueError, RuntimeError):
        return None


def measure(benchmark, case: Case) -> None:
    """Run `case` under pytest-benchmark, recording everything in benchmark.extra_info."""
    workload = case.workload(**case.params)
    reason = workload.unsupported(case.device, case.mode)
    if reason:
        pytest.skip(reason)
    device = case.device
    with device_scope(device):
        try:
            _peak_memory(device, reset=True)
            workload.setup(device, case.mode)

            start = time.perf_counter()
            outputs = workload.step()
            sync(device)
            first_call_s = time.perf_counter() - start
            verified = workload.check(outputs)
            del outputs

            benchmark.extra_info.update(
                workload=workload.name, family=workload.family, version=workload.version,
                section=workload.section, backend=workload.backend,
                device=device.id, device_kind=device.kind, device_name=device.name,
                mode=case.mode, dtype=workload.dtype,
                params={k: _json_ready(v) for k, v in workload.params.items()},
                flops=workload.flops(), bytes=workload.bytes(), items=workload.items(),
                first_call_s=first_call_s, check=verified,
            )
            benchmark.extra_info.update(workload.figures())

            if device.kind in ASYNC_KINDS:
                def timed():
                    workload.step()
                    sync(device)
            else:  # synchronous: time the step itself, with no wrapper call
                timed = workload.step
            benchmark(timed)
            peak = _peak_memory(device)
            if peak is not None:
                benchmark.extra_info["peak_memory_bytes"] = peak
        finally:
            workload.teardown()
