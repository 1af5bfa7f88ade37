"""How each benchmark ended, and when the suite itself is broken.

A benchmark that fails is recorded with the first line of its error (the JSON's `tensorbench.failed`).
An error of the suite's own machinery stops the run at once rather than failing every benchmark the
same way: an exception raised outside any workload's code (in the harness, pytest-benchmark or a hook),
or the same error in each of the first FIRST_ENDED benchmarks.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import tensorbench.workloads

FIRST_ENDED = 3
WORKLOADS_DIR = os.path.dirname(os.path.realpath(tensorbench.workloads.__file__)) + os.sep

FAILED = pytest.StashKey[list]()
"""One record per failed benchmark: case, device, mode, backend, error."""
ENDED = pytest.StashKey[list]()
"""The error line of each benchmark that passed (None) or failed, in the order they ended."""
STOPPED = pytest.StashKey[str]()
"""Why the suite stopped itself, when it did."""


def error_line(excinfo: pytest.ExceptionInfo) -> str:
    """'ValueError: shapes differ': the exception's type and the first line of its message."""
    lines = excinfo.exconly().strip().splitlines()
    return lines[0] if lines else excinfo.typename


def raised_in_a_workload(excinfo: pytest.ExceptionInfo) -> bool:
    """Whether the traceback passes through a workload's code (its setup, step or check)."""
    return any(os.path.realpath(str(entry.path)).startswith(WORKLOADS_DIR) for entry in excinfo.traceback)


def stop(session: pytest.Session, reason: str) -> None:
    """Stop after the benchmark in progress; the session ends with pytest's INTERNAL_ERROR status."""
    session.config.stash.setdefault(STOPPED, reason)
    session.shouldstop = f"tensorbench stopped: {reason}"


def record_end(item: pytest.Item, case, excinfo: pytest.ExceptionInfo | None) -> None:
    """Note how a benchmark ended (excinfo None: it passed), and stop the session if the suite is broken."""
    stash = item.config.stash
    ended = stash.setdefault(ENDED, [])
    if excinfo is None:
        ended.append(None)
        return
    line = error_line(excinfo)
    ended.append(line)
    stash.setdefault(FAILED, []).append({
        "case": case.id if case is not None else item.name, "device": getattr(case, "device", None) and case.device.id,
        "mode": getattr(case, "mode", None), "backend": getattr(case, "backend", None), "error": line,
    })
    if not raised_in_a_workload(excinfo):
        stop(item.session, f"{line} (in {item.name}, raised by the suite's own machinery, not by a workload)")
    elif len(ended) == FIRST_ENDED and len(set(ended)) == 1:
        stop(item.session, f"the first {FIRST_ENDED} benchmarks failed with the same error: {line}")


def run_record(config) -> dict[str, Any]:
    """The outcome part of the JSON's `tensorbench` block."""
    return {"failed": list(config.stash.get(FAILED, [])), "stopped": config.stash.get(STOPPED, None)}
