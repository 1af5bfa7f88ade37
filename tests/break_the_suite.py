"""A pytest plugin for the tests: breaks the suite's own machinery on purpose, in the way that
TENSORBENCH_TEST_BREAK names (loaded with PYTEST_PLUGINS=tests.break_the_suite or -p).

- `saving`: a hook of the JSON (pytest_benchmark_update_json) raises from its third call on, as a plugin
  or a new pytest-benchmark might: two benchmarks are saved, then saving breaks.
- `harness`: pytest-benchmark's fixture raises, outside any workload's code, as a changed API would.
- `workload`: every tensor op workload's setup raises the same error, as a broken install would.
- `matmul-check`: the float64 matmul's check fails, as a wrong result would; the others pass.
- `final-save`: pytest-benchmark's own saving at the session's end (--benchmark-json) raises.
"""

import os

import pytest

BREAK = os.environ.get("TENSORBENCH_TEST_BREAK", "")
_calls = []
_finishing = []


def pytest_configure(config):
    if BREAK == "harness":
        from pytest_benchmark.fixture import BenchmarkFixture

        def changed_api(self, *args, **kwargs):
            raise TypeError("unexpected keyword argument 'rounds' (injected by the tests)")

        BenchmarkFixture.pedantic = BenchmarkFixture.__call__ = changed_api
    if BREAK == "workload":
        from tensorbench.workloads import function

        def on_device(array, dtype):
            raise RuntimeError("cannot open libcudnn.so.9 (injected by the tests)")

        function.on_device = on_device  # called by every tensor op workload's setup
    if BREAK == "matmul-check":
        from tensorbench.workloads import function

        assert_within = function.assert_within

        def wrong_for_matmul_float64(label, *args, **kwargs):
            if label == "matmul float64":
                raise AssertionError("matmul float64 off (injected by the tests)")
            return assert_within(label, *args, **kwargs)

        function.assert_within = wrong_for_matmul_float64  # the workloads' own check, failing for one


@pytest.hookimpl(wrapper=True, tryfirst=True)  # around pytest-benchmark's, which saves before it yields
def pytest_sessionfinish(session):
    _finishing.append(True)
    return (yield)


def pytest_benchmark_update_json(config, benchmarks, output_json):
    _calls.append(True)
    if BREAK == "saving" and len(_calls) > 2:
        raise RuntimeError("update_json broke (injected by the tests)")
    if BREAK == "final-save" and _finishing:
        raise RuntimeError("pytest-benchmark's saving broke (injected by the tests)")
