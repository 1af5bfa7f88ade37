"""The run's JSON file (--tensorbench-json): pytest-benchmark's JSON of every benchmark that has ended,
rewritten after each one, so that a run killed at any moment keeps what finished.

Only pytest-benchmark's public surface is used: its hooks build the document (the same ones its own
--benchmark-json goes through) from the `benchmark.stats` of the finished benchmarks, and this module
writes the file itself. Each write goes to a temporary file that then replaces the last one, so the
file on disk is always a complete document, whatever fails later, pytest-benchmark's own saving included.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FINISHED = pytest.StashKey[list]()
"""The `benchmark.stats` of every benchmark that finished, in order."""
FIXED_INFO = pytest.StashKey[tuple]()
"""machine_info and commit_info: computed once per session (the machine does not change mid-run)."""
LAST_WRITTEN = pytest.StashKey[dict]()
BENCHMARK_TEXTS = pytest.StashKey[dict]()
"""Each finished benchmark's JSON text by its fullname: a finished benchmark does not change, and
serialising every raw round again at every save made a quick run's saves take 20 of its 45 s; building
its dict again (pytest-benchmark's statistics over every raw round) still took 1.8 s of a 150 s run."""


class SavingFailed(Exception):
    """The results could not be built or written: nothing measured from now on could be kept."""


def _fixed_info(config) -> tuple[dict, dict]:
    if FIXED_INFO not in config.stash:
        hook = config.hook
        machine_info = hook.pytest_benchmark_generate_machine_info(config=config)
        hook.pytest_benchmark_update_machine_info(config=config, machine_info=machine_info)
        commit_info = hook.pytest_benchmark_generate_commit_info(config=config)
        hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit_info)
        config.stash[FIXED_INFO] = (machine_info, commit_info)
    return config.stash[FIXED_INFO]


def build(config, finished: list | None = None) -> dict[str, Any]:
    """The document pytest-benchmark's --benchmark-json would write now, with raw rounds, of `finished`
    (`benchmark.stats` objects; by default every benchmark that finished)."""
    machine_info, commit_info = _fixed_info(config)
    finished = config.stash.get(FINISHED, []) if finished is None else finished
    document = config.hook.pytest_benchmark_generate_json(
        config=config, benchmarks=finished, include_data=True, machine_info=machine_info, commit_info=commit_info)
    config.hook.pytest_benchmark_update_json(config=config, benchmarks=finished, output_json=document)
    return document


def _jsonable(value: Any) -> Any:
    """What json cannot write (a NumPy scalar, a Path) as a number or text, never a failed save."""
    for convert in (float, str):
        try:
            return convert(value)
        except (TypeError, ValueError):
            continue
    return repr(value)


def serialise(document: dict[str, Any], texts: dict[str, str]) -> str:
    """`document` as JSON, each benchmark's text taken from `texts` (by fullname) or added to it."""
    head = json.dumps({k: v for k, v in document.items() if k != "benchmarks"}, default=_jsonable)
    benchmarks = []
    for bench in document["benchmarks"]:
        name = bench.get("fullname")
        text = texts.get(name) or json.dumps(bench, default=_jsonable)
        if name is not None:
            texts[name] = text
        benchmarks.append(text)
    return head[:-1] + (", " if head != "{}" else "") + '"benchmarks": [\n' + ",\n".join(benchmarks) + "\n]}"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0o600 would hide the results from other users
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save(config) -> None:
    """Write every finished benchmark to --tensorbench-json (nothing without that option)."""
    target = config.getoption("--tensorbench-json")
    if not target:
        return
    texts = config.stash.setdefault(BENCHMARK_TEXTS, {})
    finished = config.stash.get(FINISHED, [])
    try:
        document = build(config, [stats for stats in finished if stats.fullname not in texts])
    except Exception as exc:
        raise SavingFailed(f"building the results failed: {type(exc).__name__}: {exc}") from exc
    # those written before stand in by name: serialise() takes their text from `texts`
    new = {bench["fullname"]: bench for bench in document["benchmarks"]}
    document["benchmarks"] = [new.get(stats.fullname, {"fullname": stats.fullname}) for stats in finished
                              if stats.fullname in new or stats.fullname in texts]
    try:
        write_atomically(Path(target), serialise(document, texts))
    except OSError as exc:
        raise SavingFailed(f"writing {target} failed: {exc}") from exc
    config.stash[LAST_WRITTEN] = document


def save_last_with(config, record: Callable[[list], dict[str, Any]]) -> None:
    """Write the last saved document again, its `tensorbench` block made anew by `record(benchmarks)`:
    how a run whose saving broke still says why it stopped. Best effort: if this fails too, the last
    complete file stays."""
    target = config.getoption("--tensorbench-json")
    if target:
        last = config.stash.get(LAST_WRITTEN, {"benchmarks": []})
        try:
            document = {**last, "tensorbench": record(last["benchmarks"])}
            write_atomically(Path(target), serialise(document, config.stash.setdefault(BENCHMARK_TEXTS, {})))
        except (OSError, TypeError, ValueError):
            pass
