"""Training the layer families across batch sizes: Keras fit (or a GradientTape loop, 3-5-4 style) of
an MLP, a CNN, an LSTM and a Transformer encoder; optimizers, losses and metrics (section 3-6-3) at a
fixed model and batch; and evaluate / predict throughput at the same batch sizes.

The timed unit is one epoch over a fixed number of samples (`items`), read from a cached, pre-batched
tf.data.Dataset by fit, evaluate, predict and the custom loop alike: what is timed is the model's work
and Keras's loop, not host-side slicing and shuffling. The first epoch (tracing or XLA compilation) is
the harness's first_call_s; what Keras had in force (jit_compile, steps_per_execution) is recorded.
Checks are against the same model rebuilt in float64 on the CPU with the same weights (its "twin"):
training's first batch (outputs, loss and gradients at the initial weights, computed on the device),
and inference's outputs, loss and accuracy; and a model whose loss does not fall is a failed benchmark.
"""

from __future__ import annotations

import contextlib
import json
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .base import chart_roles
from .checks import assert_close, assert_gradients_close, assert_true, checked_once, digest
from .keras_backend import compile_options, to_numpy
from .keras_workload import KerasWorkload, compiled_settings
from .models import MODELS, synthetic_data
from .profiles import grid, sweep
from .registry import register
from .tf_execution import compile_for_mode, current_device, on_device

OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.01),
    "sgd_momentum": lambda: keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
    "rmsprop": lambda: keras.optimizers.RMSprop(),
    "adam": lambda: keras.optimizers.Adam(),
    "adagrad": lambda: keras.optimizers.Adagrad(learning_rate=0.05),
}
# loss: (Keras loss, whether its targets are integer labels rather than one-hot rows)
LOSSES = {
    "sparse_categorical_crossentropy": (keras.losses.SparseCategoricalCrossentropy, True),
    "categorical_crossentropy": (keras.losses.CategoricalCrossentropy, False),
    "binary_crossentropy": (keras.losses.BinaryCrossentropy, False),
    "mean_squared_error": (keras.losses.MeanSquaredError, False),
    "kl_divergence": (keras.losses.KLDivergence, False),
    "cosine_similarity": (keras.losses.CosineSimilarity, False),
}
# metric: (Keras metric, whether it reads integer labels)
METRICS = {
    "sparse_categorical_accuracy": (keras.metrics.SparseCategoricalAccuracy, True),
    "categorical_accuracy": (keras.metrics.CategoricalAccuracy, False),
    "binary_accuracy": (keras.metrics.BinaryAccuracy, False),
    "auc": (keras.metrics.AUC, False),
    "precision": (keras.metrics.Precision, False),
    "recall": (keras.metrics.Recall, False),
}
DEFAULTS = {"optimizer": "rmsprop", "loss": "sparse_categorical_crossentropy", "loop": "fit"}
TRAINING_MODELS = ("mlp", "mlp_wide", "cnn28", "cnn32", "lstm", "transformer")
CHECK_EPOCHS = 2  # after the first: the loss of the last must be below the first's
# (batch sizes, samples per epoch) per profile: training and inference sweep the same batch sizes
SWEEP = {
    "smoke": ([8], 16),
    "quick": ([32, 128, 256], 256),
    "standard": ([16, 32, 64, 128, 256, 512, 1024], 4096),  # 4 steps an epoch at batch 1024; 8192 ran too long on 2 cores
    "full": ([16, 64, 256, 1024, 2048, 4096, 8192], 65536),
}
QUICK_MODELS = ["mlp", "cnn28", "lstm", "transformer"]
CHECKED_SAMPLES = 32
"""The first batch's samples that the check recomputes on the device and in float64: the same
layers' outputs, loss and gradients as at any batch size (the check rebuilds the model; it does not read
the training's batches). At batch 512 the whole batch took the LSTM's and the Transformer's checks 0.97 s
each; at batch 32 they took 0.73 and 0.54 s (development VM, 2026-12-01)."""
MODEL_TERMS = 4096
"""Products summed into one output or gradient element, as the twin checks' tolerance counts them (784
inputs of the MLP's first layer, a batch's samples in a weight gradient). On the development CPU every
model's float32 outputs, loss and gradients were within 1.7e-6 of the twin's, a twentieth of the
tolerance; under mixed_bfloat16 the MLP's outputs were off by 6.5e-3, the first batch's gradients by
6-11%: rounding to 8 bits compounds through the backward pass, so mixed policies check outputs and loss."""


SHARED_MODEL: dict[tuple, SimpleNamespace] = {}
"""The latest case's compiled model, with its data on the device and the state it was built with, kept for
the next case that differs from it only in batch size: Keras traces its train, test and predict functions
once for every batch size (the dataset's batch dimension is None), where a fresh model is traced again.
On the Intel Xeon VM of 2026-12-02 the Transformer's first epoch took 2.6 to 2.8 s in each of its three
cases, and in one model fitted at batch 32 and then 128, 2.87 s and then 0.14 s. `traced_in_first_call`
in a case's extra_info says whether its first call traced (False: it ran on a trace an earlier case made)."""


@contextlib.contextmanager
def float64_keras():
    """Keras's dtype policy and floatx at float64 inside the block: layers and losses made there
    compute in float64."""
    policy, floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_dtype_policy("float64")
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)
        keras.config.set_floatx(floatx)


def quiet_pipeline() -> tf.data.Options:
    """tf.data's autotuner off: a cached dataset of tensors already in memory has nothing for it to tune,
    but its background thread competes with the step's intra-op threads. On the 2-core AMD EPYC VM
    (2026-12-01, 60 epochs after 5 warm ones, in one process) the CNN's epoch at batch 512 took 27-72 ms
    with the autotuner (five such runs: IQR 14-131% of the median, 10 to 18 epochs of 60 over 1.5x it),
    and 24-45 ms without it (one run: IQR 9.5%, none over 1.5x); the LSTM's, IQR 36-42% against 10%."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def float64_twin(model: str, weights: list[np.ndarray]) -> keras.Model:
    """The same model in float64 on the CPU, with these weights: the checks' reference."""
    with float64_keras(), tf.device("/CPU:0"):
        twin = MODELS[model].build()
        twin.set_weights([w.astype(np.float64) for w in weights])
    return twin


def outputs_loss_gradients(model: keras.Model, loss_fn, x, y, training: bool = True
                           ) -> tuple[np.ndarray, float, list[np.ndarray]]:
    """One forward and backward pass, as NumPy."""
    with tf.GradientTape() as tape:
        outputs = model(x, training=training)
        loss = loss_fn(y, outputs)
    gradients = tape.gradient(loss, model.trainable_variables)
    return to_numpy(outputs), float(to_numpy(loss)), [to_numpy(tf.convert_to_tensor(g)) for g in gradients]


def _training_sweeps() -> dict[str, list[dict[str, Any]]]:
    """Batch sweeps per model, then configurations at a fixed model and batch, then the custom loop."""
    def configs(samples: int) -> list[dict[str, Any]]:
        fixed = {"model": "mlp", "batch_size": 128, "samples": samples}
        return ([{**fixed, "optimizer": o} for o in OPTIMIZERS if o != DEFAULTS["optimizer"]]
                + [{**fixed, "loss": loss} for loss in LOSSES if loss != DEFAULTS["loss"]]
                + [{**fixed, "loss": "categorical_crossentropy", "metric": m} for m in METRICS
                   if not METRICS[m][1] and m != "categorical_accuracy"]  # the two accuracies are covered above
                + [{**fixed, "loop": "custom"}])

    def quick_configs() -> list[dict[str, Any]]:  # optimizers and the custom loop only
        return [c for c in configs(SWEEP["quick"][1]) if set(c) & {"optimizer", "loop"}]

    return sweep(
        smoke=grid(model=list(TRAINING_MODELS), batch_size=SWEEP["smoke"][0], samples=[SWEEP["smoke"][1]])
        + [{"model": "mlp", "batch_size": 8, "samples": 16, **c} for c in
           ({"optimizer": "adam"}, {"loss": "cosine_similarity", "metric": "auc"}, {"loop": "custom"})],
        quick=grid(model=QUICK_MODELS, batch_size=SWEEP["quick"][0], samples=[SWEEP["quick"][1]])
        + quick_configs(),
        standard=grid(model=list(TRAINING_MODELS), batch_size=SWEEP["standard"][0], samples=[SWEEP["standard"][1]])
        + configs(SWEEP["standard"][1]),
        full=grid(model=list(TRAINING_MODELS), batch_size=SWEEP["full"][0], samples=[SWEEP["full"][1]])
        + configs(SWEEP["full"][1]),
    )


class _ModelWorkload(KerasWorkload):
    """A layer-family model on its synthetic data, placed on the device. Graph and XLA modes only:
    run_eagerly is Keras's debugging switch (the chapter's fit, section 3-6-5, measures it)."""

    family = "training"
    roles = chart_roles(sweep="batch_size", measure="throughput")
    modes = ("graph", "xla")
    trains = False
    """Whether the step updates the model (its optimizer's state is then restored for each case)."""

    def mode_note(self) -> str:
        return "run_eagerly is Keras's debugging mode; the chapter's fit workload (3-6-5) times it"

    def items(self):
        return float(self.params["samples"])

    def build(self, mode: str, loss: str = "sparse_categorical_crossentropy", metric: str = "",
              optimizer: str = "rmsprop", policy: str = "float32", share: bool = True) -> None:
        """Seeded model under a precision policy, data on the device (one-hot targets where the loss or
        metric wants them). With `share`, the model compiled for the case before is taken, at the weights
        and optimizer state it was built with, where that case differed from this one only in batch size
        (SHARED_MODEL; a case that differs in any other parameter, predict from evaluate included, builds
        its own)."""
        self.seed_everything()
        keras.mixed_precision.set_global_policy(policy)
        spec = MODELS[self.params["model"]]
        others = tuple(sorted((name, str(value)) for name, value in self.params.items() if name != "batch_size"))
        made = self.make_optimizer(optimizer)  # its settings in the key: a name alone can hide other ones
        settings = json.dumps(made.get_config(), sort_keys=True, default=str)
        key = (type(self).__name__, others, loss, metric, settings, policy, mode, current_device())
        shared = SHARED_MODEL.get(key) if share else None
        fresh = shared is None
        if fresh:
            SHARED_MODEL.clear()  # one model kept at a time: its memory is free before the next is built
            shared = self._compiled(spec, mode, loss, metric, made)
            if share:
                SHARED_MODEL[key] = shared
        else:
            shared.model.set_weights(shared.initial_weights)
            for variable, value in zip(shared.model.optimizer.variables, shared.optimizer_state):
                variable.assign(value)
        self._extra_info["traced_in_first_call"] = fresh
        for name in ("host_x", "host_labels", "host_targets", "x", "y", "model", "initial_weights", "loss_fn",
                     "optimizer"):
            setattr(self, name, getattr(shared, name))
        # Batched once and cached: fit(x, y) on in-memory tensors re-slices and shuffles them on the
        # host every call, which cost more than the MLP's epoch itself on the development machine.
        self.dataset = (tf.data.Dataset.from_tensor_slices((self.x, self.y)).batch(self.batch_size).cache()
                        .with_options(quiet_pipeline()))

    def _compiled(self, spec, mode: str, loss: str, metric: str,
                  optimizer: keras.optimizers.Optimizer) -> SimpleNamespace:
        """A fresh model compiled for `mode`, its data on the device, and the state it starts from."""
        built = SimpleNamespace()
        built.host_x, built.host_labels = synthetic_data(self.params["model"], self.params["samples"])
        sparse = LOSSES[loss][1]
        built.host_targets = (built.host_labels if sparse
                              else np.eye(spec.classes, dtype=np.float32)[built.host_labels])
        built.x = on_device(built.host_x, "int32" if spec.tokens else self.dtype)
        built.y = on_device(built.host_targets, "int32" if sparse else self.dtype)
        built.model = spec.build()
        built.initial_weights = built.model.get_weights()
        built.loss_fn = LOSSES[loss][0]()
        built.optimizer = optimizer
        metrics = [METRICS[metric][0]()] if metric else []
        built.model.compile(optimizer=built.optimizer, loss=built.loss_fn, metrics=metrics, **compile_options(mode))
        if self.trains:  # the optimizer's variables made now, so that each case can start from them
            built.model.optimizer.build(built.model.trainable_variables)
        built.optimizer_state = [keras.ops.convert_to_numpy(v) for v in built.model.optimizer.variables]
        return built

    def make_optimizer(self, name: str) -> keras.optimizers.Optimizer:
        return OPTIMIZERS[name]()

    def checked_samples(self) -> int:
        """How many samples of the first batch the float64 twin checks: at most CHECKED_SAMPLES."""
        return min(self.batch_size, CHECKED_SAMPLES)

    def twin(self, weights: list[np.ndarray]) -> keras.Model:
        return float64_twin(self.params["model"], weights)

    def compute_dtype(self) -> str:
        return keras.mixed_precision.global_policy().compute_dtype

    def check_first_batch(self) -> str:
        """The first batch's outputs, loss and gradients at the initial weights, computed on the device by
        the model rebuilt there, against the float64 twin's: in training mode and with the gradients under
        float32; under a mixed policy the outputs and loss in inference mode (BatchNormalization at its
        moving statistics), since in training mode ResNet-50's normalisation over 4 samples amplified
        16-bit rounding to output errors of 12% (bfloat16) and 2.6% (float16) where inference mode gave
        4e-4 and 5e-5 on the development CPU. The chapter's models have no layer that the mode changes.
        Computed once (checked_once) by all that it computes from (the workload's class, model, loss,
        precision, device, and a digest of the initial weights and the checked samples): the batch sizes
        and optimizers of one model check the very same first batch, which took 0.4 to 0.8 s a case for
        the LSTM and the Transformer (Intel Xeon VM, 2026-12-02)."""
        x, y = self.host_x[:self.checked_samples()], self.host_targets[:self.checked_samples()]
        spec = MODELS[self.params["model"]]
        inputs = on_device(x, "int32" if spec.tokens else self.dtype)
        targets = on_device(y, "int32" if y.dtype.kind == "i" else self.dtype)
        compute = self.compute_dtype()
        key = (type(self).__name__, self.params["model"], self.params["loss"], compute, self.dtype, inputs.device,
               digest(self.initial_weights, x, y))
        return checked_once(key, lambda: self._first_batch_checked(spec, x, y, inputs, targets, compute),
                            "the same model, weights and batch")

    def _first_batch_checked(self, spec, x, y, inputs, targets, compute: str) -> str:
        model = spec.build()
        model.set_weights(self.initial_weights)
        training = compute == "float32"
        outputs, loss, gradients = outputs_loss_gradients(model, self.loss_fn, inputs, targets, training)
        twin = self.twin(self.initial_weights)
        with float64_keras(), tf.device("/CPU:0"):
            loss_64 = LOSSES[self.params["loss"]][0]()
            reference = outputs_loss_gradients(twin, loss_64, tf.constant(x if spec.tokens else x.astype(np.float64)),
                                               tf.constant(y if y.dtype.kind == "i" else y.astype(np.float64)),
                                               training)
        depth = sum(1 for layer in model.layers if layer.weights)
        checked = [assert_close("first batch outputs", outputs, reference[0], compute, MODEL_TERMS, depth),
                   assert_close("loss", np.array(loss), np.array(reference[1]), compute, MODEL_TERMS, depth)]
        if compute == "float32" and spec.gradients_checkable:
            checked.append(assert_gradients_close("gradients", gradients, reference[2], compute, MODEL_TERMS, depth))
        return "; ".join(checked)

    def teardown(self) -> None:
        keras.mixed_precision.set_global_policy("float32")  # the policy is global: leave it as found
        super().teardown()


@register
class Train(_ModelWorkload):
    """One epoch of training: model.fit, or (loop="custom") a GradientTape step in tf.function per batch."""

    name = "train"
    trains = True
    version = "3"  # tf.data's autotuner off (quiet_pipeline); 2: the Transformer's position embedding is trained
    section = "3-6-1,3-6-2,3-6-3,3-6-5"
    sweeps = _training_sweeps()

    def __init__(self, model: str, batch_size: int, samples: int, optimizer: str = DEFAULTS["optimizer"],
                 loss: str = DEFAULTS["loss"], metric: str | None = None, loop: str = DEFAULTS["loop"],
                 dtype: str = "float32"):
        sparse = LOSSES[loss][1]
        metric = metric or ("sparse_categorical_accuracy" if sparse else "categorical_accuracy")
        if METRICS[metric][1] != sparse:
            raise ValueError(f"{metric} reads {'integer' if METRICS[metric][1] else 'one-hot'} targets; {loss} "
                             f"reads the other kind")
        super().__init__(model=model, batch_size=batch_size, samples=samples, optimizer=optimizer, loss=loss,
                         metric=metric, loop=loop, dtype=dtype)
        self.batch_size, self.loop = batch_size, loop

    def setup(self, device, mode):
        self.build(mode, self.params["loss"], self.params["metric"], self.params["optimizer"],
                   share=self.loop == "fit")  # the custom loop's tf.function is traced per case
        if self.loop == "custom":
            self.optimizer.build(self.model.trainable_variables)  # no variables created inside tf.function
            self.train_step = compile_for_mode(self._train_step, mode)
        self._extra_info.update(compiled_settings(self.model))

    def _train_step(self, x, y):
        """Section 3-5-4's training step, for a Keras model and optimizer."""
        with tf.GradientTape() as tape:
            loss = self.loss_fn(y, self.model(x, training=True))
        gradients = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return loss

    def step(self):
        if self.loop == "fit":
            return self.model.fit(self.dataset, epochs=1, shuffle=False, verbose=0).history["loss"]
        losses = [self.train_step(x, y) for x, y in self.dataset]
        return [tf.reduce_mean(losses)]

    def check(self, outputs):
        first_batch = self.check_first_batch()
        losses = [float(to_numpy(outputs[0]))]
        for _ in range(CHECK_EPOCHS):
            losses.append(float(to_numpy(self.step()[0])))
        self._extra_info["loss_history"] = losses
        assert_true(bool(np.isfinite(losses).all()), f"non-finite loss {losses}")
        assert_true(losses[-1] < losses[0], f"loss went from {losses[0]:.4f} to {losses[-1]:.4f} over "
                    f"{CHECK_EPOCHS} more epochs: the model did not learn")
        return (f"{first_batch}; {self.params['loss']} fell from {losses[0]:.4f} (first epoch) to {losses[-1]:.4f} "
                f"({self.loop})")


@register
class Inference(_ModelWorkload):
    """model.evaluate or model.predict over the samples at a batch size (sections 3-6-6, 3-6-7)."""

    name = "inference"
    version = "3"  # tf.data's autotuner off (quiet_pipeline); 2: the Transformer's position embedding is trained
    section = "3-6-6,3-6-7"
    sweeps = sweep(**{
        profile: grid(model=QUICK_MODELS[:1] if profile == "quick" else list(TRAINING_MODELS),
                      method=["evaluate", "predict"], batch_size=batches, samples=[samples])
        for profile, (batches, samples) in SWEEP.items()
    })  # quick: the MLP only, to keep the quick profile short

    def __init__(self, model: str, method: str, batch_size: int, samples: int, dtype: str = "float32"):
        super().__init__(model=model, method=method, batch_size=batch_size, samples=samples, dtype=dtype)
        self.method, self.batch_size = method, batch_size

    def setup(self, device, mode):
        self.build(mode, metric="sparse_categorical_accuracy")
        self._extra_info.update(compiled_settings(self.model))

    def step(self):
        if self.method == "evaluate":
            return self.model.evaluate(self.dataset, verbose=0)
        return self.model.predict(self.dataset, verbose=0)

    def check(self, outputs):
        """predict's outputs, and evaluate's loss and accuracy, against the float64 twin's on every sample
        (cross-entropy and argmax of its probabilities)."""
        spec = MODELS[self.params["model"]]
        with tf.device("/CPU:0"):
            direct = to_numpy(self.twin(self.model.get_weights())(
                self.host_x if spec.tokens else self.host_x.astype(np.float64), training=False))
        if self.method == "predict":
            return assert_close("predict (the twin's)", to_numpy(outputs), direct, self.dtype, MODEL_TERMS)
        loss, accuracy = outputs
        picked = direct[np.arange(len(direct)), self.host_labels]
        reference_loss = -np.mean(np.log(np.clip(picked, 1e-7, 1.0)))
        checked = assert_close("evaluate loss (the twin's)", np.array(loss), np.array(reference_loss), self.dtype,
                               MODEL_TERMS)
        reference_accuracy = np.mean(direct.argmax(axis=1) == self.host_labels)
        assert_true(abs(accuracy - reference_accuracy) <= 1.0 / len(direct) + 1e-9,
                    f"evaluate accuracy {accuracy:.4f}, float64 reference {reference_accuracy:.4f}")
        return f"{checked}; accuracy {accuracy:.3f} matches"


@register
class MixedPrecision(Train):
    """One epoch of fit under a Keras mixed-precision policy (mixed_float16 with the loss scaling Keras
    adds by itself, or mixed_bfloat16): what it buys in speed; the check is that training still learns."""

    name = "mixed"
    roles = chart_roles(sweep="batch_size", measure="throughput", precision="policy", precision_baseline="float32")
    section = "3-6-5"
    sweeps = sweep(
        smoke=grid(model=["mlp"], batch_size=[8], samples=[16], policy=["mixed_float16", "mixed_bfloat16"]),
        quick=[],  # in standard and full: the quick profile stays short
        standard=grid(model=["mlp", "cnn28", "transformer"], batch_size=[128], samples=[SWEEP["standard"][1]],
                      policy=["float32", "mixed_float16", "mixed_bfloat16"]),
        full=grid(model=["mlp", "cnn28", "transformer"], batch_size=[1024], samples=[SWEEP["full"][1]],
                  policy=["float32", "mixed_float16", "mixed_bfloat16"]),
    )

    def __init__(self, model: str, batch_size: int, samples: int, policy: str, dtype: str = "float32"):
        super().__init__(model=model, batch_size=batch_size, samples=samples, dtype=dtype)
        self.params["policy"] = policy

    def setup(self, device, mode):
        self.build(mode, self.params["loss"], self.params["metric"], self.params["optimizer"], self.params["policy"])
        self._extra_info.update(compiled_settings(self.model), policy=self.params["policy"],
                                loss_scaling=type(self.model.optimizer).__name__ == "LossScaleOptimizer")
