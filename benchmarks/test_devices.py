"""Each device kind: a present one runs a small op there; a missing one is a skip with the reason."""

import numpy as np
import pytest
from tensorbench.workloads import devices

from .harness import device_scope


@pytest.mark.parametrize("kind", ["cpu", "gpu", "tpu"])
def test_device(kind):
    present = [d for d in devices.discover() if d.kind.lower() == kind]
    if not present:
        pytest.skip(f"{kind}: {devices.missing().get(kind, 'not present')}")
    import tensorflow as tf

    for device in present:
        with device_scope(device):
            product = tf.matmul(tf.ones((4, 4)), tf.ones((4, 4)))
        assert product.device.endswith(device.tf_name.split("device:")[-1])
        np.testing.assert_array_equal(product.numpy(), np.full((4, 4), 4.0))
