"""The workload contract: what one benchmark measures, with no timers and no pytest.

A workload is one small class. Its metadata (name, family, version, section) is fixed per class;
its variants are constructor parameters. The harness calls, in order and on the device under test:

    unsupported(device, mode) -> reason or None   (a reason becomes pytest.skip)
    setup(device, mode)        builds inputs and compiled functions, outside any timer
    step()                     the one unit of work that is timed; returns its outputs
    check(outputs) -> str      compares with a float64 NumPy or analytic reference; raises CheckFailed
    extra_info() -> dict       workload-specific results for extra_info (loss history, accuracy, ...)
    teardown()                 drops references so device memory can be freed
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from .record import ROLES

MODES = ("eager", "graph", "xla")
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
COMPILED = {"tensorflow": "graph", "jax": "xla", "torch": "eager"}
"""Each Keras backend's compiled mode, the one it runs where a profile asks TensorFlow's graph mode
(run_rules.py) and the one the report sets beside the others': JAX compiles with XLA; PyTorch's Keras has
no compiled mode yet."""
ITEMSIZE = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2, "int32": 4}
"""eager: op by op; graph: tf.function; xla: tf.function(jit_compile=True)."""



def chart_roles(**roles: Any) -> dict[str, Any]:
    """A workload's `roles` (see Workload.roles), refusing a name the report does not read."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown chart roles {sorted(unknown)}; known: {', '.join(ROLES)}")
    return roles


@dataclass(frozen=True)
class StepCalls:
    """How a call that runs many steps behind a fixed cost (Keras's fit, evaluate, predict: its set-up,
    iterator and callbacks) is split into the two: the harness times calls of two lengths, alternately, and
    their difference is the steps (docs/timing.md)."""

    of: Callable[[int], Callable[[], Any]]
    """A call of the same work over n steps, made before it is timed (making it is not timed)."""
    call: str
    """What a call is, for the report's line on its fixed cost: "fit(dataset)", "fit(x, y)" (Keras's adapter
    over in-memory arrays, a cost of its own), "the custom loop"."""
    whole: int | None = None
    """The steps of step() itself where the row's figure is that whole call (the chapter's fit, evaluate
    and predict, as it writes them), the split beside it; None: the row's figure is one steady step
    (items, flops and bytes count one step), timed in calls long enough that the fixed cost is small."""
    shortest: int = 1
    """The fewest steps a call runs (Keras's steps_per_execution): the short call's length, and the
    long call's steps are a multiple of it."""


class CheckFailed(AssertionError):
    """A workload computed a wrong answer: the benchmark fails instead of reporting a fast number."""


class Workload(abc.ABC):
    name: ClassVar[str]
    """Registry key, also the first part of every benchmark id."""
    family: ClassVar[str]
    """Group of related workloads (tensors, tensor_ops, gradients, ...): --only and the report group by it."""
    version: ClassVar[str] = "1"
    """Bump when the computation changes; results of different versions are not compared."""
    section: ClassVar[str | None] = None
    """Section of the textbook chapter (shared/seed) this workload comes from, such as "3-5-3"."""
    backends: ClassVar[tuple[str, ...]] = ("tensorflow",)
    """Keras backends it runs under, those of its module in registry.CATALOGUE_MODULES (set there, by
    register: a module's workloads share its imports)."""
    numpy_baseline: ClassVar[bool] = False
    """True when the workload also runs on the `numpy` pseudo-device (the chapter compares the two)."""
    numpy_dtypes: ClassVar[tuple[str, ...]] = ("float32",)
    """dtypes of the numpy baseline: NumPy has no bfloat16, its float16 matmul is a slow loop, and
    float64 is what the references themselves are computed in."""
    modes: ClassVar[tuple[str, ...]] = MODES
    """Modes that mean something for this workload; the others are skipped with a reason."""
    roles: ClassVar[dict[str, Any]] = {}
    """How the report reads this workload's rows (written to extra_info["roles"]), so that no report module
    names a workload or a parameter:
      sweep, measure: the parameter along a chart's x axis and the figure drawn against it
          (`{"sweep": "batch_size", "measure": "throughput"}`): a panel of that figure's chart
      ceiling: "compute" or "bandwidth": the row's best round bounds what its device can do
      scaling: the parameters that change along a line of replicas (strategy, replicas, workers), the
          first telling its series apart; the line's first one-replica row is its baseline
      precision, precision_baseline: the parameter that holds a precision variant, and the value the
          others are compared with"""
    timed_s: ClassVar[dict[str, float]] = {}
    """Seconds of timed rounds per case, by profile, where this workload needs more than the profile's
    max_time (the larger of the two is used): a ceiling reports its best round, and a best of few rounds
    falls short on a noisy machine. It sets the rounds of calls of a millisecond or more (timed once a
    round); faster calls are looped by pytest-benchmark's calibration within the profile's max_time."""
    uses: ClassVar[tuple[str, ...]] = ()
    """Which of precision.TENSOR_OPS ("matmul", "conv") the step runs: an accelerator may run those in
    TF32 or bfloat16 passes when the dtype is float32, and the check's tolerance follows (held_to)."""
    sweeps: ClassVar[dict[str, list[dict[str, Any]]]]
    """Parameter sets per profile scale (smoke, quick, standard, full): see profiles.sweep(). How the
    runner treats a family's cases (processes, modes per profile) is run_rules.py's, not the workload's."""

    @classmethod
    def max_time(cls, profile: str, profile_max_time: float) -> float:
        """Seconds of timed rounds a case of this workload gets in `profile`: the larger of the profile's
        max_time and the workload's timed_s there."""
        return max(profile_max_time, cls.timed_s.get(profile, 0.0))

    def __init__(self, **params: Any):
        self.params = params
        self._extra_info: dict[str, Any] = {}
        self.device = None
        """The device the harness runs it on (set before setup): the precision rule reads it."""

    # --- metadata per instance -----------------------------------------------------------------
    @property
    def dtype(self) -> str:
        return self.params.get("dtype", "float32")

    @property
    def itemsize(self) -> int:
        """Bytes per element of the dtype (bfloat16 has no plain NumPy dtype, so by name)."""
        return ITEMSIZE[self.dtype]

    def flops(self) -> float | None:
        """Floating-point operations per step; None where the count means nothing."""
        return None

    def bytes(self) -> float | None:
        """Fewest bytes one step must read and write; None where the count means nothing."""
        return None

    def items(self) -> float | None:
        """Samples processed per step, for throughput; None where it means nothing."""
        return None

    # --- behaviour -----------------------------------------------------------------------------
    def unsupported(self, device, mode: str) -> str | None:
        """Why this workload cannot run on `device` in `mode`, or None when it can."""
        if device.kind == "numpy":
            if not self.numpy_baseline:
                return f"{self.name} has no NumPy baseline"
            if mode != "eager":
                return "NumPy runs eagerly only; graph and xla are TensorFlow modes"
            if self.dtype not in self.numpy_dtypes:
                return f"no {self.dtype} NumPy baseline: {', '.join(self.numpy_dtypes)} only"
            return None
        if mode not in self.modes:
            return f"{self.name} has no {mode} mode: {self.mode_note()}"
        return None

    def mode_note(self) -> str:
        """Why some modes are missing (shown in the skip reason)."""
        return "not applicable"

    @abc.abstractmethod
    def setup(self, device, mode: str) -> None:
        """Build inputs on the current device (the harness is inside tf.device) and compile the step."""

    @abc.abstractmethod
    def step(self) -> Any:
        """Run the timed unit of work once and return its outputs (no .numpy() on large outputs)."""

    @abc.abstractmethod
    def check(self, outputs: Any) -> str:
        """Verify `outputs` of the first step against a reference; return what was verified."""

    def step_calls(self) -> StepCalls | None:
        """How step()'s fixed cost a call is told from its steady steps, where it has one (StepCalls);
        None where step() is one unit of work. Asked after the check."""
        return None

    def in_place(self) -> Any:
        """What the step writes in place, where it returns nothing (a Variable updated without being read
        back, which graph mode would otherwise copy out in the timed call): a wait that needs an output to
        wait for (a TPU's, devices.wait) takes this instead."""
        return None

    def held_to(self, dtype: str | None = None, uses: tuple[str, ...] | None = None) -> str:
        """The precision a `dtype` result (the workload's dtype by default) is held to on this case's
        device: the one rule in precision.py, recorded in the row (extra_info.precision_rule)."""
        from .precision import arithmetic

        held, why = arithmetic(self.device, dtype or self.dtype, self.uses if uses is None else uses)
        self._extra_info["precision_rule"] = {"held_to": held, "why": why}
        return held

    def extra_info(self) -> dict[str, Any]:
        """Workload-specific figures for extra_info, filled by setup/check."""
        return dict(self._extra_info)

    def teardown(self) -> None:
        """Drop device buffers; a new workload instance is made for every benchmark."""
        self.__dict__.update({k: None for k in list(self.__dict__) if k not in ("params", "_extra_info")})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"
