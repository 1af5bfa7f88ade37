"""Shared helpers for the tests of the suite itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
# The tests run in pytest-xdist's workers (README: `pytest -n 2`); the suites they start are not workers:
# pytest-benchmark reads PYTEST_XDIST_WORKER and disables every benchmark in a process that inherits it.
for _name in [name for name in os.environ if name.startswith("PYTEST_XDIST_")]:
    del os.environ[_name]


def run_command(*args: str, cwd: Path | None = None, timeout: float = 600,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a command (the tensorbench entry point or pytest) and capture its output."""
    return subprocess.run(list(args), check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def tensorbench(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_command(sys.executable, "-m", "tensorbench.scripts.cli", *args, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="session")
def cpu():
    from tensorbench.workloads import devices

    return next(d for d in devices.discover() if d.kind == "CPU")


@pytest.fixture(scope="session")
def numpy_device():
    from tensorbench.workloads import devices

    return next(d for d in devices.discover() if d.kind == "numpy")
