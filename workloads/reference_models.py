"""Reference models: ResNet-50 and a BERT-base-sized encoder, trained and run for inference on synthetic
data at several batch sizes, under float32, mixed_float16 and mixed_bfloat16, in graph mode and under
XLA: the models whose throughput people quote, set beside published figures by the report
(scripts/published.py reads the table in scripts/published.csv).

They are the layer families of sections 3-6-1 (Conv2D) and 3-6-2 (the Transformer) at the sizes people
train, run by the same code as the training family (model_training.py): one epoch of fit, or predict,
over batches made once and cached, prefetched onto the device by OneDeviceStrategy; the first epoch
(tracing or XLA compilation) apart. The checks are the training family's, on the first few samples of
a batch: outputs and loss at the initial weights against the model rebuilt in float64 on the CPU (and
BERT's gradients; ResNet-50's are too ill-conditioned at its initial weights to hold against float64,
see models.py), and the loss falls.

Each row says what it is, for the comparison with published figures (extra_info["published_as"]):
which network, training or inference, the precision policy, XLA, the batch and the input size.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np

from .base import chart_roles
from .checks import assert_close
from .keras_backend import current, to_numpy
from .keras_workload import compiled_settings
from .model_training import MODEL_TERMS, Inference, MixedPrecision, float64_keras
from .models import MODELS, forward_flops
from .profiles import grid, sweep
from .registry import register

NETWORKS = {"resnet50": "ResNet-50", "bert_base": "BERT-base"}
INPUTS = {"resnet50": "224x224x3 images", "bert_base": "128 tokens"}
OPTIMIZERS = {
    "resnet50": ("sgd_momentum", lambda: keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)),
    "bert_base": ("adam_1e-4", lambda: keras.optimizers.Adam(learning_rate=1e-4)),
}
"""ResNet-50 is trained with SGD and momentum, as the paper and NVIDIA's recipe train it (here at a learning
rate of 0.01), BERT with Adam at BERT's own learning rate (Devlin et al.: 1e-4): at Adam's default 1e-3
its loss went from 1.09 to 16.9 over two epochs at batch 8."""
POLICIES = ["float32", "mixed_float16", "mixed_bfloat16"]
CHECKED_SAMPLES = 4
"""The float64 twin's first step and predictions cover at most this many samples: ResNet-50's forward and
backward pass is 23 GFLOP an image, over half a second in float64 at the development CPU's 41 GFLOP/s
float64 matmul ceiling, so a GPU batch of 256 would take minutes to check (the case's own train function
traces again for the smaller batch, in the check, untimed)."""
STEPS = {"smoke": 1, "standard": 1, "full": 10}
"""Steps of the first call's epoch (compilation, and the run the check replays). The rows' figure is one
steady step, from timed calls as long as the harness calibrates (StepCalls)."""


def _sweeps(points: dict[str, tuple[dict[str, list[int]], list[str]]]) -> dict[str, list[dict]]:
    """Parameter sets per profile from ({model: batch sizes}, policies), each with its samples (batch x
    steps); the quick profile runs none (it stays short)."""
    return sweep(quick=[], **{
        profile: [{**params, "samples": params["batch_size"] * STEPS[profile]}
                  for model, sizes in batches.items()
                  for params in grid(model=[model], batch_size=sizes, policy=policies)]
        for profile, (batches, policies) in points.items()
    })


class _Reference:
    """What the two reference workloads add to the training family's: the twin checks on a few samples,
    and what the row is for the comparison with published figures."""

    family = "reference_models"
    version = "3"  # a row is one steady step (StepCalls); 2: tf.data's autotuner off (quiet_pipeline)
    roles = chart_roles(sweep="batch_size", measure="throughput", precision="policy", precision_baseline="float32")

    def checked_samples(self) -> int:
        return min(self.batch_size, CHECKED_SAMPLES)

    def placed_on(self, device):
        """OneDeviceStrategy on every device, the CPU too (the training family's on accelerators only:
        _ModelWorkload.placed_on), as the published figures' pipelines prefetch. On the CPU the two timed
        the same (ResNet-50, batch 8: 2.1-2.8 s a step either way). Under JAX and PyTorch, none (their
        batches are on the device already: keras_backend.Batches)."""
        if current() != "tensorflow":
            return contextlib.nullcontext()
        import tensorflow as tf

        return tf.distribute.OneDeviceStrategy(device.tf_name).scope()

    PASSES = 1
    """Forward passes' worth of arithmetic a sample costs: training counts 3 (the backward pass is two,
    the gradients of the activations and of the weights), as the usual convention does."""

    def describe(self, mode: str, phase: str) -> None:
        """What the row is, for the published figures and the physics check: the FLOPs of the step (so its
        GFLOP/s is held under the device's measured ceiling) and the arithmetic it ran in."""
        model = self.params["model"]
        self.step_flops = self.PASSES * forward_flops(self.model) * self.batch_size
        self._extra_info["compute_dtype"] = self.compute_dtype()
        policy = self.params["policy"] + (" + XLA" if mode == "xla" else "")
        self._extra_info["published_as"] = {
            "network": NETWORKS[model], "phase": phase, "precision": self.params["policy"], "xla": mode == "xla",
            "batch": int(self.batch_size), "input": INPUTS[model],
            "title": f"{NETWORKS[model]} {phase}, {policy}, batch {self.batch_size}",
        }

    def flops(self) -> float:
        return self.step_flops


@register
class ReferenceTrain(_Reference, MixedPrecision):
    """One epoch of model.fit of ResNet-50 or a BERT-base-sized encoder under a precision policy."""

    name = "reference_train"
    section = "3-6-1,3-6-2,3-6-5"
    PASSES = 3
    sweeps = _sweeps({
        "smoke": ({"resnet50": [2], "bert_base": [2]}, ["float32"]),
        "standard": ({"resnet50": [8, 16], "bert_base": [4, 8]}, ["float32"]),
        "full": ({"resnet50": [64, 128, 256], "bert_base": [16, 32, 64]}, POLICIES),
    })

    def __init__(self, model: str, batch_size: int, samples: int, policy: str, dtype: str = "float32"):
        super().__init__(model=model, batch_size=batch_size, samples=samples, policy=policy, dtype=dtype)
        self.params["optimizer"] = OPTIMIZERS[model][0]

    def make_optimizer(self, name: str) -> keras.optimizers.Optimizer:
        return OPTIMIZERS[self.params["model"]][1]()

    def unsupported(self, device, mode):
        if device.kind == "CPU" and self.params["policy"] == "mixed_float16":
            return ("mixed_float16 training on a CPU: ResNet-50 at batch 4 did not finish its first epoch and "
                    "check in 10 minutes on the development CPU (float16 inference took 0.5 s)")
        return super().unsupported(device, mode)

    def setup(self, device, mode):
        super().setup(device, mode)
        self.describe(mode, "training")


@register
class ReferenceInference(_Reference, Inference):
    """model.predict of ResNet-50 or a BERT-base-sized encoder over the samples, under a precision policy."""

    name = "reference_inference"
    section = "3-6-1,3-6-2,3-6-7"
    sweeps = _sweeps({
        "smoke": ({"resnet50": [2], "bert_base": [2]}, ["float32"]),
        "standard": ({"resnet50": [8, 32], "bert_base": [8, 32]}, ["float32"]),
        "full": ({"resnet50": [8, 64, 256], "bert_base": [8, 32, 128]}, POLICIES),
    })

    def __init__(self, model: str, batch_size: int, samples: int, policy: str, dtype: str = "float32"):
        super().__init__(model=model, method="predict", batch_size=batch_size, samples=samples, dtype=dtype)
        self.params["policy"] = policy
        del self.params["method"]  # predict only: the published inference figures are forward passes

    def setup(self, device, mode):
        self.build(device, mode, policy=self.params["policy"])
        self._extra_info.update(compiled_settings(self.model), policy=self.params["policy"])
        self.describe(mode, "inference")

    def check(self, outputs):
        """predict's outputs for the first samples against the float64 twin's, in the policy's compute dtype."""
        spec, count = MODELS[self.params["model"]], self.checked_samples()
        x = self.host_x[:count]
        with float64_keras():
            reference = to_numpy(self.twin(self.model.get_weights())(x if spec.tokens else x.astype(np.float64),
                                                                     training=False))
        held = self.held_to(self.compute_dtype())
        return assert_close(f"predict, first {count} samples (the twin's)", to_numpy(outputs)[:count], reference,
                            held, MODEL_TERMS, self.measured(held)[0])
