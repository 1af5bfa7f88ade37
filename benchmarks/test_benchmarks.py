"""Every case of the catalogue (workloads/), one benchmark each, in catalogue order: conftest.py
parametrizes them by profile, devices, modes and --only; harness.py times them."""


def test_benchmark(case, measure_case):
    measure_case(case)
