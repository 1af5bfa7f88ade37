"""Section 3-5-4: one training step of the hand-written linear classifier.

Cases come from the workload catalogue (family "linear_classifier"); conftest.py parametrizes them.
"""


def test_linear_classifier(case, measure_case):
    measure_case(case)
