"""Cases that run outside `tensorbench run`'s own pytest process, and the child processes that run them.

Two kinds of case need a process of their own:
- a sweep point that allocates by batch size, on a GPU or TPU (run_rules.py, `isolate_on_accelerators`): memory
  TensorFlow keeps after an out-of-memory error cannot then poison the next point; one process a case;
- a case whose strategy must be set up before TensorFlow initialises (run_rules.py, `process`): the CPU split
  into logical devices, or one process per worker of MultiWorkerMirroredStrategy. Cases with the same
  needs share their processes; the workers of a group run the same cases in the same order (lockstep),
  on free loopback ports, or on the cluster that the user's TF_CONFIG names.

Every child starts in a session of its own, so that a timeout or an interrupt can end it together with
anything it started: no worker is left behind. A group has a deadline; once one worker has exited, the
others have GRACE_S to finish before they are stopped (they would otherwise wait in a collective).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tensorbench.workloads.strategies import PARENT_PID_ENV, ProcessSpec, loopback_tf_configs

GRACE_S = 30.0
STOP_WAIT_S = 10.0
BASE_TIMEOUT_S = 300.0
CASE_TIMEOUT_S = 600.0
"""A group may run BASE_TIMEOUT_S plus CASE_TIMEOUT_S a case before it is stopped."""


@dataclass
class Group:
    """Cases that run together in one process, or in one process per worker."""

    spec: ProcessSpec
    cases: list = field(default_factory=list)
    limit_s: float | None = None
    """Overrides the time allowed: a whole backend's run, which enumerates its own cases and has no
    collective to hang in, has none (float("inf"))."""

    @property
    def timeout_s(self) -> float:
        return self.limit_s if self.limit_s is not None else BASE_TIMEOUT_S + CASE_TIMEOUT_S * len(self.cases)


def plan_groups(cases: list, isolate: str) -> list[Group]:
    """The cases that do not run in the main process, grouped by the processes they need."""
    from tensorbench.workloads.devices import ASYNC_KINDS

    shared: dict[ProcessSpec, Group] = {}
    alone: list[Group] = []
    for case in cases:
        spec = case.rules.process(case.params, case.device)
        if spec is not None:
            shared.setdefault(spec, Group(spec)).cases.append(case)
        elif isolate != "off" and case.rules.isolate_on_accelerators and (
                isolate == "on" or case.device.kind in ASYNC_KINDS):
            alone.append(Group(ProcessSpec(), [case]))
    return alone + list(shared.values())


@dataclass
class Child:
    role: str  # "process", "worker 0", "worker 1", ...
    popen: subprocess.Popen
    log: Path | None = None


def run_group(group: Group, command: list[str], json_path: Path, folder: Path) -> int:
    """Run `command` (pytest on the group's node ids) in the processes the group needs; the first
    process (the chief) writes `json_path`. Returns the worst status: 0, 1 (failures), 2 (interrupted),
    3 (the suite stopped itself: the JSON's tensorbench.stopped says why)."""
    env = {**os.environ, **group.spec.environment()}
    if group.spec.workers == 1:
        children = [Child("process", _start(command + [f"--tensorbench-json={json_path}"], env))]
    else:
        # On a user's cluster (TF_CONFIG set), this host is one worker; otherwise all run here.
        configs = [os.environ["TF_CONFIG"]] if "TF_CONFIG" in os.environ else loopback_tf_configs(group.spec.workers)
        children = []
        for index, tf_config in enumerate(configs):
            worker_env = {**env, "TF_CONFIG": tf_config}
            if index == 0:  # the chief: its output is the run's, its JSON the results
                children.append(Child("worker 0", _start(command + ["-x", f"--tensorbench-json={json_path}"], worker_env)))
            else:
                log = folder / f"{json_path.stem}-worker{index}.log"
                with log.open("wb") as out:
                    children.append(Child(f"worker {index}", _start(command + ["-x"], worker_env, out), log))
    return _wait(children, group.timeout_s)


def _start(command: list[str], env: dict[str, str], output=None) -> subprocess.Popen:
    """A child in a session of its own, told our pid so that it ends if we are killed outright
    (benchmarks/conftest.py asks the kernel for that)."""
    return subprocess.Popen(command, env={**env, PARENT_PID_ENV: str(os.getpid())}, start_new_session=True,
                            stdout=output, stderr=subprocess.STDOUT if output else None)


def _wait(children: list[Child], timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    try:
        while any(c.popen.poll() is None for c in children):
            now = time.monotonic()
            if any(c.popen.returncode is not None for c in children):
                deadline = min(deadline, now + GRACE_S)  # one has exited: the others cannot go on long
            if now > deadline:
                late = [c.role for c in children if c.popen.poll() is None]
                print(f"tensorbench: {', '.join(late)} still running after the time allowed: stopped "
                      "(what finished is kept)", file=sys.stderr, flush=True)
                _stop(children)
                return max(_status(children, stopped=True), 1)
            time.sleep(0.2)
    except KeyboardInterrupt:
        _stop(children)
        return 2
    finally:
        _stop(children)  # anything a child started and left behind
    return _status(children)


def _status(children: list[Child], stopped: bool = False) -> int:
    """The chief's pytest status: 0, 1, 3 (the suite stopped itself), or 2 when the user interrupted it
    (stopped by us, it failed); 1 when another worker failed, with a line that says which and where its
    output is."""
    chief = children[0].popen.returncode
    worst = chief if chief in (0, 1, 3) or (chief == 2 and not stopped) else 1
    for child in children[1:]:
        if child.popen.returncode != 0:
            print(f"tensorbench: {child.role} exited with status {child.popen.returncode} (its output: {child.log}); "
                  "the multi-worker cases from then on did not run", file=sys.stderr, flush=True)
            worst = 1
    return worst


def _stop(children: list[Child]) -> None:
    """End every child's whole process group: SIGTERM (pytest then saves what finished), then SIGKILL."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        alive = [c for c in children if _signal_group(c.popen.pid, signum)]
        if not alive:
            return
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and any(c.popen.poll() is None for c in alive):
            time.sleep(0.1)


def _signal_group(pid: int, signum: int) -> bool:
    """Send `signum` to the process group `pid` leads; False when no process of it is left."""
    try:
        os.killpg(pid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False
