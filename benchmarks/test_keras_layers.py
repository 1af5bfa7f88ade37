"""Section 3-6-1: the SimpleDense Layer against keras.layers.Dense.

Cases come from the workload catalogue (family "keras_layers"); conftest.py parametrizes them.
"""


def test_keras_layers(case, measure_case):
    measure_case(case)
