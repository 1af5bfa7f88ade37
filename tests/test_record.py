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
