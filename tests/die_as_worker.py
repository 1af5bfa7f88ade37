"""A pytest plugin for the tests: in worker 1 of a multi-worker group, exit at the start of the second
benchmark, as a worker that crashes would (the chief is then left waiting in a collective)."""

import os

from tensorbench.workloads import strategies

_started = []


def pytest_runtest_setup(item):
    _started.append(item.nodeid)
    if strategies.task_index() == 1 and len(_started) == 2:
        os._exit(3)
