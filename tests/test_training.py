"""The training workloads: each layer family learns, the params schema, and the out-of-memory path
(injected as TensorFlow raises it), in one process and with each sweep point in its own process."""

from __future__ import annotations

import json
import sys

import pytest
from tensorbench.scripts import results
from tensorbench.scripts.processes import plan_groups
from tensorbench.scripts.results import with_largest_fitted
from tensorbench.scripts.run import merge_parts, run_groups
from tensorbench.workloads.cases import Case
from tensorbench.workloads.devices import device_scope
from tensorbench.workloads.model_training import (
    LOSSES,
    METRICS,
    OPTIMIZERS,
    TRAINING_MODELS,
    Inference,
    Train,
)
from tensorbench.workloads.models import synthetic_data

from .conftest import REPO, run_command

PARAMS_SCHEMA = {"model", "batch_size", "samples", "optimizer", "loss", "metric", "loop", "dtype"}


def test_the_epochs_read_a_dataset_with_no_autotuner_beside_them(cpu):
    """tf.data's autotuner thread made one epoch in six to one in three run over 1.5x the median on 2 cores
    (quiet_pipeline)."""
    for workload in (Train(model="mlp", batch_size=8, samples=16),
                     Inference(model="mlp", method="predict", batch_size=8, samples=16)):
        with device_scope(cpu):
            workload.setup(cpu, "graph")
            assert workload.dataset.options().autotune.enabled is False
        workload.teardown()


@pytest.mark.parametrize("model", TRAINING_MODELS)  # the reference models' own check runs in the smoke run
def test_each_model_learns_from_its_teacher(cpu, model):
    workload = Train(model=model, batch_size=16, samples=64)
    with device_scope(cpu):
        workload.setup(cpu, "graph")
        verified = workload.check(workload.step())
    history = workload.extra_info()["loss_history"]
    workload.teardown()
    assert history[-1] < history[0] and "fell" in verified


@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])  # accumulators that start at 0.1; a step count
def test_the_batch_sizes_of_one_model_share_its_trace_and_start_where_a_fresh_build_does(cpu, monkeypatch, optimizer):
    """A case that differs from the one before only in batch size runs on that case's compiled model, reset
    to the weights and optimizer state it was built with: its epochs' losses are a fresh build's, and its
    extra_info says its first call did not trace. Another optimizer is another model."""
    from tensorbench.workloads import model_training

    monkeypatch.setattr(model_training, "SHARED_MODEL", {})

    def fit(batch_size, optimizer=optimizer):
        workload = Train(model="mlp", batch_size=batch_size, samples=64, optimizer=optimizer)
        with device_scope(cpu):
            workload.setup(cpu, "graph")
            workload.check(workload.step())
        info = workload.extra_info()
        workload.teardown()
        return info["loss_history"], info["traced_in_first_call"]

    fresh, traced = fit(32)
    model_training.SHARED_MODEL.clear()
    _, first_traced = fit(16)
    shared, shared_traced = fit(32)
    _, other_traced = fit(32, "sgd")
    monkeypatch.setitem(OPTIMIZERS, "sgd", lambda: __import__("keras").optimizers.SGD(learning_rate=0.5))
    _, other_settings_traced = fit(16, "sgd")  # the same name, another optimizer
    assert traced and first_traced and not shared_traced and other_traced and other_settings_traced
    assert shared == pytest.approx(fresh, rel=1e-6)


def test_evaluate_and_predict_each_trace_their_own_first_call(cpu, monkeypatch):
    from tensorbench.workloads import model_training

    monkeypatch.setattr(model_training, "SHARED_MODEL", {})
    traced = []
    for method, batch_size in (("evaluate", 16), ("predict", 16), ("predict", 32)):
        workload = Inference(model="mlp", method=method, batch_size=batch_size, samples=64)
        with device_scope(cpu):
            workload.setup(cpu, "graph")
        traced.append(workload.extra_info()["traced_in_first_call"])
        workload.teardown()
    assert traced == [True, True, False]


def test_each_case_checks_its_own_compiled_step_against_one_float64_twin(cpu, monkeypatch):
    """The timed step is the checked step: each mode's case steps its own compiled train function (no
    verdict is shared); the float64 twin's step, a reference, is computed once for the cases that share
    model, optimizer and first batch."""
    from tensorbench.workloads import model_training

    monkeypatch.setattr(model_training, "TWIN_STEPS", {})
    monkeypatch.setattr(model_training, "SHARED_MODEL", {})
    stepped, verdicts = [], []
    own_step = Train.own_step
    monkeypatch.setattr(Train, "own_step", lambda self, x, y: stepped.append(self.model.jit_compile) or own_step(self, x, y))
    for mode in ("graph", "xla"):
        workload = Train(model="mlp", batch_size=16, samples=32)
        with device_scope(cpu):
            workload.setup(cpu, mode)
            verdicts.append(workload.check_first_step())
        workload.teardown()
    assert stepped == [False, True] and len(model_training.TWIN_STEPS) == 1
    assert all("first-step loss" in v and "first-step update" in v for v in verdicts)


def test_a_model_that_does_not_learn_fails(cpu, monkeypatch):
    from tensorbench.workloads.base import CheckFailed

    monkeypatch.setitem(OPTIMIZERS, "sgd", lambda: __import__("keras").optimizers.SGD(learning_rate=0.0))
    workload = Train(model="mlp", batch_size=16, samples=64, optimizer="sgd")
    with device_scope(cpu), pytest.raises(CheckFailed, match="did not learn"):
        workload.setup(cpu, "graph")
        workload.check(workload.step())


def test_params_carry_the_training_configuration():
    assert set(Train(model="mlp", batch_size=32, samples=64).params) == PARAMS_SCHEMA
    custom = Train(model="lstm", batch_size=8, samples=16, loss="kl_divergence", loop="custom").params
    assert custom["loop"] == "custom" and custom["metric"] == "categorical_accuracy"
    with pytest.raises(ValueError, match="targets"):
        Train(model="mlp", batch_size=8, samples=16, loss="mean_squared_error", metric="sparse_categorical_accuracy")


def test_quick_profile_covers_what_the_issue_asks():
    quick = Train.sweeps["quick"]
    for model in ("mlp", "cnn28", "lstm", "transformer"):
        assert len({p["batch_size"] for p in quick if p["model"] == model and len(p) == 3}) >= 3
    optimizers = {p.get("optimizer", "rmsprop") for p in quick}
    assert len(optimizers) >= 5 and {p.get("loop", "fit") for p in quick} == {"fit", "custom"}
    standard = Train.sweeps["standard"]
    assert {p.get("loss") for p in standard} >= set(LOSSES) - {"sparse_categorical_crossentropy"}
    metrics = {Train(**p).params["metric"] for p in standard}
    assert metrics == set(METRICS)
    assert {p["batch_size"] for p in standard} >= {16, 1024}
    for profile in ("quick", "standard", "full"):  # evaluate and predict at the training batch sizes
        trained = {p["batch_size"] for p in Train.sweeps[profile] if len(p) == 3}
        assert {p["batch_size"] for p in Inference.sweeps[profile]} == trained
        # what steps_per_execution buys, beside 1, at a small and a large batch
        dispatch = {p["batch_size"] for p in Train.sweeps[profile] if p.get("steps_per_execution", 1) > 1}
        assert len(dispatch) >= 2 and dispatch <= trained


def test_steps_per_execution_is_compiled_in_and_is_the_shortest_call(cpu):
    workload = Train(model="mlp", batch_size=8, samples=16, steps_per_execution=4)
    with device_scope(cpu):
        workload.setup(cpu, "graph")
        assert workload.step_calls().shortest == 4 == workload.extra_info()["steps_per_execution"]
    workload.teardown()
    with pytest.raises(ValueError, match="custom loop"):
        Train(model="mlp", batch_size=8, samples=16, loop="custom", steps_per_execution=4)


def test_teacher_labels_are_fixed_and_spread():
    x1, y1 = synthetic_data("transformer", 256)
    x2, y2 = synthetic_data("transformer", 256)
    assert (x1 == x2).all() and (y1 == y2).all()
    assert len(set(y1.tolist())) >= 5


def test_largest_batch_that_fitted_is_found_per_sweep():
    def bench(batch, model="mlp"):
        return {"extra_info": {"workload": "train", "device": "gpu:0", "mode": "xla", "roles": Train.roles,
                               "params": {"model": model, "batch_size": batch}}}

    records = [{"case": "x", "workload": "train", "device": "gpu:0", "mode": "xla", "roles": Train.roles,
                "params": {"model": "mlp", "batch_size": 4096}}]
    found = with_largest_fitted(records, [bench(512), bench(1024), bench(2048, "cnn28")])
    assert found[0]["largest_batch_that_fitted"] == 1024


def test_out_of_memory_is_recorded_and_the_sweep_goes_on(tmp_path):
    out = tmp_path / "oom.json"
    result = run_command(
        sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "tests.inject_oom", "-q", "-rs",
        "-p", "no:cacheprovider", "--tensorbench-profile=smoke", "--tensorbench-only=train",
        "--tensorbench-devices=cpu", f"--benchmark-json={out}", cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    doc = json.loads(out.read_text())
    assert [b["extra_info"]["params"]["batch_size"] for b in doc["benchmarks"]] == [8, 16]
    assert [r["params"]["batch_size"] for r in doc["tensorbench"]["out_of_memory"]] == [32, 64]
    records = results.run_record(out)["out_of_memory"]  # the results layer adds the largest that fitted
    assert all(r["largest_batch_that_fitted"] == 16 and "ResourceExhaustedError" in r["error"] for r in records)
    assert "out of memory: train-mlp-batch_size32" in result.stdout


def test_isolated_sweep_points_run_in_their_own_processes(tmp_path, cpu, monkeypatch):
    monkeypatch.chdir(REPO)  # where the children find tests.inject_oom
    cases = [Case(Train, {"model": "mlp", "batch_size": b, "samples": 64}, cpu, "graph") for b in (16, 32)]
    options = ["-p", "tests.inject_oom", "-p", "no:cacheprovider", "--tensorbench-profile=smoke",
               "--tensorbench-devices=cpu", "--tensorbench-only=train", "--tensorbench-no-table"]
    groups = plan_groups(cases, isolate="on")
    assert [len(g.cases) for g in groups] == [1, 1]  # one process each
    assert run_groups(groups, options, tmp_path / "isolated") == 0
    doc = merge_parts(tmp_path / "benchmarks.json", sorted((tmp_path / "isolated").glob("*.json")))
    assert [b["param"] for b in doc["benchmarks"]] == ["train-mlp-batch_size16-samples64-float32-cpu-graph"]
    (record,) = doc["tensorbench"]["out_of_memory"]
    assert record["params"]["batch_size"] == 32 and record["largest_batch_that_fitted"] == 16


EXTRA_S = 0.02


class FixedCost:
    """A Keras callback that sleeps EXTRA_S as each call of fit, evaluate or predict begins: a known fixed
    cost a call, as fit's own set-up is."""

    def __new__(cls):
        import time

        import keras

        class Sleeps(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                time.sleep(EXTRA_S)

            on_test_begin = on_predict_begin = on_train_begin

        return Sleeps()


@pytest.mark.parametrize("params", [{"model": "mlp", "batch_size": 32, "samples": 64},
                                    {"model": "mlp", "method": "predict", "batch_size": 32, "samples": 64}])
def test_a_fixed_cost_a_call_is_in_the_per_call_figure_and_not_in_the_step(cpu, monkeypatch, params):
    """Each call of fit (or predict) made EXTRA_S slower by a callback: the step's time stays as it was, and
    the per-call figure grows by EXTRA_S. Timing one short call, as the suite did, would put it in the
    step's figure."""
    from tensorbench.benchmarks import harness
    from tensorbench.benchmarks.harness import Rounds

    from .test_synchronisation import TimingBenchmark

    workload = Train if "method" not in params else Inference

    def steps(callbacks: list) -> dict:
        monkeypatch.setattr(workload, "callbacks", callbacks)
        benchmark = TimingBenchmark()
        harness.measure(benchmark, Case(workload, params, cpu, "graph"), Rounds(min_rounds=7, max_time=0.0, warmup_calls=1))
        assert benchmark.extra_info["items"] == 32  # a step's samples
        return benchmark.extra_info["steps"]

    plain, slowed = steps([]), steps([FixedCost()])
    assert slowed["per_call_s"] - plain["per_call_s"] == pytest.approx(EXTRA_S, rel=0.5), (plain, slowed)
    assert slowed["step_s"] == pytest.approx(plain["step_s"], rel=0.5), (plain, slowed)  # 20 ms a call, read as
    # steps, would move it several times over
    assert slowed["figure"] == "step" and slowed["long_steps"] > slowed["short_steps"] == 1
