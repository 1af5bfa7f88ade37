"""Profiles, selection, tolerances, the results loader and the short table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tensorbench.scripts import results, summary
from tensorbench.workloads import registry
from tensorbench.workloads.base import CheckFailed
from tensorbench.workloads.checks import assert_close, errors, tolerance
from tensorbench.workloads.profiles import PROFILES, SCALES, grid, sweep

pytestmark = pytest.mark.plumbing


def test_a_profile_left_out_reuses_the_one_before():
    sweeps = sweep(smoke=[{"n": 1}], standard=[{"n": 3}])
    assert sweeps == {"smoke": [{"n": 1}], "quick": [{"n": 1}], "standard": [{"n": 3}], "full": [{"n": 3}]}
    with pytest.raises(ValueError):
        sweep(huge=[{}])


def test_grid_is_every_combination():
    assert grid(a=[1, 2], b=["x"]) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


def test_profiles_are_data_in_increasing_size():
    assert list(PROFILES) == list(SCALES) == ["smoke", "quick", "standard", "full"]
    rounds = [p.min_rounds for p in PROFILES.values()]
    assert rounds == sorted(rounds)
    assert PROFILES["quick"].benchmark_options()["benchmark_min_rounds"] == 5


@pytest.mark.parametrize("patterns, expected", [
    (["matmul"], {"matmul"}),
    (["tensor_ops"], {"matmul", "elementwise", "conv2d"}),
    (["3-5-2"], {"matmul", "elementwise", "peak_matmul", "stream"}),
    (["ceilings"], {"peak_matmul", "stream"}),
    (["3-6-3"], {"fit", "train"}),
    (["3-6-7"], {"predict", "inference", "reference_inference"}),
    (["3-5-1", "gradients"], {"fill", "random", "variable", "gradient_tape", "weight_gradient"}),
    (["3-5"], {"fill", "random", "variable", "elementwise", "matmul", "gradient_tape", "weight_gradient",
               "linear_classifier", "peak_matmul", "stream"}),  # not distributed_train (3-5-4 under a strategy): it runs when named
    (["distributed"], {"distributed_train", "all_reduce"}),
    (["all_reduce"], {"all_reduce"}),
    (["3-6-"], set()),
])
def test_only_selects_by_name_family_or_section(patterns, expected):
    assert set(registry.select(patterns)) == expected


def test_tolerance_follows_precision_and_size():
    assert tolerance("float32") < tolerance("float16") < tolerance("bfloat16")
    assert tolerance("float32", terms=1024) == pytest.approx(2.0**-23 * (1 + 4 * 32))
    assert tolerance("bfloat16", terms=1024) < 0.01  # float32 accumulation: input rounding dominates
    reference = np.linspace(1, 2, 100)
    assert "rel err" in assert_close("x", reference.astype(np.float32), reference, "float32")
    with pytest.raises(CheckFailed):
        assert_close("x", reference * 1.001, reference, "float32")
    with pytest.raises(CheckFailed, match="shape"):
        assert_close("x", reference[:10], reference, "float32")
    with pytest.raises(CheckFailed):
        assert_close("x", np.full(100, np.nan), reference, "float32")


def test_errors_in_blocks_are_the_whole_arrays_errors(monkeypatch):
    """errors() sums block by block (a STREAM check holds 64 M elements): the same norms and worst
    element as whole-array NumPy, a NaN or a wrong element in any block included."""
    from tensorbench.workloads import checks

    monkeypatch.setattr(checks, "CHUNK", 7)
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((5, 9))
    actual = (reference + 1e-3 * rng.standard_normal((5, 9))).astype(np.float32)
    diff = actual.astype(np.float64) - reference
    err, worst = errors(actual, reference)
    assert err == pytest.approx(np.linalg.norm(diff) / np.linalg.norm(reference), rel=1e-12)
    assert worst == pytest.approx(np.abs(diff).max() / np.abs(reference).max(), rel=1e-12)
    last = actual.copy()
    last[-1, -1] += 10  # in the last, short block
    assert errors(last, reference)[1] == pytest.approx(np.abs(last - reference).max() / np.abs(reference).max())
    for where in ((0, 0), (2, 4), (4, 8)):
        broken = actual.copy()
        broken[where] = np.nan
        assert all(np.isnan(errors(broken, reference)))
    assert errors(np.zeros(0), np.zeros(0)) == (0.0, 0.0)


@pytest.mark.parametrize("part", [slice(0, 4), slice(3, 9), slice(5, 12), slice(18, 30), slice(20, 23)])
def test_a_repeated_block_is_np_resize_in_every_part(part):
    """The stream check's reference (a random block repeated to the array's length) is np.resize's,
    inside one repeat, across repeats and past the end, without making the whole array."""
    from tensorbench.workloads.saturation import repeated

    block = np.arange(7.0)
    np.testing.assert_array_equal(repeated(block, 23, part), np.resize(block, 23)[part])


@pytest.mark.parametrize("elements", [7, 21, 23])
def test_an_array_refilled_with_a_block_is_np_resize_of_it(elements):
    """How the STREAM kernels reset their arrays between cases, in place."""
    from tensorbench.workloads.saturation import refill

    block, array = np.arange(7.0), np.full(elements, np.nan)
    refill(array, block)
    np.testing.assert_array_equal(array, np.resize(block, elements))


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_a_checks_view_of_a_variable_keeps_its_values_when_the_variable_is_updated(mode):
    """to_numpy views a TensorFlow Variable rather than copying it (a GiB of stream array); a later
    update must not reach into what a check was given, nor may a check write to the Variable."""
    import tensorflow as tf
    from tensorbench.workloads.keras_backend import to_numpy
    from tensorbench.workloads.tf_execution import compile_for_mode

    variable = tf.Variable(tf.ones([64]))

    def add_one():
        variable.assign_add(tf.ones([64]), read_value=False)

    update = compile_for_mode(add_one, mode)
    update()
    seen = to_numpy(variable)
    update()
    np.testing.assert_array_equal(seen, np.full(64, 2.0))
    np.testing.assert_array_equal(to_numpy(variable), np.full(64, 3.0))
    assert not seen.flags.writeable


@pytest.mark.parametrize("dtype, scale", [("float64", 1.01), ("float32", 1.01), ("bfloat16", 1.02),
                                          ("float16", 1.02)])
@pytest.mark.parametrize("n", [8, 4096])
def test_a_scaled_a_zeroed_or_a_moved_element_fails_at_every_size(dtype, scale, n):
    """What the corruption test in issue 13 asks of each workload, at a small and a large matmul's
    tolerance (terms = n): a moved element changes the normwise error by only ~1/n, the element check
    catches it."""
    reference = np.random.default_rng(0).standard_normal((n, n) if n <= 64 else (64, n))
    for wrong in (np.zeros_like(reference), reference * scale, _moved(reference)):
        with pytest.raises(CheckFailed):
            assert_close("x", wrong, reference, dtype, terms=n)


def _moved(reference: np.ndarray) -> np.ndarray:
    """The largest element moved to where the smallest was (which takes its place)."""
    flat = reference.ravel().copy()
    high, low = int(np.argmax(np.abs(flat))), int(np.argmin(np.abs(flat)))
    flat[high], flat[low] = flat[low], flat[high]
    return flat.reshape(reference.shape)


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("", "empty file"),
    ("{not json", "not JSON"),
    ("[1, 2]", "not a pytest-benchmark JSON file"),
    ('{"machine_info": {}}', "not a pytest-benchmark JSON file"),
])
def test_bad_results_files_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "benchmarks.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(results.ResultsError, match=message):
        results.load([path])


def test_loader_derives_throughput_and_gflops(tmp_path):
    bench = {
        "name": "test_tensor_ops[matmul-n1024-float32-cpu-eager]",
        "param": "matmul-n1024-float32-cpu-eager",
        "stats": {"median": 0.01, "iqr": 0.001, "mean": 0.011, "stddev": 0.002, "min": 0.009, "rounds": 5},
        "extra_info": {"workload": "matmul", "family": "tensor_ops", "section": "3-5-2", "device": "cpu",
                       "device_kind": "CPU", "mode": "eager", "dtype": "float32",
                       "params": {"n": 1024, "dtype": "float32"}, "flops": 2e9, "bytes": 1.2e7, "items": None,
                       "first_call_s": 0.02},
    }
    path = tmp_path / "run" / "benchmarks.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"machine_info": {"node": "box"}, "benchmarks": [bench]}))
    table = results.load([path])
    row = table.iloc[0]
    assert row["gflops"] == pytest.approx(200.0) and row["gbps"] == pytest.approx(1.2)
    assert np.isnan(row["throughput"])
    assert row["run_id"] == "run" and row["machine"] == "box"
    assert "matmul-n1024-float32" in summary.format_overview(table)


@pytest.mark.parametrize("seconds, text", [(2.5, "2.5 s"), (0.0123, "12.3 ms"), (4.56e-6, "4.56 us"),
                                           (3e-8, "30 ns"), (float("nan"), "-")])
def test_times_read_at_a_glance(seconds, text):
    assert summary.human_time(seconds) == text
