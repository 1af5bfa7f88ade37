"""The pytest-benchmark suite: parametrizes workload x device x mode, records the machine, and keeps
what finished when a run is interrupted, dies or finds the suite itself broken.

Runs on its own (`pytest benchmarks/ --benchmark-json=out.json`) or through `tensorbench run`, which
passes the --tensorbench-* options below. Only pytest's and pytest-benchmark's public hooks, options and
fixture attributes are used.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import signal

import pytest
from tensorbench.workloads import devices, strategies
from tensorbench.workloads.base import MODES
from tensorbench.workloads.cases import Case, enumerate_cases
from tensorbench.workloads.environment import environment
from tensorbench.workloads.noise_probe import Sampler
from tensorbench.workloads.profiles import PROFILES
from tensorbench.workloads.record import SCHEMA_VERSION

from . import outcomes, results_file
from .harness import Rounds, measure, timing_record
from .out_of_memory import OutOfMemory

COMPLETED = pytest.StashKey[set]()
CASES = pytest.StashKey[dict]()
OUT_OF_MEMORY = pytest.StashKey[list]()
NOISE = pytest.StashKey[Sampler]()


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def pytest_addoption(parser):
    group = parser.getgroup("tensorbench")
    group.addoption("--tensorbench-profile", default="quick", choices=sorted(PROFILES),
                    help="sizes and rounds (default: quick)")
    group.addoption("--tensorbench-devices", default="",
                    help="comma-separated device kinds or ids (cpu, gpu, gpu:1, tpu, numpy); default: all present")
    group.addoption("--tensorbench-modes", default=",".join(MODES), help="comma-separated: eager, graph, xla")
    group.addoption("--tensorbench-only", default="",
                    help="comma-separated workload names, families or chapter sections (3-5-2)")
    group.addoption("--tensorbench-dtypes", default="",
                    help="comma-separated dtypes: of the cases with a dtype parameter, run only these")
    group.addoption("--tensorbench-exclude", default="",
                    help="comma-separated case ids to leave out (tensorbench run runs them in their own processes)")
    group.addoption("--tensorbench-cases", default="",
                    help="comma-separated case ids: run only these (tensorbench run's processes of their own)")
    group.addoption("--tensorbench-json", metavar="PATH",
                    help="write the JSON of every finished benchmark to PATH after each one (tensorbench run's "
                         "results); --benchmark-json writes pytest-benchmark's at the end")
    group.addoption("--tensorbench-no-table", action="store_true",
                    help="leave out pytest-benchmark's table (tensorbench run prints its own)")


_SIGNALLED: list[int] = []


def _interrupt(signum, frame):
    """Ctrl-C and SIGTERM: raise KeyboardInterrupt, and remember the signal, since the exception can be
    lost (raised inside a __del__ or a callback, Python only prints it): pytest_runtest_teardown then
    stops the session after the benchmark in progress."""
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def _end_with_parent() -> None:
    """In a process that `tensorbench run` started (scripts/processes.py): be killed when run dies, even
    by SIGKILL (Linux's PR_SET_PDEATHSIG), so that no worker outlives it, waiting in a collective for a
    peer that is gone. What finished is already in this process's JSON (checkpoints); run is gone anyway."""
    parent = os.environ.get(strategies.PARENT_PID_ENV)
    if not parent:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != int(parent):
        pytest.exit("tensorbench run, which started this process, has ended", returncode=2)


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config):
    strategies.prepare_process()  # before any TensorFlow op: logical CPU devices, a worker's strategy
    config.stash[COMPLETED] = set()
    config.stash[CASES] = {}
    config.stash[OUT_OF_MEMORY] = []
    config.stash[NOISE] = Sampler()
    config.stash[results_file.FINISHED] = []
    # SIGTERM ends the run like Ctrl-C: pytest finishes the session and the JSON keeps what finished.
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)
    except ValueError:  # not the main thread
        pass
    _end_with_parent()
    # The profile's round settings, unless the user gave pytest-benchmark's own options.
    given = " ".join(map(str, config.invocation_params.args))
    profile = PROFILES[config.getoption("--tensorbench-profile")]
    for dest, value in profile.benchmark_options().items():
        if "--" + dest.replace("_", "-") not in given:
            setattr(config.option, dest, value)


def _selected_devices(config) -> list[devices.Device]:
    requested = _csv(config.getoption("--tensorbench-devices"))
    try:
        return devices.resolve(requested or None)
    except LookupError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc):
    if "case_id" not in metafunc.fixturenames:
        return
    config = metafunc.config
    profile = config.getoption("--tensorbench-profile")
    modes = _csv(config.getoption("--tensorbench-modes"))
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise pytest.UsageError(f"unknown modes {unknown}; valid: {', '.join(MODES)}")
    cases = enumerate_cases(profile, _selected_devices(config), modes, _csv(config.getoption("--tensorbench-only")),
                            _csv(config.getoption("--tensorbench-dtypes")))
    # pytest-benchmark stores the parameter in its JSON: the readable id, not the object.
    config.stash[CASES].update((c.id, c) for c in cases)
    metafunc.parametrize("case_id", [c.id for c in cases], ids=[c.id for c in cases])


@pytest.fixture
def case(request, case_id) -> Case:
    return request.config.stash[CASES][case_id]


def _rounds(config) -> Rounds:
    """The run's rounds: pytest-benchmark's options (a profile sets them; the command line may too) and
    the profile's warm-up."""
    profile = PROFILES[config.getoption("--tensorbench-profile")]
    return Rounds(
        min_rounds=int(config.getoption("benchmark_min_rounds")),
        max_time=float(config.getoption("benchmark_max_time")),
        warmup_calls=profile.warmup_calls,
        warmup_time=profile.warmup_time,
        min_round_s=float(config.getoption("benchmark_min_time")),
    )


@pytest.fixture
def measure_case(benchmark, request):
    """Time a Case; remember it finished, and save the JSON so far (a run killed later keeps it)."""

    config = request.config
    rounds = _rounds(config)

    def run(case: Case) -> None:
        config.stash[NOISE].maybe_sample()  # the machine's speed over the run, between benchmarks
        max_time = case.workload.max_time(config.getoption("--tensorbench-profile"), rounds.max_time)
        try:
            measure(benchmark, case, dataclasses.replace(rounds, max_time=max_time))
        except OutOfMemory as oom:
            config.stash[OUT_OF_MEMORY].append(oom.record)
            _save(request.session)
            pytest.skip(str(oom))
        config.stash[COMPLETED].add(request.node.nodeid)
        config.stash[results_file.FINISHED].append(benchmark.stats)
        _save(request.session)

    return run


def _save(session) -> None:
    """The JSON so far (a run killed later keeps it). If it cannot be saved, nothing measured from now
    on could be kept: stop, and say why in the last file that was written."""
    try:
        results_file.save(session.config)
    except results_file.SavingFailed as exc:
        outcomes.stop(session, str(exc))
        results_file.save_last_with(session.config, lambda benchmarks: _run_record(session.config))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Record how each benchmark ended (setup or call), save the failures too, and stop the session
    when the suite's own machinery is what fails."""
    report = yield
    case_id = getattr(getattr(item, "callspec", None), "params", {}).get("case_id")
    if case_id is not None and (report.when == "call" or (report.when == "setup" and report.failed)):
        if report.passed or report.failed:
            outcomes.record_end(item, item.config.stash[CASES].get(case_id), call.excinfo if report.failed else None)
        if report.failed:
            _save(item.session)
    return report


def pytest_sessionfinish(session):
    if outcomes.STOPPED in session.config.stash:
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # the suite, not a benchmark, failed


def pytest_terminal_summary(terminalreporter, config):
    if outcomes.STOPPED in config.stash:
        terminalreporter.write_line(f"tensorbench: stopped: {config.stash[outcomes.STOPPED]}", red=True)


def pytest_benchmark_group_stats(config, benchmarks, group_by):
    if config.getoption("--tensorbench-no-table"):
        return []  # an empty grouping: pytest-benchmark shows no table; the JSON is unaffected
    return None


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["tensorbench"] = environment()


def _run_record(config) -> dict:
    """The JSON's `tensorbench` block: the run's options, how its rounds were timed, what ran out of
    memory, what failed, and why the suite stopped itself (null when it did not)."""
    return {
        "profile": config.getoption("--tensorbench-profile"),
        "devices": config.getoption("--tensorbench-devices") or "all present",
        "modes": config.getoption("--tensorbench-modes"),
        "schema_version": SCHEMA_VERSION,
        "only": config.getoption("--tensorbench-only"),
        "dtypes": config.getoption("--tensorbench-dtypes") or "all",
        "out_of_memory": config.stash[OUT_OF_MEMORY],
        "noise_samples": config.stash[NOISE].samples,
        "timing": timing_record(_rounds(config)),
        **outcomes.run_record(config),
    }


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """Keep only benchmarks that finished (an interrupted one has partial rounds) and add the run's record."""
    completed = config.stash[COMPLETED]
    output_json["benchmarks"] = [b for b in output_json["benchmarks"] if b["fullname"] in completed]
    output_json["tensorbench"] = _run_record(config)


def pytest_runtest_teardown(item, nextitem):
    if _SIGNALLED and not item.session.shouldstop:
        item.session.shouldstop = f"interrupted by signal {_SIGNALLED[0]}"  # pytest: exit status 2


def pytest_collection_modifyitems(config, items):
    """Deselect the cases --tensorbench-exclude names, all but those --tensorbench-cases names (and the
    device tests) when it is given, and the empty parameter set when nothing is selected (rather than
    report an empty skip)."""
    excluded = set(_csv(config.getoption("--tensorbench-exclude")))
    only = set(_csv(config.getoption("--tensorbench-cases")))

    def left_out(item) -> bool:
        if "case_id" not in getattr(item, "fixturenames", ()):
            return bool(only)
        case_id = getattr(getattr(item, "callspec", None), "params", {}).get("case_id")
        return (case_id not in config.stash[CASES] or case_id in excluded  # absent: an empty parameter set
                or bool(only) and case_id not in only)

    dropped = [item for item in items if left_out(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
