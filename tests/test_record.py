"""The record (workloads/record.py) declares every field a result carries: what the harness and the workloads
write (a run's JSON, here the shipped ones; tests/test_suite_json.py holds a fresh run to it too) and what
the results layer reads. A field written or read without being declared fails here."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from tensorbench.workloads import record

from .conftest import REPO
from .test_layers import RESULTS_LAYER

pytestmark = pytest.mark.plumbing


def undeclared(document: dict) -> dict[str, set[str]]:
    """The fields of a results document that the record does not declare, by where they sit."""
    found = {"extra_info": set(), "extra_info.steps": set(), "tensorbench": set(), "machine_info.tensorbench": set()}
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        found["extra_info"] |= set(info) - set(record.EXTRA_INFO)
        found["extra_info.steps"] |= set(info.get("steps") or {}) - set(record.STEPS)
    found["tensorbench"] = set(document.get("tensorbench", {})) - set(record.RUN)
    found["machine_info.tensorbench"] = set(document.get("machine_info", {}).get("tensorbench", {})) - set(record.MACHINE)
    return {where: names for where, names in found.items() if names}


SHIPPED = sorted((REPO / "results" / "reference").glob("*/benchmarks.json"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_the_shipped_results_hold_only_declared_fields(path: Path):
    assert not undeclared(json.loads(path.read_text())), path


def test_undeclared_finds_a_field_the_record_does_not_declare():
    """The check itself can fail."""
    document = {"benchmarks": [{"extra_info": {"workload": "x", "made_up_s": 1.0, "steps": {"figure": "step", "odd": 1}}}],
                "tensorbench": {"profile": "quick", "extra": 1}, "machine_info": {"tensorbench": {"keras": {}}}}
    assert undeclared(document) == {"extra_info": {"made_up_s"}, "extra_info.steps": {"odd"}, "tensorbench": {"extra"}}


RECORD_HOLDERS = {"info", "steps", "block", "extra_info", "tb", "environment"}
"""The names the results layer gives a record's dicts (a row's extra_info, its steps, the run's block, the
machine's): a literal key read from one of them must be declared."""


def fields_read(path: Path) -> set[str]:
    """Literal keys `path` reads from a record holder: holder["key"], holder.get("key"), "key" in holder."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in RECORD_HOLDERS:
            key = node.slice
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and isinstance(node.func.value, ast.Name) and node.func.value.id in RECORD_HOLDERS and node.args):
            key = node.args[0]
        elif (isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.In, ast.NotIn))
              and isinstance(node.comparators[0], ast.Name) and node.comparators[0].id in RECORD_HOLDERS):
            key = node.left
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.add(key.value)
    return found


LEGACY = {"ceiling"}
"""Fields of files older than the record, read only to upgrade them (a ceiling row's `ceiling`, now a role)."""


@pytest.mark.parametrize("path", RESULTS_LAYER, ids=lambda p: p.name)
def test_the_results_layer_reads_only_declared_fields(path: Path):
    assert not fields_read(path) - record.DECLARED - LEGACY, sorted(fields_read(path) - record.DECLARED - LEGACY)


def test_the_field_reader_sees_subscripts_gets_and_membership(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('a = info["flops"]\nb = steps.get("step_s")\nc = "noise" in block\nd = row["not_a_holder"]\n')
    assert fields_read(sample) == {"flops", "step_s", "noise"}


SPY = """
import builtins, os, pathlib, sys
from tensorbench.scripts import run
reads, writes, after = [], [], []
real_read_text, real_open, real_replace, real_merge = pathlib.Path.read_text, builtins.open, os.replace, run.merge_parts
def read_text(self, *args, **kwargs):
    if after and self.name == "benchmarks.json":
        reads.append(str(self))
    return real_read_text(self, *args, **kwargs)
def opened(file, mode="r", *args, **kwargs):
    if after and str(file).endswith("benchmarks.json") and "w" not in mode:
        reads.append(str(file))
    return real_open(file, mode, *args, **kwargs)
def replaced(source, target, *args, **kwargs):
    if after and str(target).endswith("benchmarks.json"):
        writes.append(str(target))
    return real_replace(source, target, *args, **kwargs)
def merged(*args):
    after.append(True)  # the suite has ended: from here the file is read once and written once
    return real_merge(*args)
pathlib.Path.read_text, builtins.open, os.replace, run.merge_parts = read_text, opened, replaced, merged
status = run.run("smoke", ["cpu"], ["graph"], ["matmul"], sys.argv[1])
print("SPY", status, len(reads), len(writes))
"""


def test_a_run_reads_its_results_once_after_the_suite_and_writes_them_once(tmp_path):
    """merge_parts reads the JSON the suite wrote; the table, the report, the noise and the closing lines
    share that document, and finish writes it once (noise and time spent in its block)."""
    import subprocess
    import sys

    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-c", SPY, str(out)], capture_output=True, text=True, cwd=tmp_path,
                            timeout=600, check=False)
    spied = [line for line in result.stdout.splitlines() if line.startswith("SPY")]
    assert spied == ["SPY 0 1 1"], result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads((out / "benchmarks.json").read_text())
    assert {"noise", "time_spent_s", "schema_version"} <= set(document["tensorbench"])
    assert "matmul" in (out / "report.md").read_text()
