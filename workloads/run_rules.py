"""What a case needs from the runner, as data keyed by family: the workloads say what to compute and
how to check it; this table says how `tensorbench run` treats their cases (in which processes, which
modes a profile runs, whether they run only when asked). Cases read it (cases.Case.rules)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import strategies
from .profiles import SCALES


@dataclass(frozen=True)
class RunRules:
    only_when_asked: bool = False
    """Runs only if --only names its workload or family (a section is not enough)."""
    isolate_on_accelerators: bool = False
    """Each sweep point in a fresh process on a GPU or TPU, so that memory TensorFlow keeps after an
    out-of-memory error cannot poison the next point."""
    profile_modes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Modes a profile runs, where it runs fewer than all (not skips: those cases are not made)."""
    process: Callable[[dict[str, Any], Any], strategies.ProcessSpec | None] = lambda params, device: None
    """What a process must be started with to run the case (params, device), or None: any process."""
    lockstep: Callable[[dict[str, Any]], bool] = lambda params: False
    """True when several processes run the case together (one per worker) and must make the same
    calls: the harness then times a fixed number of calls, not as many as fit in a time."""


RULES: dict[str, RunRules] = {
    # quick: a single op compiled by XLA alone tells little (the standard profile has it); and Keras's
    # run_eagerly is its debugging switch, at 0.5 s an epoch of fit on the 2-core development VM (the
    # chapter's eager execution is timed by the tensor ops, matmul among them, and the layers)
    "tensors": RunRules(profile_modes={"quick": ("eager", "graph")}),
    "keras_training": RunRules(profile_modes={"quick": ("graph", "xla")}),
    # the ceilings are what the device can do: graph mode is enough, and the fastest
    "ceilings": RunRules(profile_modes={scale: ("graph",) for scale in SCALES}),
    # training trains in graph mode only at the small profiles (XLA at standard and full); on an
    # accelerator a batch that ran out of memory must not poison the next
    "training": RunRules(isolate_on_accelerators=True, profile_modes={"smoke": ("graph",), "quick": ("graph",)}),
    # the same, for ResNet-50 and BERT-base (XLA from standard on: its compilation of them is a minute on a CPU)
    "reference_models": RunRules(isolate_on_accelerators=True, profile_modes={"smoke": ("graph",)}),
    # strategies start processes of their own and would double the quick profile's time on a small machine
    # tensorbench ceiling's sweeps: a minute in quick, longer in full, so only when asked
    # (the workloads' own modes choose between graph and XLA)
    "ceiling_finder": RunRules(only_when_asked=True, profile_modes={s: ("graph", "xla") for s in SCALES}),
    "distributed": RunRules(only_when_asked=True, process=strategies.process_spec,
                            lockstep=lambda params: params["workers"] > 1),
}


def rules(family: str) -> RunRules:
    return RULES.get(family, RunRules())
