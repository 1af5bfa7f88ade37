"""Section 3-5-2: elementwise ops and matmul over a size sweep, with NumPy baselines.

Cases come from the workload catalogue (family "tensor_ops"); conftest.py parametrizes them.
"""


def test_tensor_ops(case, measure_case):
    measure_case(case)
