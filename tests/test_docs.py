"""The README and docs/ stay true where a machine can tell: every link to a file of the project leads to
one, every heading a link names exists, and every `tensorbench` command they show is one the command
line accepts (parsed by its own parser, not run: a run's figures are the reference runs' business)."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from tensorbench.scripts.cli import build_parser
from tensorbench.scripts.errors import UsageError

from .conftest import REPO

pytestmark = pytest.mark.plumbing

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
COMMAND = re.compile(r"^(?:\.venv/bin/)?tensorbench (.+?)(?:\s+#.*)?$")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _commands(text: str) -> list[str]:
    """Command lines in ```sh blocks that start with tensorbench (continuations joined)."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                match = COMMAND.match(part.strip())
                if match:
                    found.append(match.group(1))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_lead_somewhere(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"https?://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name}: link to {target}, which does not exist"
        if anchor and file.suffix == ".md":
            headings = {_anchor(h) for h in re.findall(r"^#+ (.+)$", file.read_text(), flags=re.MULTILINE)}
            assert anchor in headings, f"{page.name}: link to {target}: no such heading"


def test_every_command_shown_is_accepted():
    parser = build_parser()
    shown = [(page.name, command) for page in PAGES for command in _commands(page.read_text())]
    assert len(shown) >= 5  # the reader itself works: the README alone shows more
    for page, command in shown:
        try:
            parser.parse_args(shlex.split(command))
        except UsageError as exc:
            pytest.fail(f"{page}: `tensorbench {command}`: {exc}")


def test_the_worked_example_of_a_new_workload_runs_and_is_checked(cpu, monkeypatch, tmp_path):
    """docs/architecture.md's example, as written, through the harness's first call (setup, first
    call, check) in eager and graph mode and on the numpy baseline; its check can fail; and its rows get
    the chart of its own that its roles ask for, with nothing added to scripts/."""
    from tensorbench.benchmarks import harness
    from tensorbench.scripts import charts, results
    from tensorbench.workloads import registry
    from tensorbench.workloads.base import CheckFailed
    from tensorbench.workloads.cases import Case
    from tensorbench.workloads.devices import device_scope, discover

    text = (REPO / "docs" / "architecture.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text.split("## Adding a workload")[1], flags=re.DOTALL)
    monkeypatch.setitem(registry.CATALOGUE_MODULES, "reductions", registry.TENSORFLOW)
    namespace = {"__name__": "tensorbench.workloads.reductions", "__package__": "tensorbench.workloads"}
    try:
        exec(compile(code, "docs/architecture.md", "exec"), namespace)  # noqa: S102 - the project's own docs
    finally:
        registry._REGISTRY.pop("row_sum", None)  # registered by the example: not part of the catalogue
    cls = namespace["RowSum"]
    numpy_device = next(d for d in discover() if d.kind == "numpy")
    rows = []
    for device, mode, n in [(cpu, "eager", 64), (cpu, "graph", 64), (cpu, "graph", 128), (numpy_device, "eager", 64)]:
        workload = cls(n=n)
        with device_scope(device):
            info = harness.first_call(workload, Case(cls, {"n": n}, device, mode))
        assert info["workload"] == "row_sum" and info["section"] == "3-5-2" and "rel err" in info["check"]
        rows.append({"name": "x", "param": f"row_sum-{n}", "extra_info": info,
                     "stats": {"median": 1e-3, "min": 1e-3, "iqr": 0.0, "rounds": 10, "data": [1e-3] * 10}})
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"machine_info": {}, "benchmarks": rows}))
    figure = charts.CHARTS["gbps_vs_size"](results.load([run]))
    assert figure is not None and figure.axes[0].get_title() == "row_sum: GB/s against n"
    monkeypatch.setattr(cls, "compute_tf", lambda self, x: tf_sum_of_columns(x))
    with pytest.raises(CheckFailed), device_scope(cpu):
        harness.first_call(cls(n=64), Case(cls, {"n": 64}, cpu, "graph"))


def tf_sum_of_columns(x):
    import tensorflow as tf

    return tf.reduce_sum(x, axis=0)  # the wrong axis


def test_the_readme_is_short_and_undated():
    """The README is for users: at most 800 words, and no dated run, commit hash or machine's description
    (those belong with the result files, in their NOTE.md, and in commit messages)."""
    text = (REPO / "README.md").read_text()
    assert len(text.split()) <= 800
    dated = re.findall(r"\b20\d\d-\d\d-\d\d\b|\b[0-9a-f]{7,40}\b|\bVM\b|\b\d+-core\b", text)
    assert not dated, dated
