"""Each device kind: a present one runs a small op there; a missing one is a skip with the reason.
Written with keras.ops, so that it runs under whichever Keras backend the process has."""

import keras
import numpy as np
import pytest
from tensorbench.workloads import devices
from tensorbench.workloads.devices import device_scope


@pytest.mark.parametrize("kind", ["cpu", "gpu", "tpu"])
def test_device(kind):
    present = [d for d in devices.discover() if d.kind.lower() == kind]
    if not present:
        pytest.skip(f"{kind}: {devices.missing().get(kind, 'not present')}")
    for device in present:
        with device_scope(device):
            product = keras.ops.matmul(keras.ops.ones((4, 4)), keras.ops.ones((4, 4)))
        if device.tf_name:  # TensorFlow says where an op ran
            assert product.device.endswith(device.tf_name.split("device:")[-1])
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(product), np.full((4, 4), 4.0))
