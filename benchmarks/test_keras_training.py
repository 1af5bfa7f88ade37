"""Sections 3-6-3 to 3-6-7: compile, fit, fit with validation, evaluate, predict.

Cases come from the workload catalogue (family "keras_training"); conftest.py parametrizes them.
"""


def test_keras_training(case, measure_case):
    measure_case(case)
