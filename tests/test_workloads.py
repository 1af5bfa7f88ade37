"""Every registered workload runs at a tiny size, on the CPU in each of its modes and on the numpy
baseline where it has one, and passes its own check; and the checks catch wrong answers.

The cases that `tensorbench run --profile smoke --devices cpu` runs are checked by that run, through
the harness (tests/test_suite_json.py: a failed check fails the run), and so are the distributed
family's (`--only distributed`, tests/test_distributed.py); here run the others (XLA training, the
cases a workload declares unsupported), so that no case is built and checked twice."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tensorbench.benchmarks import harness
from tensorbench.workloads import devices, keras_fit, registry
from tensorbench.workloads.base import MODES, CheckFailed
from tensorbench.workloads.cases import Case, enumerate_cases
from tensorbench.workloads.devices import device_scope
from tensorbench.workloads.keras_backend import to_numpy
from tensorbench.workloads.profiles import SCALES
from tensorbench.workloads.run_rules import RULES, RunRules

from .conftest import REPO

CATALOGUE = registry.all_workloads()
_HERE = [d for d in devices.discover() if d.kind in ("CPU", "numpy")]
IN_THE_SMOKE_RUN = {
    (case.workload, json.dumps(case.params, sort_keys=True), case.device.kind, case.mode)
    for only in (None, ["distributed"]) for case in enumerate_cases("smoke", _HERE, list(MODES), only)
}
NOT_HERE = {("reference_models", "xla")}
"""XLA's compilation of ResNet-50 and BERT-base took 47 and 59 s here: their XLA switch is the training
family's (keras_backend.compile_options), which its XLA cases test; the graph cases run in the smoke run."""
SMOKE_CASES = [
    (cls, params, kind, mode)
    for cls in CATALOGUE.values()
    for params in cls.sweeps["smoke"]
    for kind, mode in [("CPU", m) for m in cls.modes] + ([("numpy", "eager")] if cls.numpy_baseline else [])
    if (cls, json.dumps(params, sort_keys=True), kind, mode) not in IN_THE_SMOKE_RUN
    and (cls.family, mode) not in NOT_HERE
]


def run_once(cls, params, device, mode):
    """What the harness runs before timing (setup, first call, check), through the harness itself.
    Returns (workload, check text), or (workload, None) where the workload declares the case unsupported."""
    workload = cls(**params)
    if workload.unsupported(device, mode):
        return workload, None
    with device_scope(device):
        return workload, harness.first_call(workload, Case(cls, params, device, mode))["check"]


@pytest.mark.parametrize(
    "cls, params, kind, mode", SMOKE_CASES,
    ids=[f"{cls.name}-{'-'.join(map(str, p.values()))}-{k}-{m}" for cls, p, k, m in SMOKE_CASES],
)
def test_workload_runs_and_passes_its_check(cls, params, kind, mode):
    device = next(d for d in devices.discover() if d.kind == kind)
    workload, verified = run_once(cls, params, device, mode)
    if verified is None:  # a limit the workload declares, such as TF32 off a GPU: the harness skips it too
        pytest.skip(workload.unsupported(device, mode))
    assert isinstance(verified, str) and verified
    try:
        figures = workload.extra_info()
        for value in (workload.flops(), workload.bytes(), workload.items()):
            assert value is None or value > 0
    finally:
        workload.teardown()
    assert isinstance(figures, dict)


def test_a_mode_a_workload_lacks_is_a_skip_with_a_reason(cpu):
    for cls in CATALOGUE.values():
        for mode in set(MODES) - set(cls.modes):
            reason = cls(**cls.sweeps["smoke"][0]).unsupported(cpu, mode)
            assert reason and mode in reason


def test_every_workload_is_covered():
    """A registered workload needs a section, a smoke size and every profile."""
    for name, cls in CATALOGUE.items():
        assert cls.name == name and cls.family and cls.version
        assert cls.section and all(s.startswith("3-") for s in registry.sections(cls)), name
        assert set(cls.sweeps) == set(SCALES) and cls.sweeps["smoke"], name
        assert any(c[0] is cls for c in SMOKE_CASES) or any(c[0] is cls for c in IN_THE_SMOKE_RUN), f"{name}: no test"


def test_every_module_that_registers_a_workload_is_in_the_catalogue():
    """A module missing from registry.CATALOGUE_MODULES would never be imported, and its workloads never
    run, silently: register() refuses it, and this finds it without importing anything."""
    registering = {p.stem for p in (REPO / "workloads").glob("*.py") if "\n@register\n" in p.read_text()}
    assert registering == set(registry.CATALOGUE_MODULES)
    for cls in CATALOGUE.values():  # the backends are the module's, stated once
        assert cls.backends == registry.CATALOGUE_MODULES[cls.__module__.rsplit(".", 1)[-1]]


def test_how_cases_run_is_the_runners_data_not_the_workloads():
    """Processes, lockstep, isolation, modes per profile and only-when-asked live in run_rules.py, keyed
    by family; a workload class holds none of them."""
    for cls in CATALOGUE.values():
        for rule in RunRules.__dataclass_fields__:
            assert not hasattr(cls, rule), f"{cls.name}.{rule}: runner rules belong in run_rules.py"
    assert set(RULES) <= {cls.family for cls in CATALOGUE.values()}
    distributed = Case(CATALOGUE["distributed_train"], {"strategy": "multi_worker", "replicas": 2, "workers": 2},
                       next(d for d in devices.discover() if d.kind == "CPU"), "graph")
    assert distributed.rules.lockstep(distributed.params) and distributed.rules.process(
        distributed.params, distributed.device).workers == 2


def test_chapter_sections_are_all_present():
    cited = {s for cls in CATALOGUE.values() for s in registry.sections(cls)}
    assert {"3-5-1", "3-5-2", "3-5-3", "3-5-4", "3-6-1", "3-6-3", "3-6-5", "3-6-6", "3-6-7"} <= cited


def test_a_wrong_matmul_fails_its_check(cpu, monkeypatch):
    import tensorflow as tf

    cls = CATALOGUE["matmul"]
    monkeypatch.setattr(cls, "compute_tf", lambda self, a, b: tf.matmul(a, b, transpose_b=True))
    with pytest.raises(CheckFailed, match="relative error"):
        run_once(cls, {"n": 16}, cpu, "eager")


def test_a_wrong_numpy_baseline_fails_its_check(numpy_device, monkeypatch):
    cls = CATALOGUE["elementwise"]
    monkeypatch.setattr(cls, "compute_np", lambda self, *x: np.float32(1.001) * self.np_op(*x))
    with pytest.raises(CheckFailed):
        run_once(cls, {"op": "square", "n": 8}, numpy_device, "eager")


def test_a_classifier_that_does_not_learn_fails(cpu):
    with pytest.raises(CheckFailed, match="after 40 steps"):
        run_once(CATALOGUE["linear_classifier"], {"learning_rate": 0.0}, cpu, "graph")


def test_linear_classifier_records_the_chapter_figures(cpu):
    workload, _ = run_once(CATALOGUE["linear_classifier"], {}, cpu, "graph")
    figures = workload.extra_info()
    assert len(figures["loss_history"]) == 40
    assert figures["loss_history"][-1] == figures["final_loss"] < 0.05
    assert figures["accuracy"] >= 0.97
    assert figures["loss_history"][0] > figures["loss_history"][-1]


def test_fit_records_history_and_what_keras_had_in_force(cpu):
    workload, verified = run_once(CATALOGUE["fit"], {"batch_size": 128}, cpu, "xla")
    figures = workload.extra_info()
    assert figures["jit_compile"] is True and figures["run_eagerly"] is False
    epochs = keras_fit.CHECK_EPOCHS  # the first call's and the check's
    assert len(figures["history"]["loss"]) == epochs and len(figures["history"]["accuracy"]) == epochs
    assert "loss fell" in verified


def test_a_model_that_does_not_learn_fails():
    fit = CATALOGUE["fit"](batch_size=128)
    with pytest.raises(CheckFailed, match="did not learn"):
        fit.learned({"loss": [1.0, 1.1, 1.2]}, before=1.0)


def _too_far(model, initial_weights):
    """model.fit on a device whose step moves the weights 1% too far."""
    step = model.fit

    def too_far(*args, **kwargs):
        logs = step(*args, **kwargs)
        for variable, before in zip(model.weights, initial_weights):
            variable.assign(before + 1.01 * (to_numpy(variable) - before))
        return logs
    return too_far


def test_fit_checks_its_own_step_in_each_mode_and_a_step_1pct_off_fails(cpu):
    """fit's check steps the case's own compiled train function (each mode its own), against NumPy's
    float64 RMSprop step; a device whose step moved the weights 1% too far fails."""
    for mode in ("eager", "graph", "xla"):
        workload = CATALOGUE["fit"](batch_size=128)
        with device_scope(cpu):
            workload.setup(cpu, mode)
            verdict = workload.check_first_step(workload.host_x, workload.host_y, workload.x, workload.y, 128)
            assert "first-step loss" in verdict and "first-step update" in verdict
            if mode == "graph":
                workload.model.fit = _too_far(workload.model, workload.initial_weights)
                with pytest.raises(CheckFailed, match="first-step update"):
                    workload.check_first_step(workload.host_x, workload.host_y, workload.x, workload.y, 128)
        workload.teardown()


def test_inputs_are_placed_on_the_device(cpu):
    workload = CATALOGUE["matmul"](n=8)
    with device_scope(cpu):
        workload.setup(cpu, "eager")
    assert all(t.device.endswith("CPU:0") for t in workload.inputs)


def test_case_ids_are_readable(cpu):
    case = Case(CATALOGUE["matmul"], {"n": 1024}, cpu, "graph")
    assert case.id == "matmul-n1024-float32-cpu-graph"
    shaped = Case(CATALOGUE["fill"], {"op": "ones", "shape": (2, 1)}, cpu, "eager")
    assert shaped.id == "fill-ones-2x1-float32-cpu-eager"


@pytest.mark.parametrize("mode", ["graph", "xla"])
def test_a_graph_fill_takes_its_value_at_run_time(cpu, mode):
    """A tf.function of tf.ones(shape) has no input and is folded to a cached constant; the fill's
    value is an input, so each call writes the tensor."""
    import tensorflow as tf

    workload = CATALOGUE["fill"](op="ones", shape=(4, 3))
    with device_scope(cpu):
        workload.setup(cpu, mode)
        assert float(tf.reduce_sum(workload.fn(tf.constant(2.0)))) == 24.0


def test_variable_bytes_count_only_what_is_copied(cpu, numpy_device):
    """TensorFlow's Variable creation and assign share the tensor's buffer (no GB/s); NumPy's copy."""
    for op, tf_bytes in [("create", None), ("assign", None), ("assign_add", 3 * 64 * 4)]:
        tf_side, _ = run_once(CATALOGUE["variable"], {"op": op, "shape": (8, 8)}, cpu, "eager")
        numpy_side, _ = run_once(CATALOGUE["variable"], {"op": op, "shape": (8, 8)}, numpy_device, "eager")
        assert tf_side.bytes() == tf_bytes and numpy_side.bytes() > 0


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_a_constant_random_tensor_fails_even_at_two_elements(cpu, monkeypatch, dist):
    import tensorflow as tf

    cls = CATALOGUE["random"]
    value = 0.0 if dist == "normal" else 0.5  # the distribution's mean: only the spread can tell
    monkeypatch.setattr(cls, "compute_tf", lambda self: tf.fill(self.shape, value))
    with pytest.raises(CheckFailed, match="stddev"):
        run_once(cls, {"dist": dist, "shape": (2, 1)}, cpu, "graph")


def test_the_last_level_cache_is_the_sum_of_the_instances_serving_this_processs_cpus(tmp_path, monkeypatch):
    """Two CPUs under one 32 MiB L3 count it once; a CPU under a second L3 adds it (two AMD CCDs); a CPU
    the process may not run on adds nothing: the stream ceiling's arrays must outgrow what the run fills."""
    layout = {0: "0-1", 1: "0-1", 2: "2-3", 3: "2-3", 4: "4"}
    for cpu, shared in layout.items():
        for index, (level, size, cpus) in enumerate([(2, "2048K", str(cpu)), (3, "32768K", shared)]):
            folder = tmp_path / f"cpu{cpu}" / "cache" / f"index{index}"
            folder.mkdir(parents=True)
            for name, text in {"level": level, "size": size, "shared_cpu_list": cpus}.items():
                (folder / name).write_text(f"{text}\n")
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert devices.last_level_cache_bytes(tmp_path) == 2 * 32 * 1024**2
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: {0, 1})
    assert devices.last_level_cache_bytes(tmp_path) == 32 * 1024**2
    assert devices.last_level_cache_bytes(tmp_path / "nowhere") is None
