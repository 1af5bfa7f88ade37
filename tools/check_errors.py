"""Measure, on this CPU, how far each model's checked figures land from its float64 twin: the errors behind
the per-model tolerances in workloads/model_training.py (MEASURED_ERRORS).

Per model and precision it prints four normwise relative errors, each as its check computes it:
  outputs, loss: predict's outputs and the loss at the initial weights, in inference mode (the inference
      and reference_inference checks);
  step loss, update: one step of the model's own compiled train function (graph mode) from the initial
      weights on the first batch, against the float64 twin stepped by the same optimizer: the loss that
      step reports and the change it makes to the weights (all of them, as one vector); the largest over
      the optimizers given (the training sweep's five for the chapter's models); the update's error weighted
      by the gradient's magnitude, as the check weighs it (model_training.update_error).
Precisions: float32 (this CPU); tf32 (float32 with tests/tf32_standin.py rounding every matmul and
convolution as TF32 tensor cores do); mixed_bfloat16 and mixed_float16 (Keras's mixed policies).

    .venv/bin/python tools/check_errors.py [models] [samples, e.g. 8,32: the largest error] [precisions]
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras
import numpy as np
import tensorflow as tf
from tensorbench.workloads import model_training as training
from tensorbench.workloads.checks import errors
from tensorbench.workloads.models import MODELS, synthetic_data
from tensorbench.workloads.reference_models import OPTIMIZERS as REFERENCE_OPTIMIZERS

from tests.tf32_standin import tf32_standin

PRECISIONS = {"float32": ("float32", None), "tf32": ("float32", tf32_standin),
              "mixed_bfloat16": ("mixed_bfloat16", None), "mixed_float16": ("mixed_float16", None)}


def optimizers(name: str) -> dict:
    if name in REFERENCE_OPTIMIZERS:
        label, make = REFERENCE_OPTIMIZERS[name]
        return {label: make}
    return dict(training.OPTIMIZERS)


def model_errors(name: str, samples: int, precision: str) -> tuple[float, float, float, float]:
    """(outputs, loss, step loss, update) errors of `name` on its first `samples` samples."""
    policy, standin = PRECISIONS[precision]
    spec = MODELS[name]
    keras.utils.set_random_seed(0)
    x, labels = synthetic_data(name, samples)
    weights = spec.build().get_weights()
    host_x = x if spec.tokens else x.astype(np.float64)
    with training.float64_keras(), tf.device("/CPU:0"):
        twin = training.float64_twin(name, weights)
        reference = training.outputs_loss_gradients(twin, keras.losses.SparseCategoricalCrossentropy(),
                                                    tf.constant(host_x), tf.constant(labels), False)
    found = [0.0, 0.0, 0.0, 0.0]
    keras.mixed_precision.set_global_policy(policy)
    try:
        with standin() if standin else contextlib.nullcontext():
            model = spec.build()
            model.set_weights(weights)
            outputs, loss, _ = training.outputs_loss_gradients(
                model, keras.losses.SparseCategoricalCrossentropy(), tf.constant(x), tf.constant(labels), False)
            found[0], found[1] = errors(outputs, reference[0])[0], errors(np.array(loss), np.array(reference[1]))[0]
            for make in optimizers(name).values():
                model = spec.build()
                model.set_weights(weights)
                model.compile(optimizer=make(), loss=keras.losses.SparseCategoricalCrossentropy(), jit_compile=False)
                step_loss, moved = training.one_step(model, lambda m, a, b: m.train_on_batch(a, b, return_dict=True)
                                                     ["loss"], tf.constant(x), tf.constant(labels))
                keras.mixed_precision.set_global_policy("float32")
                twin_loss, twin_moved, gradient = training.twin_step(
                    name, make, keras.losses.SparseCategoricalCrossentropy, weights, host_x, labels)
                keras.mixed_precision.set_global_policy(policy)
                found[2] = max(found[2], errors(np.array(step_loss), np.array(twin_loss))[0])
                if not training.skipped_by_loss_scaling(model, moved):  # the check says so instead
                    found[3] = max(found[3], training.update_error(moved, twin_moved, gradient))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return tuple(found)


def main() -> None:
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else list(training.TRAINING_MODELS)
    counts = [int(n) for n in sys.argv[2].split(",")] if len(sys.argv) > 2 else [8, 32]
    precisions = sys.argv[3].split(",") if len(sys.argv) > 3 else list(PRECISIONS)
    for name in names:
        for precision in precisions:
            found = [model_errors(name, samples, precision) for samples in counts]
            worst = [max(f[i] for f in found) for i in range(4)]
            print(f'    "{name}" {precision!r}: ({worst[0]:.1e}, {worst[1]:.1e}, {worst[2]:.1e}, {worst[3]:.1e}),'
                  f"  # outputs, loss, step loss, update; samples {','.join(map(str, counts))}", flush=True)


if __name__ == "__main__":
    main()
