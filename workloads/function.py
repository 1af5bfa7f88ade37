"""FunctionWorkload: a step that is one pure function of inputs made before timing.

Subclasses give the inputs (host float64 arrays, seeded), the TensorFlow function, the NumPy one for
the numpy baseline, and a float64 reference. The base places the inputs on the device, compiles the
TensorFlow function for the mode, and checks the first outputs against the reference.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Workload
from .checks import assert_within, errors
from .keras_backend import to_numpy
from .tf_execution import compile_for_mode, on_device


class FunctionWorkload(Workload):
    seed = 0

    def make_inputs(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Host inputs in float64; cast to the workload dtype on the device."""
        return ()

    @abc.abstractmethod
    def compute_tf(self, *inputs) -> Any:
        """The computation in TensorFlow; compiled for the mode by setup()."""

    def compute_np(self, *inputs) -> Any:
        """The same computation in NumPy, for workloads that have a numpy baseline."""
        raise TypeError(f"{self.name} has no NumPy baseline")

    @abc.abstractmethod
    def reference(self, *inputs) -> Any:
        """The expected result in float64, written apart from both timed versions so that a bug in
        either one cannot also be in its reference (an analytic formula where there is one)."""

    def terms(self) -> int:
        """Rounded terms summed into each output element (sets the check's tolerance)."""
        return 1

    def setup(self, device, mode: str) -> None:
        self.host = self.make_inputs(np.random.default_rng(self.seed))
        self.fn: Callable[..., Any]
        if device.kind == "numpy":
            self.inputs = tuple(a.astype(self.dtype) for a in self.host)
            self.fn = self.compute_np
        else:
            self.inputs = tuple(on_device(a, self.dtype) for a in self.host)
            self.fn = compile_for_mode(self.compute_tf, mode)

    def step(self) -> Any:
        return self.fn(*self.inputs)

    def check(self, outputs: Any) -> str:
        """Within the precision's tolerance of the float64 reference; rel_error is recorded."""
        err, worst = errors(to_numpy(outputs), self.reference(*self.host))
        self._extra_info["rel_error"] = err
        held = self.held_to()
        return assert_within(f"{self.name} {held}", err, worst, held, self.terms())
