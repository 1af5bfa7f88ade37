"""`tensorbench doctor [--require-gpu] [--json FILE]`: is this machine set up right, and is it as fast
as it should be? Each line is a check with its verdict and its reason; the machine's verdict is the
worst of them: pass, warn or fail.

Correctness reuses the catalogue's workloads and their float64 checks (matmul, conv2d, a weight
gradient, the chapter's training step). Speed is a quick best-of-N with the device synchronised, not a
benchmark: `tensorbench run` measures; doctor only says whether the numbers are in the right range.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

STATUSES = ("pass", "info", "warn", "fail")  # in increasing severity; info never changes the verdict
MATMUL_N = {"CPU": [1024, 2048], "GPU": [4096, 8192], "TPU": [4096, 8192]}
"""The ceiling finder's sweep, short (workloads/ceiling_finder.py): squares near where each kind saturates
(on the development CPU n=1024 gave 6% under n=4096); the best of them is the line's figure."""
COPY_BYTES = {"CPU": 256 * 2**20, "GPU": 1024 * 2**20, "TPU": 1024 * 2**20}
WELL_BELOW_DATASHEET = 0.5
WELL_BELOW_ACHIEVABLE = 0.8
"""Under these shares of the datasheet peak, or of what a healthy card of the kind reaches (mamf-finder,
scripts/ceilings.py), a matmul line warns. Judgement, not measurement: a square matmul is not the best
shape, so some distance from the healthy figure is expected."""


def cpu_info() -> dict:
    """py-cpuinfo's description of this CPU (pytest-benchmark's dependency), as the run's machine_info has it."""
    import cpuinfo

    return cpuinfo.get_cpu_info()


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class Check:
    name: str
    status: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.status.upper():5} {self.name}: {self.reason}"


def verdict(checks: list[Check]) -> str:
    worst = max((STATUSES.index(c.status) for c in checks), default=0)
    return {0: "pass", 1: "pass", 2: "warn", 3: "fail"}[worst]


def best_time(call, device, repeats: int = 20, warm: int = 5) -> float:
    """Fastest of `repeats` synchronised calls, after `warm` untimed ones (the calls just after the first
    are slower while memory and thread pools settle)."""
    from tensorbench.workloads.devices import wait

    for _ in range(warm):
        call()
    wait(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        wait(device, call())  # the call's own outputs: JAX waits for those it is given
        best = min(best, time.perf_counter() - start)
    return best


def environment_checks(require_gpu: bool) -> list[Check]:
    import keras
    from tensorbench.workloads import devices
    from tensorbench.workloads.environment import environment

    env = environment()
    backend = env["keras"]["backend"]
    framework = env.get(backend, {})
    checks = [Check("versions", "info", f"Python {platform.python_version()}, Keras {keras.__version__} ({backend} "
                    f"backend), {backend} {framework.get('version')}, NumPy {np.__version__}")]
    if backend == "tensorflow":
        build = framework["build_info"]
        checks += [
            Check("build", "info", f"TensorFlow built with CUDA: {build.get('is_cuda_build', False)}"
                  + (f" (CUDA {build.get('cuda_version')}, cuDNN {build.get('cudnn_version')})"
                     if build.get("is_cuda_build") else "")),
            Check("settings", "info", f"oneDNN {'on' if env['onednn_enabled'] else 'off'}, TF32 "
                  f"{'on' if env['tf32_enabled'] else 'off'}, threads inter/intra {env['threads']['inter_op']}/"
                  f"{env['threads']['intra_op']} (0: TensorFlow picks), {env['cpu_cores_usable']} usable cores, "
                  f"Keras precision policy {env['keras']['mixed_precision_policy']}"),
        ]
    else:
        settings = ", ".join(f"{k} {v}" for k, v in framework.items() if k != "version")
        checks.append(Check("settings", "info", f"{settings}, {env['cpu_cores_usable']} usable cores, Keras "
                            f"precision policy {env['keras']['mixed_precision_policy']}"))
    smi = devices.nvidia_smi_gpus()
    if smi:
        checks.append(Check("driver", "info", ", ".join(f"{g['name']} ({g['memory_bytes'] / 2**30:.0f} GiB)"
                                                        for g in smi) + f", driver {smi[0]['driver']}"))
    for name, growth in _memory_growth(backend):
        checks.append(Check(f"memory growth {name}", "info", "on" if growth else "off (TensorFlow reserves "
                            "most of the GPU's memory at start)"))
    present = devices.discover()
    listed = ", ".join(f"{d.id} ({d.name})" for d in present)
    checks.append(Check("devices", "pass", f"Keras on {backend} can use {listed}",
                        {"devices": [d.as_dict() for d in present]}))
    for kind, reason in devices.missing().items():
        driver_sees_it = kind == "gpu" and bool(smi)
        hinted_tpu = kind == "tpu" and "hinted" in reason
        if driver_sees_it or hinted_tpu:
            checks.append(Check(f"{kind} not usable", "fail", reason))
        elif kind == "gpu" and require_gpu:
            checks.append(Check("gpu required", "fail", f"--require-gpu, but {reason}"))
        else:
            checks.append(Check(f"no {kind}", "info", reason))
    return checks


def _memory_growth(backend: str) -> list[tuple[str, bool]]:
    """Each GPU TensorFlow sees and whether its memory grows as needed (TensorFlow's backend only)."""
    if backend != "tensorflow":
        return []
    import tensorflow as tf

    return [(gpu.name, tf.config.experimental.get_memory_growth(gpu)) for gpu in tf.config.list_physical_devices("GPU")]


def compiled_mode() -> str:
    """The mode doctor runs its workloads in: the compiled one of this process's Keras backend (base.COMPILED)."""
    from tensorbench.workloads.base import COMPILED
    from tensorbench.workloads.keras_backend import current

    return COMPILED[current()]


def backend_workloads() -> SimpleNamespace:
    """What doctor runs under this process's Keras backend, in one place: `checked` (label, workload) pairs,
    `matmul(n, dtype)`, the `Stream` ceiling and the training `loop`. Under TensorFlow the chapter's
    workloads, the ceiling finder's matmul and the custom loop (GradientTape); under JAX or PyTorch the Keras
    workloads that run there: a matmul, and a CNN's training step (convolutions, a dense layer's matmul and
    their gradients against its float64 twin), the Keras ceilings, and fit."""
    from tensorbench.workloads.keras_backend import current
    from tensorbench.workloads.model_training import Train

    if current() != "tensorflow":
        from tensorbench.workloads.keras_ceilings import PeakMatmul, Stream

        return SimpleNamespace(
            checked=[("matmul", PeakMatmul(size=256)),
                     ("CNN training step", Train(model="cnn28", batch_size=32, samples=64))],
            matmul=lambda n, dtype: PeakMatmul(size=n, dtype=dtype), Stream=Stream, loop="fit")
    from tensorbench.workloads.ceiling_finder import MatmulShape
    from tensorbench.workloads.ceilings import Stream
    from tensorbench.workloads.gradients import WeightGradient
    from tensorbench.workloads.linear_classifier import LinearClassifier
    from tensorbench.workloads.tensor_ops import Conv2D, MatMul

    return SimpleNamespace(
        checked=[("matmul", MatMul(n=256)), ("convolution", Conv2D(batch=4, size=16, channels=16)),
                 ("gradient", WeightGradient(n=128, batch=64)), ("training step", LinearClassifier())],
        matmul=lambda n, dtype: MatmulShape(m=n, k=n, n=n, dtype=dtype), Stream=Stream, loop="custom")


def correctness_checks(device) -> list[Check]:
    """Each workload's own float64 check, on this device, in the backend's compiled mode."""
    from tensorbench.workloads.base import CheckFailed
    from tensorbench.workloads.devices import device_scope

    checks = []
    for label, workload in backend_workloads().checked:
        workload.device = device  # the precision rule reads it: an Ampere card's float32 matmul is TF32's
        try:
            with device_scope(device):
                workload.setup(device, compiled_mode())
                checks.append(Check(f"{label} correct on {device.id}", "pass", workload.check(workload.step())))
        except CheckFailed as exc:
            checks.append(Check(f"{label} correct on {device.id}", "fail", str(exc)))
        finally:
            workload.teardown()
    return checks


def _matmul_gflops(device, n: int, dtype: str) -> float:
    from tensorbench.workloads.devices import device_scope

    workload = backend_workloads().matmul(n, dtype)
    with device_scope(device):
        workload.setup(device, compiled_mode())
        seconds = best_time(workload.step, device)
    flops = workload.flops()
    workload.teardown()
    return flops / seconds / 1e9


def speed_checks(device) -> list[Check]:
    from tensorbench.workloads.devices import device_scope
    from tensorbench.workloads.keras_backend import place, to_numpy
    from tensorbench.workloads.precision import arithmetic

    from .ceilings import achievable_peak, datasheet_peak, derived_cpu_peak, derived_share

    checks = []
    dtypes = ["float32"] + (["bfloat16", "float16"] if device.kind in ("GPU", "TPU") else [])
    for dtype in dtypes:
        gflops, n = max((_matmul_gflops(device, n, dtype), n) for n in MATMUL_N[device.kind])
        precision = arithmetic(device, dtype, ("matmul",))[0]  # the published figure for what the matmul ran in
        figures = {"device": device.id, "dtype": dtype, "n": n, "gflops": gflops}
        reason = f"{gflops:,.0f} GFLOP/s (best of n={', '.join(map(str, MATMUL_N[device.kind]))}, at n={n})"
        status, shares = "info", []
        healthy = achievable_peak(device.name, precision)
        if healthy:
            figures.update(achievable=healthy[0], achievable_gflops=healthy[1], pct_of_achievable=100 * gflops / healthy[1])
            shares.append(f"{100 * gflops / healthy[1]:.0f}% of what a healthy {healthy[0]}")
            status = "warn" if gflops / healthy[1] < WELL_BELOW_ACHIEVABLE else "pass"
        peak = datasheet_peak(device.name, precision)
        if peak:
            figures.update(datasheet=peak[0], datasheet_gflops=peak[1], pct_of_datasheet=100 * gflops / peak[1])
            shares.append(f"{100 * gflops / peak[1]:.0f}% of the {peak[0]} peak")
            if not healthy:
                status = "warn" if gflops / peak[1] < WELL_BELOW_DATASHEET else "pass"
        derived = derived_cpu_peak(cpu_info(), cpu_cores()).get(dtype) if device.kind == "CPU" else None
        if derived:
            figures.update(derived_peak_gflops=derived, pct_of_derived=100 * gflops / derived)
            shares.append(derived_share(gflops, derived))
        reason += f", {'; '.join(shares)}" if shares else f" (no published or derived peak known for {device.name})"
        if status == "warn":
            reason += " (well under: clocks, power, thermals or a busy device?)"
        checks.append(Check(f"matmul {dtype} on {device.id}", status, reason, figures))

    checks.append(bandwidth_check(device))
    size = COPY_BYTES[device.kind]
    if device.kind in ("GPU", "TPU"):
        host = np.ones((size // 4,), np.float32)
        with device_scope(device):
            h2d = best_time(lambda: place(host, "float32"), device)
            on_device = place(host, "float32")
            d2h = best_time(lambda: to_numpy(on_device), device)
        checks.append(Check(f"transfers {device.id}", "info", f"host to device {size / h2d / 1e9:,.1f} GB/s, device "
                            f"to host {size / d2h / 1e9:,.1f} GB/s", {"h2d_gbps": size / h2d / 1e9,
                                                                       "d2h_gbps": size / d2h / 1e9}))
    return checks


def bandwidth_check(device) -> Check:
    """The stream ceiling (workloads/ceilings.py, keras_ceilings.py): x += y in place, beyond the caches. An
    out-of-place x * 1 allocates a fresh output at every call and measures its page faults, not the memory
    (docs/workstation.md)."""
    from tensorbench.workloads.devices import device_scope

    stream = backend_workloads().Stream(size="saturating")

    def step():  # what the step wrote, for the wait: TensorFlow's x, updated in place and not returned
        outputs = stream.step()
        written = stream.in_place()
        return outputs if written is None else written

    try:
        with device_scope(device):
            stream.setup(device, compiled_mode())
            stream.check(stream.step())
            seconds = best_time(step, device)
        bandwidth = stream.bytes() / seconds / 1e9
        array_mib = stream.elements * stream.itemsize / 2**20
    finally:
        stream.teardown()
    return Check(f"memory bandwidth on {device.id}", "info",
                 f"{bandwidth:,.1f} GB/s from x += y in place over two arrays of {array_mib:,.0f} MiB (stream)",
                 {"device": device.id, "gbps": bandwidth, "bytes": 3 * array_mib * 2**20})


def training_speedup(cpu, accelerator) -> Check:
    """The chapter MLP's training, one epoch of 512 samples, on the CPU and an accelerator: the custom loop
    (GradientTape) under TensorFlow, fit elsewhere (the custom loop is TensorFlow's)."""
    from tensorbench.workloads.devices import device_scope
    from tensorbench.workloads.model_training import Train

    seconds = {}
    for device in (cpu, accelerator):
        workload = Train(model="mlp", batch_size=128, samples=512, loop=backend_workloads().loop)
        with device_scope(device):
            workload.setup(device, compiled_mode())
            seconds[device.id] = best_time(workload.step, device, repeats=3)
        workload.teardown()
    ratio = seconds[cpu.id] / seconds[accelerator.id]
    return Check(f"training speedup {accelerator.id} over cpu", "pass" if ratio > 1 else "warn",
                 f"{ratio:.1f}x on one MLP epoch (512 samples, batch 128): {seconds[cpu.id] * 1e3:.1f} ms "
                 f"against {seconds[accelerator.id] * 1e3:.1f} ms", {"ratio": ratio, "seconds": seconds})


def diagnose(require_gpu: bool = False) -> list[Check]:
    from tensorbench.workloads import devices

    checks = environment_checks(require_gpu)
    compute = [d for d in devices.discover() if d.kind in ("CPU", "GPU", "TPU")]
    for device in compute:
        checks.extend(correctness_checks(device))
    for device in compute:
        checks.extend(speed_checks(device))
    cpu = next((d for d in compute if d.kind == "CPU"), None)
    checks.extend(training_speedup(cpu, d) for d in compute if d.kind != "CPU" and cpu)
    return checks


def beside_published(run_paths: list[str]) -> list[Check]:
    """A run's reference-model figures (tensorbench run --only reference_models) beside the closest published
    ones (scripts/published.csv): doctor does not train ResNet-50 itself, it reads what a run measured."""
    from . import published, results

    table = results.load(run_paths)
    shown = published.beside_published(table)
    if shown.empty:
        return [Check("beside published figures", "info", f"{', '.join(run_paths)} holds no reference-model row "
                      "with a published counterpart (tensorbench run --profile standard --only reference_models)")]
    return [Check("beside published figures", "info", line, {"source": source})
            for line, source in zip(published.sentences(shown), shown["source"])]


def doctor(require_gpu: bool = False, json_path: str | None = None, run_paths: list[str] | None = None) -> int:
    """Print every check and the verdict; exit status 0 for pass or warn, 1 for fail."""
    from tensorbench.workloads.environment import environment

    from .native_log import captured_native_stderr

    published_lines = beside_published(run_paths) if run_paths else []  # a bad file is an error before any work
    started = time.perf_counter()
    with captured_native_stderr() as startup:
        checks = diagnose(require_gpu) + published_lines
    for check in checks:
        print(check.line())
    result = verdict(checks)
    print(f"\nverdict: {result.upper()} ({time.perf_counter() - started:.0f} s)")
    if json_path:
        document = {"verdict": result, "checks": [asdict(c) for c in checks], "environment": environment(),
                    "tensorflow_startup_log": startup.text}
        with open(json_path, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2, default=str)
    return 1 if result == "fail" else 0
