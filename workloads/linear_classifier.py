"""Section 3-5-4: the chapter's end-to-end linear classifier in plain TensorFlow (listings 3.13 to 3.21).

The timed unit is one full-batch training step on the 2000 points. Listing 3.18 reads `inputs` where
it means its argument and listing 3.20 updates `w` where it means `W`: this is what the text means.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .base import Workload
from .checks import assert_close, assert_true
from .data import two_clouds
from .keras_backend import to_numpy
from .profiles import sweep
from .registry import register
from .tf_execution import compile_for_mode, on_device

TRAINING_STEPS = 40  # listing 3.21
MAX_FINAL_LOSS = 0.05
MIN_ACCURACY = 0.97


@register
class LinearClassifier(Workload):
    """prediction = inputs W + b, square loss, gradient step with learning rate 0.1."""

    name = "linear_classifier"
    family = "linear_classifier"
    uses = ("matmul",)
    section = "3-5-4"
    sweeps = sweep(smoke=[{}])  # the chapter's 2 x 1000 points and learning rate 0.1

    def __init__(self, samples_per_class: int = 1000, learning_rate: float = 0.1, dtype: str = "float32"):
        super().__init__(samples_per_class=samples_per_class, learning_rate=learning_rate, dtype=dtype)
        self.samples = 2 * samples_per_class
        self.learning_rate = learning_rate

    def items(self):
        return float(self.samples)

    def flops(self):
        # the forward matmul, (samples, 2) x (2, 1), and the weights' gradient, (2, samples) x (samples, 1): 2 x 2
        # multiply-adds a sample each; no gradient flows to the inputs, which are constants
        return 2.0 * 2 * self.samples * 2

    def setup(self, device, mode):
        self.host_inputs, self.host_targets = two_clouds(self.samples // 2, seed=0)
        self.inputs = on_device(self.host_inputs, self.dtype)
        self.targets = on_device(self.host_targets, self.dtype)
        rng = np.random.default_rng(1)
        self.W0 = rng.uniform(0.0, 1.0, size=(2, 1))  # listing 3.17: W random, b zero
        self.b0 = np.zeros((1,))
        self.W = tf.Variable(on_device(self.W0, self.dtype))
        self.b = tf.Variable(on_device(self.b0, self.dtype))
        self.training_step = compile_for_mode(self._training_step, mode)

    def model(self, inputs):  # listing 3.18
        return tf.matmul(inputs, self.W) + self.b

    @staticmethod
    def square_loss(targets, predictions):  # listing 3.19
        return tf.reduce_mean(tf.square(targets - predictions))

    def _training_step(self, inputs, targets):  # listing 3.20
        with tf.GradientTape() as tape:
            predictions = self.model(inputs)
            loss = self.square_loss(targets, predictions)
        grad_loss_wrt_W, grad_loss_wrt_b = tape.gradient(loss, [self.W, self.b])
        self.W.assign_sub(grad_loss_wrt_W * self.learning_rate)
        self.b.assign_sub(grad_loss_wrt_b * self.learning_rate)
        return loss

    def step(self):
        return self.training_step(self.inputs, self.targets)

    def check(self, outputs):
        """The first loss matches float64 NumPy; 40 steps from the start learn the clouds."""
        x, y = self.host_inputs.astype(np.float64), self.host_targets.astype(np.float64)
        first = assert_close("first-step loss", to_numpy(outputs), np.mean((x @ self.W0 + self.b0 - y) ** 2),
                             self.held_to(), terms=self.samples)

        self.W.assign(on_device(self.W0, self.dtype))
        self.b.assign(on_device(self.b0, self.dtype))
        history = [float(self.training_step(self.inputs, self.targets)) for _ in range(TRAINING_STEPS)]
        predictions = to_numpy(self.model(self.inputs))
        accuracy = float(np.mean((predictions > 0.5) == (self.host_targets > 0.5)))
        final_loss = history[-1]  # "Loss at step 39" in listing 3.21's output
        self._extra_info.update(loss_history=history, final_loss=final_loss, accuracy=accuracy)
        assert_true(final_loss < MAX_FINAL_LOSS, f"loss {final_loss:.4f} after {TRAINING_STEPS} steps, "
                    f"expected < {MAX_FINAL_LOSS}")
        assert_true(accuracy >= MIN_ACCURACY, f"accuracy {accuracy:.3f}, expected >= {MIN_ACCURACY}")
        return (f"{first}; after {TRAINING_STEPS} steps loss {final_loss:.4f} < {MAX_FINAL_LOSS}, "
                f"accuracy {accuracy:.3f} >= {MIN_ACCURACY}")
