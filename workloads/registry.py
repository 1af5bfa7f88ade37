"""The catalogue: every workload class, found by name, family or chapter section.

The catalogue modules import their framework, so they load on first use, not on import of this module:
the command line can reject a bad profile or mode before paying for TensorFlow's import.
"""

from __future__ import annotations

import importlib

from .base import KERAS_BACKENDS as ANY_KERAS_BACKEND
from .base import Workload
from .run_rules import rules

TENSORFLOW = ("tensorflow",)
CATALOGUE_MODULES = {
    "ceilings": TENSORFLOW,  # 3-5-2's matmul and add, at the sizes that show what the device can do
    "tensors": TENSORFLOW,  # 3-5-1
    "tensor_ops": TENSORFLOW,  # 3-5-2
    "gradients": TENSORFLOW,  # 3-5-3
    "linear_classifier": TENSORFLOW,  # 3-5-4
    "keras_layers": ANY_KERAS_BACKEND,  # 3-6-1
    "keras_fit": ANY_KERAS_BACKEND,  # 3-6-3 .. 3-6-7
    "model_training": ANY_KERAS_BACKEND,  # 3-6-1, 3-6-2 layer families; 3-6-3 configurations (the custom loop: TF's)
    "reference_models": ANY_KERAS_BACKEND,  # 3-6-1, 3-6-2 at the sizes people train: ResNet-50, BERT-base
    "distributed": TENSORFLOW,  # 3-5-4, 3-6-5 under tf.distribute strategies
    "ceiling_finder": TENSORFLOW,  # 3-5-2's matmul and STREAM's kernels, swept: tensorbench ceiling
    "keras_ceilings": ("jax", "torch"),  # 3-5-2: ceilings' peak_matmul and stream under the other backends
}
"""Catalogue modules and the Keras backends they run under: a process imports only those of its own
backend, so that the Keras workloads load where TensorFlow is not installed."""

_REGISTRY: dict[str, type[Workload]] = {}


def register(cls: type[Workload]) -> type[Workload]:
    """Class decorator that adds a workload to the catalogue under its `name`, with its module's backends."""
    module = _module(cls)
    if module not in CATALOGUE_MODULES:
        raise ValueError(f"{cls.__name__} is registered in {module}, which CATALOGUE_MODULES does not list")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two workloads are named {cls.name!r}")
    cls.backends = CATALOGUE_MODULES[module]
    _REGISTRY[cls.name] = cls
    return cls


def all_workloads() -> dict[str, type[Workload]]:
    """Every workload class that runs under this process's Keras backend, by name, in catalogue order."""
    from .keras_backend import current

    backend = current()
    for module, backends in CATALOGUE_MODULES.items():
        if backend in backends:
            importlib.import_module(f"{__package__}.{module}")
    order = list(CATALOGUE_MODULES)
    ours = [(name, cls) for name, cls in _REGISTRY.items() if backend in cls.backends]
    return dict(sorted(ours, key=lambda item: order.index(_module(item[1]))))  # stable: class order within


def _module(cls: type[Workload]) -> str:
    return cls.__module__.rsplit(".", 1)[-1]


def families() -> list[str]:
    return sorted({cls.family for cls in all_workloads().values()})


def sections(cls: type[Workload]) -> list[str]:
    """The chapter sections a workload cites ("3-6-3,3-6-5" cites two)."""
    return [s for s in (cls.section or "").split(",") if s]


def matches(cls: type[Workload], patterns: list[str]) -> bool:
    """True when a pattern names the workload, its family or a section it cites (3-6 selects 3-6-x)."""
    return any(
        p in (cls.name, cls.family) or any(s == p or s.startswith(p + "-") for s in sections(cls))
        for p in patterns
    )


def select(patterns: list[str] | None) -> dict[str, type[Workload]]:
    """The workloads that `patterns` select; all of them when there is no pattern. One that runs only when
    asked (run_rules.py) needs its name or family among the patterns: a section is not enough."""
    catalogue = all_workloads()
    return {name: cls for name, cls in catalogue.items()
            if (not patterns or matches(cls, patterns))
            and (not rules(cls.family).only_when_asked or any(p in (cls.name, cls.family) for p in patterns or []))}
