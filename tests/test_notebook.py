"""The Colab notebook runs headlessly from top to bottom (nbclient), with a tiny profile."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from .conftest import REPO


def test_the_colab_notebook_executes(tmp_path, monkeypatch):
    notebook = nbformat.read(REPO / "notebooks" / "tensorbench_colab.ipynb", as_version=4)
    monkeypatch.setenv("TENSORBENCH_PROFILE", "smoke")
    monkeypatch.setenv("TENSORBENCH_ONLY", "matmul")
    monkeypatch.setenv("TENSORBENCH_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("TENSORBENCH_SOURCE", str(REPO))
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "verdict: PASS" in text or "verdict: WARN" in text
    assert "run status: 0" in text and "Not in Colab: the results are in" in text
    assert "No reference-model rows in this run" in text  # a matmul run has none to set beside published figures
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3  # the charts, inline
    runs = list((tmp_path / "out").glob("*/benchmarks.json"))
    assert len(runs) == 1 and os.path.getsize(runs[0]) > 0
