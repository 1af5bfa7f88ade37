"""Cases: what one benchmark is (a workload class, its parameters, a device, a mode), and the list of
cases a profile, a device list, a mode list and an --only selection make. One function makes that list,
for pytest's parametrization and for the command line's checks alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import registry
from .base import MODES, Workload
from .devices import Device
from .run_rules import RunRules, rules


@dataclass(frozen=True)
class Case:
    """One benchmark: a workload class with its parameters, on a device, in a mode."""

    workload: type[Workload]
    params: dict[str, Any]
    device: Device
    mode: str
    backend: str = "tensorflow"  # Keras's backend in the process that runs it

    @property
    def rules(self) -> RunRules:
        """How the runner treats this case (run_rules.py): its process, lockstep, isolation."""
        return rules(self.workload.family)

    @property
    def label(self) -> str:
        """The workload and its parameters, whatever the device and mode: matmul-n1024-float32."""
        params = {**self.params, "dtype": self.params.get("dtype", "float32")}
        return "-".join([self.workload.name] + [_param_id(k, v) for k, v in params.items()])

    @property
    def id(self) -> str:
        """Readable pytest id: matmul-n1024-float32-cpu-graph; fit-batch_size128-float32-cpu-xla-jax
        under another Keras backend than TensorFlow."""
        return "-".join([self.label, self.device.id, self.mode] + ([self.backend] if self.backend != "tensorflow" else []))


def _param_id(key: str, value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "x".join(map(str, value))
    if isinstance(value, str):
        return value
    return f"{key}{value}"


def _profile_modes(cls: type[Workload], profile: str, modes_here) -> tuple[str, ...]:
    """The modes the profile runs the workload's family in (all where run_rules.py names none); where it
    names graph mode, the backend's compiled mode under JAX and PyTorch (keras_backend.modes_here)."""
    named = rules(cls.family).profile_modes.get(profile)
    return MODES if named is None else modes_here(named)


def enumerate_cases(profile: str, devices: list[Device], modes: list[str], only: list[str] | None = None,
                    dtypes: list[str] | None = None) -> list[Case]:
    """Every case to run under this process's Keras backend, in catalogue order; with `dtypes`, of the
    cases that have a `dtype` parameter only those in it (a case without one, a STREAM kernel or a Keras
    precision policy, stays). The numpy baseline takes
    only workloads that have one, in eager mode and its dtypes; a workload may run fewer modes in a profile
    (run_rules.py; the numpy baseline is eager whatever the profile). Neither is a skip: those cases are
    not benchmarks. A workload's own limits (unsupported()) stay in, and become skips."""
    from .keras_backend import current, modes_here

    backend = current()
    return [
        Case(cls, params, device, mode, backend)
        for cls in registry.select(only).values()
        for params in cls.sweeps[profile]
        for device in devices
        for mode in modes
        if (device.kind != "numpy" or (cls.numpy_baseline and mode == "eager"
                                       and params.get("dtype", "float32") in cls.numpy_dtypes))
        and (device.kind == "numpy" or mode in _profile_modes(cls, profile, modes_here))
        and (not dtypes or params.get("dtype", dtypes[0]) in dtypes)
    ]
