"""Training and all-reduce under tf.distribute strategies: one device, mirrored replicas, several workers,
TPU cores. Cases come from the workload catalogue (family "distributed"); conftest.py parametrizes them.
`tensorbench run` starts the processes that some of them need (workloads/strategies.py).
"""


def test_distributed(case, measure_case):
    measure_case(case)
