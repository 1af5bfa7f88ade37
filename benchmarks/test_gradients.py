"""Section 3-5-3: GradientTape, first and second order, and a weight-matrix gradient.

Cases come from the workload catalogue (family "gradients"); conftest.py parametrizes them.
"""


def test_gradients(case, measure_case):
    measure_case(case)
