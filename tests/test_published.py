"""Published figures as data, set beside measured rows: the table is well formed and sourced, the closest
figure is the same hardware and set-up where there is one, and every difference is said."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from tensorbench.scripts import doctor, published, report, results
from tensorbench.workloads.reference_models import INPUTS, NETWORKS, POLICIES

from .conftest import REPO, tensorbench

pytestmark = pytest.mark.plumbing
SHIPPED = REPO / "results" / "reference" / "standard-cpu-reference-models" / "benchmarks.json"


def test_every_published_figure_has_its_source_and_a_set_up_the_workloads_can_name():
    table = published.load_published()
    assert len(table) >= 10
    assert set(table["network"]) <= set(NETWORKS.values()) and set(table["input"]) <= set(INPUTS.values())
    assert set(table["precision"]) <= set(POLICIES) and set(table["phase"]) <= {"training", "inference"}
    assert (table["throughput"] > 0).all() and (table["batch"] > 0).all()
    assert table["unit"].isin(["images/s", "sequences/s"]).all() and table["date"].str.match(r"\d{4}-\d{2}$").all()
    # each source is the page read, at the commit it was read at
    assert table["source"].map(lambda url: bool(re.match(
        r"https://github\.com/NVIDIA/DeepLearningExamples/blob/[0-9a-f]{40}/\S+README\.md$", url))).all()


def _row(**as_published) -> dict:
    return {"network": "ResNet-50", "phase": "training", "precision": "mixed_float16", "xla": True, "batch": 256,
            "input": "224x224x3 images", **as_published}


def test_the_same_set_up_on_the_same_card_is_matched_with_nothing_to_say():
    figure, differences = published.closest(_row(), "GPU NVIDIA A100-SXM4-40GB", published.load_published())
    assert figure["throughput"] == 2375 and figure["hardware_key"] == "A100" and differences == []


def test_another_device_and_set_up_is_matched_and_every_difference_said():
    figure, differences = published.closest(_row(precision="float32", xla=False, batch=16), "CPU Intel Xeon",
                                            published.load_published())
    assert figure["network"] == "ResNet-50" and figure["phase"] == "training"
    assert differences[0].startswith("hardware: CPU Intel Xeon here, ")
    assert "batch: 16 here" in "; ".join(differences) and "xla: False here, True there" in differences


def test_a_network_nobody_published_for_has_no_match():
    assert published.closest(_row(network="BERT-base"), "GPU NVIDIA A100", published.load_published()) is None


def test_xla_the_source_does_not_state_is_said_so():
    wanted = _row(network="BERT-base", phase="inference", precision="float32", xla=True, batch=8, input="128 tokens")
    figure, differences = published.closest(wanted, "GPU NVIDIA T4", published.load_published())
    assert figure["throughput"] == 174.46 and differences == ["xla: True here, not stated there"]


def test_the_shipped_run_is_shown_beside_the_published_figures(tmp_path):
    """The report of the shipped standard run of the family has the table, every row with its share and
    the ways its set-up differs (a CPU here, NVIDIA GPUs there)."""
    table = results.load([SHIPPED])
    shown = published.beside_published(table)
    described = table["published_as"].dropna().map(json.loads)
    # every ResNet-50 row, and BERT's inference rows (nobody published BERT-base training in this table)
    assert not shown.empty and len(shown) == described.map(
        lambda what: what["network"] == "ResNet-50" or what["phase"] == "inference").sum()
    assert shown["set-ups differ in"].str.startswith("hardware: CPU").all()
    assert shown["% of published"].str.endswith("%").all()
    report.write([SHIPPED], tmp_path)
    assert "## Beside published figures (reference models)" in (tmp_path / "report.md").read_text()


def test_a_table_without_reference_rows_shows_nothing():
    assert published.beside_published(pd.DataFrame()).empty
    assert published.beside_published(pd.DataFrame({"published_as": [None], "throughput": [1.0]})).empty


def test_doctor_sets_a_run_beside_the_published_figures_and_refuses_a_missing_file(tmp_path):
    lines = [check.line() for check in doctor.beside_published([str(SHIPPED)])]
    assert lines and all(line.startswith("INFO  beside published figures: ") and " published for NVIDIA " in line
                         and "% of the " in line and "set-ups differ in: hardware: CPU" in line for line in lines)
    result = tensorbench("doctor", "--run", str(tmp_path / "missing.json"))
    assert result.returncode == 2 and result.stderr.strip().startswith("tensorbench: error: ")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
