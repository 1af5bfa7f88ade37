"""tf.distribute on one CPU-only machine: MirroredStrategy over logical CPU devices and two workers of
MultiWorkerMirroredStrategy on loopback, through `tensorbench run`; grouping of the cases into processes;
the scaling table; and a worker that dies: a clear line, and no process left behind."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pandas as pd
from tensorbench.scripts import scaling
from tensorbench.scripts.processes import plan_groups
from tensorbench.scripts.run import run_groups
from tensorbench.workloads.cases import enumerate_cases
from tensorbench.workloads.strategies import MULTI_WORKER_ENV, ProcessSpec

from .conftest import REPO, tensorbench
from .test_record import undeclared


def leftover_workers(wait_s: float = 5.0) -> list[int]:
    """Processes still alive that were started as workers of a multi-worker group, after up to `wait_s`
    for those already signalled to die: kill() returns before the target has exited, and a loaded
    machine (the other xdist process busy) once showed a killed worker's child still alive right after."""
    deadline = time.monotonic() + wait_s
    while True:
        pids = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid():
                try:
                    if f"{MULTI_WORKER_ENV}=1".encode() in (proc / "environ").read_bytes().split(b"\0"):
                        pids.append(int(proc.name))
                except OSError:
                    continue
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def test_cases_are_grouped_by_the_processes_they_need(cpu):
    cases = enumerate_cases("smoke", [cpu], ["graph"], ["distributed"])
    groups = {g.spec: g.cases for g in plan_groups(cases, isolate="auto")}
    assert set(groups) == {ProcessSpec(logical_devices=2), ProcessSpec(workers=2)}
    assert {c.params["strategy"] for c in groups[ProcessSpec(logical_devices=2)]} == {"mirrored"}
    assert {c.params["strategy"] for c in groups[ProcessSpec(workers=2)]} == {"multi_worker"}
    in_main = [c for c in cases if not any(c in g for g in groups.values())]
    assert {(c.params["strategy"], c.params["replicas"]) for c in in_main} >= {("one_device", 1), ("mirrored", 1)}


def test_mirrored_and_multi_worker_strategies_run_on_one_cpu(tmp_path):
    out = tmp_path / "run"
    result = tensorbench("run", "--profile", "smoke", "--only", "distributed", "--devices", "cpu",
                         "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    doc = json.loads((out / "benchmarks.json").read_text())
    ran = {(b["extra_info"]["workload"], b["extra_info"]["params"]["strategy"], b["extra_info"]["replicas_in_sync"],
            b["extra_info"]["params"].get("loop")) for b in doc["benchmarks"]}
    assert {("distributed_train", "one_device", 1, "fit"), ("distributed_train", "mirrored", 1, "fit"),
            ("distributed_train", "mirrored", 2, "fit"), ("distributed_train", "mirrored", 2, "custom"),
            ("distributed_train", "multi_worker", 2, "custom"), ("all_reduce", "mirrored", 2, None),
            ("all_reduce", "multi_worker", 2, None)} <= ran
    for bench in doc["benchmarks"]:
        assert {"strategy", "replicas", "workers"} <= set(bench["extra_info"]["params"])
    assert not undeclared(doc)  # the processes' fields and the merged block are the record's
    assert "keras-team/keras#20585" in result.stdout  # fit under MultiWorkerMirroredStrategy: skipped, with why
    report = (out / "report.md").read_text()
    assert "Scaling across replicas" in report and "All-reduce bandwidth" in report
    assert (out / "charts" / "scaling_efficiency.png").exists()
    assert not leftover_workers()


def test_scaling_efficiency_is_throughput_over_n_times_one_replica():
    def params(strategy, replicas, model="mlp"):
        return json.dumps({"model": model, "strategy": strategy, "replicas": replicas, "workers": 1,
                           "per_replica_batch": 64, "samples": 1024, "loop": "fit"})

    rows = pd.DataFrame([
        {"run_id": "r", "device": "cpu", "mode": "graph", "workload": "distributed_train", "params": params(s, r, m),
         "role_scaling": "strategy,replicas,workers", "param_strategy": s, "replicas_in_sync": r, "throughput": t}
        for s, r, t, m in [("one_device", 1, 1000.0, "mlp"), ("mirrored", 1, 900.0, "mlp"), ("mirrored", 2, 1500.0, "mlp"),
                           ("mirrored", 2, 50.0, "cnn28")]  # a line with no one-replica row
    ])
    rows["params_dict"] = rows["params"].map(json.loads)  # the parameters as results.load gives them
    table = scaling.efficiency(rows)
    assert table["efficiency"].iloc[3] != table["efficiency"].iloc[3]  # NaN: no baseline of its own line
    table = table.iloc[:3].set_index(["param_strategy", "replicas_in_sync"])
    assert table.loc[("mirrored", 2), "efficiency"] == 0.75  # 1500 / (2 x 1000): one_device is the baseline
    assert table.loc[("mirrored", 2), "speedup"] == 1.5


def test_a_worker_that_dies_is_a_clear_error_and_leaves_no_process(tmp_path, cpu, monkeypatch, capfd):
    monkeypatch.chdir(REPO)  # where the workers find tests.die_as_worker
    cases = [c for c in enumerate_cases("smoke", [cpu], ["graph"], ["all_reduce"])
             if c.params["strategy"] == "multi_worker"]
    assert len(cases) == 2
    (group,) = plan_groups(cases, isolate="auto")
    options = ["-p", "tests.die_as_worker", "-p", "no:cacheprovider", "--tensorbench-profile=smoke",
               "--tensorbench-devices=cpu", "--tensorbench-only=all_reduce", "--tensorbench-no-table"]
    assert run_groups([group], options, tmp_path) == 1
    err = capfd.readouterr().err
    assert "worker 1 exited with status 3" in err, err[-3000:]
    doc = json.loads((tmp_path / "0001.json").read_text())
    assert [b["param"] for b in doc["benchmarks"]] == [cases[0].id]  # what finished before is kept
    assert not leftover_workers()


def test_a_hung_worker_group_is_stopped_at_its_deadline_with_what_it_started(tmp_path, monkeypatch, capfd):
    """Two 'workers' that hang, one having started a process of its own: the group's deadline stops them
    all (their whole sessions), and says so."""
    from tensorbench.scripts import processes

    monkeypatch.setattr(processes, "BASE_TIMEOUT_S", 3.0)
    hang = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
            "time.sleep(600)")
    group = processes.Group(ProcessSpec(workers=2))
    status = processes.run_group(group, [sys.executable, "-c", hang], tmp_path / "0001.json", tmp_path)
    assert status == 1
    assert "still running after the time allowed" in capfd.readouterr().err
    assert not leftover_workers()
