"""A pytest plugin for the tests: a small MLP batch sweep whose batches above 16 run out of memory,
raised as TensorFlow raises it."""

import tensorflow as tf
from tensorbench.workloads.model_training import Train
from tensorbench.workloads.profiles import grid, sweep

LIMIT = 16


def pytest_configure(config):
    original = Train.step

    def step(self):
        if self.batch_size > LIMIT:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor (injected by the tests)")
        return original(self)

    Train.step = step
    Train.sweeps = sweep(smoke=grid(model=["mlp"], batch_size=[8, 16, 32, 64], samples=[64]))
