"""Every figure physically possible: a row that beats its device's measured ceilings (or a datasheet
peak) is flagged `implausible`, in summary.csv, the report and the closing table; one that does not, is
not."""

from __future__ import annotations

import json

import pytest
from tensorbench.scripts import results
from tensorbench.scripts.ceilings import with_ceilings

pytestmark = pytest.mark.plumbing

MIB = 2**20


def bench(param: str, workload: str, median: float, best: float | None = None, device: str = "cpu",
          dtype: str = "float32", **info) -> dict:
    """A benchmark as pytest-benchmark writes it, with tensorbench's extra_info."""
    kind = {"cpu": "CPU", "numpy": "numpy", "gpu:0": "GPU"}[device]
    return {
        "name": f"test_x[{param}]", "param": param, "fullname": param,
        "stats": {"median": median, "min": best or median, "iqr": 0.01 * median, "mean": median,
                  "stddev": 0.0, "rounds": 20, "data": [median] * 20},
        "extra_info": {"workload": workload, "family": "f", "version": "1", "device": device,
                       "device_kind": kind, "device_name": info.pop("device_name", "a CPU"), "mode": "graph",
                       "dtype": dtype, "params": {"dtype": dtype}, **info},
    }


def timed(benchmark: dict, rounds: list[float]) -> dict:
    """The benchmark with these rounds, its statistics as pytest-benchmark computes them."""
    from pytest_benchmark.stats import Stats

    stats = Stats()
    for seconds in rounds:
        stats.update(seconds)
    return {**benchmark, "stats": {**stats.as_dict(), "data": list(rounds)}}


def table_of(tmp_path, *benchmarks: dict, tf32: bool = False):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"machine_info": {"node": "h", "tensorbench": {"tf32_enabled": tf32}},
                                "benchmarks": list(benchmarks)}))
    return with_ceilings(results.load([path])).set_index("param")


CEILINGS = [
    # 3 x 128 MiB in 16 ms best: 25 GB/s; 2 GFLOP in 20 ms best: 100 GFLOP/s
    bench("stream", "stream", 0.017, 0.016, bytes=3 * 128 * MIB, roles={"ceiling": "bandwidth"}, cache_bytes=32 * MIB),
    bench("peak", "peak_matmul", 0.021, 0.020, flops=2e9, roles={"ceiling": "compute"}),
]


def test_a_fill_faster_than_memory_is_implausible(tmp_path):
    """The shipped standard run's folded graph fill: 64 MiB in 0.16 ms, '423 GB/s'."""
    table = table_of(tmp_path, *CEILINGS, bench("fill-big", "fill", 0.00016, bytes=64 * MIB),
                     bench("fill-fair", "fill", 0.003, bytes=64 * MIB),
                     bench("fill-in-cache", "fill", 0.00001, bytes=4 * MIB))
    assert "GB/s" in table.loc["fill-big", "implausible"] and "implausible" in table.loc["fill-big", "trust"]
    assert table.loc["fill-fair", "implausible"] == ""  # 22 GB/s: under the stream's 25
    assert table.loc["fill-in-cache", "implausible"] == ""  # 4 MiB fits the 32 MiB cache: not bound by memory
    assert table.loc["stream", "implausible"] == "" and table.loc["peak", "implausible"] == ""


def test_compute_over_the_measured_ceiling_is_implausible_and_under_it_is_not(tmp_path):
    table = table_of(tmp_path, *CEILINGS, bench("conv-fast", "conv2d", 0.01, flops=2e9),   # 200 GFLOP/s
                     bench("conv-ok", "conv2d", 0.018, flops=2e9),                          # 111 GFLOP/s
                     bench("conv-bf16", "conv2d", 0.01, flops=2e9, dtype="bfloat16"))       # no bf16 ceiling
    assert "GFLOP/s" in table.loc["conv-fast", "implausible"]
    assert table.loc["conv-ok", "implausible"] == "" and table.loc["conv-ok", "pct_of_measured"] == pytest.approx(111.1, 0.01)
    assert table.loc["conv-bf16", "implausible"] == ""  # each precision is held to its own ceiling


def test_a_fast_phase_of_the_machine_is_not_implausible_but_work_not_done_is(tmp_path):
    """The ceiling is timed once, early; a VM can later run faster for a while. The unshipped standard
    run of 2026-12-01 had a bfloat16 conv2d whose rounds fell in two groups, 11 near 0.7x and 13 near
    1.75x the bfloat16 ceiling timed earlier in the run: its median beat the ceiling by more than SLACK
    (the old rule called it implausible), its slower quartile did not. A step that does no work is fast in
    every round, and stays implausible."""
    from tensorbench.scripts.ceilings import SLACK

    phases = [2e9 / 70e9] * 11 + [2e9 / 175e9] * 13  # 70 and 175 GFLOP/s against a ceiling of 100
    folded = [2e9 / 175e9 * (1 + 0.001 * i) for i in range(24)]
    table = table_of(tmp_path, *CEILINGS, timed(bench("conv-phases", "conv2d", 0, flops=2e9), phases),
                     timed(bench("conv-folded", "conv2d", 0, flops=2e9), folded),
                     timed(bench("fill-folded", "fill", 0, bytes=64 * MIB), [1.6e-4 * (1 + 0.001 * i) for i in range(24)]))
    assert table.loc["conv-phases", "gflops"] > SLACK * table.loc["conv-phases", "ceiling_gflops"]  # the median beats it
    assert table.loc["conv-phases", "implausible"] == ""
    assert "spread" in table.loc["conv-phases", "trust"]  # and its spread is flagged, as before
    assert "GFLOP/s or more in 3 rounds of 4" in table.loc["conv-folded", "implausible"]
    assert "GB/s or more in 3 rounds of 4" in table.loc["fill-folded", "implausible"]


def test_each_device_is_held_to_its_own_ceilings(tmp_path):
    numpy_stream = bench("np-stream", "stream", 0.05, 0.04, device="numpy", bytes=3 * 128 * MIB,
                         roles={"ceiling": "bandwidth"}, cache_bytes=32 * MIB)
    table = table_of(tmp_path, *CEILINGS, numpy_stream,
                     bench("np-fill", "fill", 0.005, device="numpy", bytes=64 * MIB))  # 13 GB/s: over numpy's 10
    assert "GB/s" in table.loc["np-fill", "implausible"]


def test_a_datasheet_peak_bounds_a_known_accelerator_and_tf32_is_per_row(tmp_path):
    h100 = {"device": "gpu:0", "device_name": "NVIDIA H100 80GB HBM3"}
    table = table_of(tmp_path, bench("tf32-on", "conv2d", 1e-3, flops=6e11, **h100),       # 600 TFLOP/s
                     bench("tf32-off", "matmul", 1e-3, flops=6e10, **h100), tf32=True)
    assert "datasheet" in table.loc["tf32-on", "implausible"]  # over the 494.7 TFLOP/s TF32 peak
    assert table.loc["tf32-on", "precision"] == "tf32"
    table = table_of(tmp_path, bench("f32", "matmul", 1e-3, flops=1e11, **h100))  # TF32 off: 100 > 67 TFLOP/s
    assert table.loc["f32", "precision"] == "float32" and "datasheet float32" in table.loc["f32", "implausible"]
    table = table_of(tmp_path, bench("row-off", "matmul", 1e-3, flops=1e11, tf32_enabled=False, **h100), tf32=True)
    assert table.loc["row-off", "precision"] == "float32"  # the row's own setting beats the run's
    table = table_of(tmp_path, bench("add", "elementwise", 1e-3, bytes=1e9, precision_rule={"held_to": "float32"}, **h100),
                     bench("mm", "matmul", 1e-3, flops=1e11, precision_rule={"held_to": "tf32"}, **h100), tf32=True)
    assert table.loc["add", "precision"] == "float32"  # what its check was held to: an add is float32 anywhere
    assert table.loc["mm", "precision"] == "tf32"


def test_a_ceiling_with_too_few_rounds_is_not_used(tmp_path):
    short = bench("peak", "peak_matmul", 0.021, 0.020, flops=2e9, ceiling="compute")  # as files before roles said it
    short["stats"]["rounds"] = 2
    table = table_of(tmp_path, short, bench("conv-fast", "conv2d", 0.01, flops=2e9))
    assert table.loc["conv-fast", "implausible"] == "" and table["ceiling_gflops"].isna().all()


@pytest.mark.parametrize("reference", ["quick-cpu", "standard-cpu", "standard-cpu-reference-models"])
def test_no_row_of_the_shipped_references_is_implausible(reference):
    from .conftest import REPO

    table = with_ceilings(results.load([REPO / "results" / "reference" / reference / "benchmarks.json"]))
    assert table["ceiling_gflops"].notna().any() and table["ceiling_gbps"].notna().any()  # not vacuous
    assert (table["implausible"] == "").all(), table.loc[table["implausible"] != "", ["param", "implausible"]]


def test_each_row_sits_under_the_roofline_of_its_device(tmp_path):
    """The roof is the lower of the compute ceiling and intensity x bandwidth, the latter only for working
    sets beyond the cache; the report draws it."""
    from tensorbench.scripts import charts

    table = table_of(tmp_path, *CEILINGS,
                     bench("add-big", "elementwise", 0.1, flops=1e8, bytes=4e8),     # 0.25 FLOP/B: memory-bound
                     bench("add-small", "elementwise", 1e-4, flops=1e5, bytes=4e5),  # in cache: compute roof
                     bench("mm", "matmul", 0.04, flops=2e9, bytes=4e8))              # 5 FLOP/B
    bandwidth, compute = 3 * 128 * MIB / 0.016 / 1e9, 2e9 / 0.020 / 1e9
    assert table.loc["add-big", "roof_gflops"] == pytest.approx(0.25 * bandwidth)
    assert table.loc["add-big", "pct_of_roofline"] == pytest.approx(100 * 1.0 / (0.25 * bandwidth))
    assert table.loc["add-small", "roof_gflops"] == pytest.approx(compute)
    assert table.loc["mm", "roof_gflops"] == pytest.approx(min(compute, 5 * bandwidth))
    figure = charts.roofline(table.reset_index())
    assert figure is not None and "Roofline on cpu" in figure.axes[0].get_title()


def test_the_memory_bandwidth_comes_from_working_sets_beyond_the_cache(tmp_path):
    """A bandwidth row that fits in the cache (the ceiling finder's small STREAM sizes) is faster than
    memory: it does not raise the device's memory bandwidth."""
    in_cache = bench("copy-small", "stream_kernel", 1e-4, 1e-4, bytes=2 * 4 * MIB, roles={"ceiling": "bandwidth"},
                     cache_bytes=32 * MIB)  # 84 GB/s from the cache
    table = table_of(tmp_path, *CEILINGS, in_cache)
    assert table.loc["stream", "ceiling_gbps"] == pytest.approx(3 * 128 * MIB / 0.016 / 1e9)


def test_published_and_derived_peaks_stand_beside_the_measured_ones():
    """What a healthy card reaches (mamf-finder) by the device's own name, never a neighbour's; and a CPU's
    peak derived from its cores, clock and vector units."""
    from tensorbench.scripts.ceilings import achievable_peak, derived_cpu_peak

    assert achievable_peak("NVIDIA H100 80GB HBM3", "bfloat16") == ("NVIDIA H100 SXM reaches (mamf-finder) bfloat16",
                                                                   794500.0)
    assert achievable_peak("NVIDIA GH200 480GB", "bfloat16")[1] == 828600.0  # not the H200's row
    assert achievable_peak("NVIDIA H100 PCIe", "bfloat16") is None  # not the SXM's figure
    assert achievable_peak("NVIDIA A100-SXM4-40GB", "float32") is None
    avx2 = {"flags": ["avx2", "fma"], "hz_advertised": [2_500_000_000, 0]}
    assert derived_cpu_peak(avx2, 2) == {"float32": pytest.approx(160.0), "float64": pytest.approx(80.0)}
    assert derived_cpu_peak({**avx2, "flags": ["avx2", "fma", "avx512f"]}, 2)["float32"] == pytest.approx(320.0)
    assert derived_cpu_peak({"flags": ["sse2"], "hz_advertised": [2e9, 0]}, 2) == {}
    xeon = {"flags": ["avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"], "hz_advertised": [2e9, 0]}
    assert derived_cpu_peak(xeon, 2)["bfloat16"] == pytest.approx(4096.0)  # 1024 FLOP a cycle on the AMX unit
    assert derived_cpu_peak({**xeon, "flags": xeon["flags"][:-1]}, 2)["bfloat16"] == pytest.approx(512.0)


def test_a_figure_over_the_derived_peak_says_why():
    """The derived peak takes the advertised clock; a figure over it names that, one under it does not."""
    from tensorbench.scripts.ceilings import derived_share

    assert derived_share(250.0, 294.0) == "85% of 294 GFLOP/s derived from cores, clock and vectors"
    assert derived_share(306.7, 294.0).startswith("104% of 294 GFLOP/s derived from cores, clock and vectors (over it:")
    assert "advertised clock" in derived_share(306.7, 294.0)


def test_the_ceiling_command_shows_no_untimeable_best_and_no_nan_label(tmp_path):
    """`tensorbench ceiling`'s closing table takes its bests as the ceilings do (a row too short or with too
    few rounds to time is not a ceiling), and names a row written before labels by its id."""
    from tensorbench.scripts.ceilings import found

    too_few = bench("peak-2-rounds", "peak_matmul", 0.001, flops=2e9, roles={"ceiling": "compute"})
    too_few["stats"].update(rounds=2, data=[0.001] * 2)  # 2000 GFLOP/s from 2 rounds: no ceiling
    labelled = bench("peak-labelled", "peak_matmul", 0.021, 0.020, flops=2e9, roles={"ceiling": "compute"},
                     label="peak-labelled")
    shown = found(table_of(tmp_path, *CEILINGS, too_few, labelled).reset_index())
    best = shown[shown["what"] == "compute, float32"].iloc[0]
    assert best["best"] == "100.0 GFLOP/s" and "peak-2-rounds" not in shown.to_string()
    assert "nan" not in shown["reached by"].str.lower().to_string()
    alone = found(table_of(tmp_path, too_few).reset_index())  # only an untimeable row: it is said so
    assert alone.iloc[0]["best"] == "2,000.0 GFLOP/s" and "[not a ceiling: 2 rounds]" in alone.iloc[0]["reached by"]



def test_a_ceiling_row_over_the_cpus_derived_peak_is_implausible_and_no_ceiling(tmp_path):
    """The measured ceiling is the run's own best matmul, so a timing bug that sped up every matmul would lift
    it with them: a bound the run cannot move holds it, TURBO_MARGIN times the peak derived from the CPU's
    cores, clock and vectors (2 cores x 2 GHz x 8 float32 lanes x 2 x 2 FMA units = 128 GFLOP/s here)."""
    from tensorbench.scripts.ceilings import TURBO_MARGIN

    path = tmp_path / "run.json"
    too_fast = bench("peak-too-fast", "peak_matmul", 0.0021, 0.002, flops=2e9, roles={"ceiling": "compute"})
    fair = bench("peak-fair", "peak_matmul", 0.021, 0.020, flops=2e9, roles={"ceiling": "compute"})  # 100 GFLOP/s
    other = bench("conv", "conv2d", 0.019, flops=2e9)  # 105 GFLOP/s: within 1.25x the fair ceiling
    path.write_text(json.dumps({"machine_info": {"node": "h", "cpu": {"flags": ["avx2", "fma"], "hz_advertised": [2e9, 0]},
                                                 "tensorbench": {"cpu_cores_usable": 2}},
                                "benchmarks": [too_fast, fair, other]}))
    table = with_ceilings(results.load([path])).set_index("param")
    assert table.loc["peak-too-fast", "derived_peak_gflops"] == pytest.approx(128.0)
    assert f"over {TURBO_MARGIN:g}x the 128 GFLOP/s derived" in table.loc["peak-too-fast", "implausible"]
    assert table.loc["peak-fair", "implausible"] == "" and table.loc["conv", "implausible"] == ""
    assert table.loc["conv", "ceiling_gflops"] == pytest.approx(100.0)  # the too-fast row is no ceiling
