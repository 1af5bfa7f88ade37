"""Training the layer families (MLP, CNN, LSTM, Transformer) across batch sizes; optimizers, losses and
metrics; fit against a custom GradientTape loop; evaluate and predict throughput.

Cases come from the workload catalogue (family "training"); conftest.py parametrizes them.
"""


def test_training(case, measure_case):
    measure_case(case)
