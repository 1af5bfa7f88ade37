"""Section 3-5-1: constant tensors and Variables, with NumPy baselines.

Cases come from the workload catalogue (family "tensors"); conftest.py parametrizes them.
"""


def test_tensors(case, measure_case):
    measure_case(case)
