"""Data flows one way: workloads -> benchmarks -> results -> commands. A module imports only from its
own layer and those before it, and the results layer (which reads JSON into tables and charts) imports
no workload, so a report never needs TensorFlow. Read from the source with `ast`, not by importing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.plumbing

# The layer of each package, or of single modules of scripts/ (the commands sit on the results layer).
COMMANDS = {"cli", "run", "doctor", "processes", "native_log", "upgrade", "agreement", "ceiling", "bare_matmul"}
ORDER = ["record", "workloads", "benchmarks", "results", "commands"]
# What each layer may import from tensorbench besides its own. The commands start the benchmark layer
# through pytest, by path: they never import it.
ALLOWED = {
    "record": set(),  # workloads/record.py, the fields of a result: every layer reads it, it reads none
    "workloads": {"record"},
    "benchmarks": {"record", "workloads"},
    "results": {"record"},
    "commands": {"record", "workloads", "results"},
}


def layer_of(module: str) -> str | None:
    """'record', 'workloads', 'benchmarks', 'results' or 'commands' for a dotted module of the package."""
    parts = module.split(".")
    if parts[0] == "tensorbench":
        parts = parts[1:]
    if not parts or parts[0] not in ("workloads", "benchmarks", "scripts"):
        return None
    if parts[:2] == ["workloads", "record"]:
        return "record"
    if parts[0] != "scripts":
        return parts[0]
    return "commands" if len(parts) > 1 and parts[1] in COMMANDS else "results"


def imports(path: Path) -> list[str]:
    """The package modules `path` imports, absolute or relative, at any depth (function-level too)."""
    package = path.parent.name
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("tensorbench.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").startswith("tensorbench"):
                base = node.module
            elif node.level == 1:
                base = f"tensorbench.{package}" + (f".{node.module}" if node.module else "")
            elif node.level == 2:
                base = "tensorbench" + (f".{node.module}" if node.module else "")
            else:
                continue
            found += [f"{base}.{alias.name}" for alias in node.names]  # `from . import results` names modules
    return found


SOURCES = sorted(p for d in ("workloads", "benchmarks", "scripts") for p in (REPO / d).glob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_imports_flow_one_way(path):
    own = layer_of(f"{path.parent.name}.{path.stem}")
    wrong = [m for m in imports(path)
             if (layer := layer_of(m)) not in (None, own) and layer not in ALLOWED[own]]
    assert not wrong, f"{path.parent.name}/{path.name} ({own} layer) imports {wrong}; the flow is {' -> '.join(ORDER)}"


def test_the_layer_reader_sees_relative_and_absolute_imports(tmp_path):
    """The checker itself can fail: a results module importing a workload, either way, is seen."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    sample = scripts / "sample.py"
    sample.write_text("from tensorbench.workloads import devices\ndef f():\n    from ..benchmarks.harness import measure\n")
    assert imports(sample) == ["tensorbench.workloads.devices", "tensorbench.benchmarks.harness.measure"]
    assert [layer_of(m) for m in imports(sample)] == ["workloads", "benchmarks"]


def names_spelled(path: Path) -> set[str]:
    """Every string literal of `path`, f-strings' literal parts included."""
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


RESULTS_LAYER = [p for p in SOURCES if layer_of(f"{p.parent.name}.{p.stem}") == "results"]


@pytest.mark.parametrize("path", RESULTS_LAYER, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_results_layer_names_no_workload_and_no_parameter(path):
    """The report reads what a row is from its roles (Workload.roles), never from its workload's name or
    its parameters' names: a new workload with a chart of its own touches workloads/ only."""
    from tensorbench.workloads import registry

    workloads = registry.all_workloads()
    params = {key for cls in workloads.values() for cases in cls.sweeps.values() for case in cases for key in case}
    # Also the names of a row's fields, not (only) parameters: its dtype, the precision "tf32" (matmul's
    # parameter is named after it), and the out-of-memory and failure records' "case".
    params -= {"dtype", "tf32", "case"}
    names = set(workloads) | params | {f"param_{p}" for p in params}
    assert not names_spelled(path) & names, f"{path.name} spells {sorted(names_spelled(path) & names)}"


def test_the_name_reader_sees_plain_and_formatted_strings(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('a = "matmul"\nb = f"{a} param_batch_size"\n')
    assert {"matmul", " param_batch_size"} <= names_spelled(sample)
