"""What the device can do (compute and memory bandwidth), measured in every run; the results layer holds
every other row to it.

Cases come from the workload catalogue (family "ceilings"); conftest.py parametrizes them.
"""


def test_ceilings(case, measure_case):
    measure_case(case)
