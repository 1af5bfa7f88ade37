"""Training the layer families across batch sizes: Keras fit (or a GradientTape loop, 3-5-4 style) of
an MLP, a CNN, an LSTM and a Transformer encoder; optimizers, losses and metrics (section 3-6-3) at a
fixed model and batch; and evaluate / predict throughput at the same batch sizes.

A row's figure is one steady step (`items`: a batch's samples), read from calls of fit, evaluate, predict
or the custom loop over batches made before timing and cycled for as many steps as a call runs (a cached,
pre-batched tf.data.Dataset under TensorFlow; under JAX and PyTorch, a keras.utils.PyDataset of batches on
the device, keras_backend.Batches):
the harness times calls of two lengths and splits the fixed cost of a call (fit's set-up, its iterator,
its callbacks) from the steps (StepCalls; docs/timing.md). What is timed is the model's work and Keras's
loop, not host-side slicing and shuffling. The first call, one epoch over the samples (tracing or XLA
compilation), is the harness's first_call_s; what Keras had in force (jit_compile, steps_per_execution)
is recorded.
Checks are against the same model rebuilt in float64 on the CPU with the same weights (its "twin"):
training's first step of its own compiled train function (the loss it reports and its change to the
weights, against the twin stepped by the same optimizer) and its first epoch's loss against that epoch
run again; inference's outputs, loss and accuracy; and a model whose loss does not fall is a failed
benchmark.
"""

from __future__ import annotations

import contextlib
import json
from types import SimpleNamespace
from typing import Any, ClassVar

import keras
import numpy as np

from .base import StepCalls, chart_roles
from .checks import allowed, assert_close, assert_true, assert_within, digest, errors
from .devices import ASYNC_KINDS
from .keras_backend import (
    Batches,
    compile_options,
    current,
    float64_arithmetic,
    loss_and_gradients,
    on_cpu,
    place,
    to_numpy,
)
from .keras_workload import KerasWorkload, compiled_settings, restore
from .models import MODELS, synthetic_data
from .profiles import grid, sweep
from .registry import register

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
STEPS_PER_EXECUTION = 8
"""The larger steps_per_execution the training sweep runs beside 1: Keras runs that many steps in one call
of its compiled train function."""
MODEL_TERMS = 4096
"""Products summed into one output or gradient element, as the twin checks' rounding model counts them (784
inputs of the MLP's first layer, a batch's samples in a weight gradient); what each model showed beyond
that is MEASURED_ERRORS."""


MEASURED_ERRORS: dict[str, dict[str, tuple[float, ...]]] = {
    # model: {precision held to: (outputs, loss, step loss, update)}: relative errors against the float64
    # twin on a CPU, measured by `python tools/check_errors.py` (the largest
    # over 8 and 32 samples, 2 for the reference models; the update's over the optimizers the model trains
    # with). outputs, loss: at the initial weights, in inference mode (inference's checks); step loss,
    # update: one step of the model's own compiled train function (the training checks; update_error).
    # tf32 is the TF32 stand-in (tests/tf32_standin.py). A check allows checks.MARGIN times these where
    # the rounding model allows less (checks.allowed).
    "mlp": {"float32": (1.6e-7, 7.8e-8, 7.8e-8, 5.0e-6), "tf32": (3.0e-4, 3.0e-5, 3.0e-5, 2.5e-3),
            "bfloat16": (1.8e-3, 1.7e-4, 1.7e-4, 2.7e-2), "float16": (2.7e-4, 2.3e-5, 2.3e-5, 2.5e-3)},
    "mlp_wide": {"float32": (3.1e-7, 3.8e-8, 3.8e-8, 3.7e-6), "tf32": (3.4e-4, 1.3e-4, 1.3e-4, 1.6e-2),
                 "bfloat16": (2.2e-3, 2.0e-4, 2.0e-4, 3.1e-2), "float16": (3.1e-4, 5.4e-5, 5.4e-5, 1.6e-2)},
    "cnn28": {"float32": (1.5e-7, 6.4e-8, 6.4e-8, 3.1e-6), "tf32": (2.0e-4, 2.0e-5, 2.0e-5, 7.4e-3),
              "bfloat16": (1.5e-3, 9.0e-5, 9.0e-5, 2.3e-2), "float16": (2.0e-4, 4.2e-5, 4.2e-5, 7.7e-3)},
    "cnn32": {"float32": (3.0e-7, 1.1e-7, 1.1e-7, 1.2e-6), "tf32": (2.6e-4, 4.4e-5, 4.4e-5, 1.6e-3),
              "bfloat16": (1.8e-3, 2.3e-4, 2.3e-4, 1.0e-2), "float16": (2.3e-4, 4.1e-5, 4.1e-5, 2.4e-3)},
    "lstm": {"float32": (8.0e-8, 1.2e-8, 1.2e-8, 7.8e-6), "tf32": (6.5e-5, 2.2e-5, 2.2e-5, 1.4e-4),
             "bfloat16": (1.1e-3, 2.1e-5, 2.1e-5, 3.3e-3), "float16": (1.4e-4, 1.6e-5, 1.6e-5, 3.8e-4)},
    "transformer": {"float32": (9.9e-8, 2.0e-8, 2.0e-8, 6.5e-7), "tf32": (1.9e-4, 1.5e-5, 1.5e-5, 3.8e-4),
                    "bfloat16": (1.5e-3, 1.8e-4, 1.8e-4, 3.9e-2), "float16": (1.9e-4, 2.3e-5, 2.3e-5, 4.1e-3)},
    # ResNet-50 trains in float16 too slowly on a CPU to measure (reference_train skips it there)
    "resnet50": {"float32": (9.8e-8, 4.4e-9, 5.2e-6, 1.5e-2), "tf32": (5.3e-5, 8.4e-6, 2.9e-4, 4.4e-1),
                 "bfloat16": (3.8e-4, 1.4e-6, 4.5e-3, 1.1), "float16": (4.7e-5, 8.2e-6)},
    "bert_base": {"float32": (3.0e-7, 5.1e-7, 4.4e-7, 1.2e-5), "tf32": (6.8e-4, 7.6e-4, 7.6e-4, 2.3e-5),
                  "bfloat16": (5.9e-3, 8.0e-3, 9.2e-3, 9.1e-4), "float16": (7.8e-4, 1.1e-3, 9.4e-4, 3.5e-5)},
}
"""What the twin checks allow beyond the rounding model, per model: measured, not scaled by depth. TF32 keeps
every model's outputs and losses within TF32's unit. A first training step's update moves further: an
adaptive optimizer's first step is near lr times the gradient's sign, so the update is compared weighted
by the gradient's magnitude (update_error), and is still 0.01 to 4% off under TF32 and mixed_bfloat16,
and ResNet-50's 1.5% (float32) to 110% (mixed_bfloat16) with BatchNormalization over 2 samples: where 4
times that is half the update or more, the update is not held (UPDATE_TELLS) and the verdict says so."""


def measured_errors(model: str, held: str) -> tuple[float, float, float, float]:
    """(outputs, loss, gradients, the gradients' worst element) errors `model` showed in the precision
    `held` (MEASURED_ERRORS; 0.0 where not measured)."""
    found = MEASURED_ERRORS.get(model, {}).get(held, ())
    return tuple(found) + (0.0,) * (4 - len(found))


UPDATE_TELLS = 0.5
"""The first step's update is held to the twin's only where its tolerance is under this share of it: where
rounding alone moved an adaptive optimizer's first step (near lr times the gradient's sign) by a quarter or
more (mixed_bfloat16's), a step of zero would pass, and the verdict says it was not held."""
CONVOLUTIONAL = ("cnn28", "cnn32", "resnet50")
"""Models with convolutions, which PyTorch runs in TF32 even where its matmuls are float32 (precision.py)."""


SHARED_MODEL: dict[tuple, SimpleNamespace] = {}
"""The latest case's compiled model, with its data on the device and the state it was built with, kept for
the next case that differs from it only in batch size: Keras traces its train, test and predict functions
once for every batch size (the dataset's batch dimension is None), where a fresh model is traced again.
On the Intel Xeon VM of 2026-12-02 the Transformer's first epoch took 2.6 to 2.8 s in each of its three
cases, and in one model fitted at batch 32 and then 128, 2.87 s and then 0.14 s. `traced_in_first_call`
in a case's extra_info says whether its first call traced (False: it ran on a trace an earlier case made)."""


@contextlib.contextmanager
def float64_keras():
    """Keras's dtype policy and floatx at float64 inside the block, on the host's CPU: layers and losses made
    there compute in float64 (under JAX too: keras_backend.float64_arithmetic); their calls and steps must be
    inside it too."""
    policy, floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_dtype_policy("float64")
    keras.config.set_floatx("float64")
    try:
        with float64_arithmetic(), on_cpu():
            yield
    finally:
        keras.config.set_dtype_policy(policy)
        keras.config.set_floatx(floatx)


def quiet_pipeline():
    """tf.data's autotuner off: a cached dataset of tensors already in memory has nothing for it to tune,
    but its background thread competes with the step's intra-op threads. On the 2-core AMD EPYC VM
    (2026-12-01, 60 epochs after 5 warm ones, in one process) the CNN's epoch at batch 512 took 27-72 ms
    with the autotuner (five such runs: IQR 14-131% of the median, 10 to 18 epochs of 60 over 1.5x it),
    and 24-45 ms without it (one run: IQR 9.5%, none over 1.5x); the LSTM's, IQR 36-42% against 10%."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def float64_twin(model: str, weights: list[np.ndarray]) -> keras.Model:
    """The same model in float64 on the CPU, with these weights: the checks' reference (call it inside
    float64_keras)."""
    with float64_keras():
        twin = MODELS[model].build()
        twin.set_weights([w.astype(np.float64) for w in weights])
    return twin


def outputs_loss_gradients(model: keras.Model, loss_fn, x, y, training: bool = True
                           ) -> tuple[np.ndarray, float, list[np.ndarray]]:
    """One forward and backward pass (keras_backend.loss_and_gradients), as NumPy."""
    outputs, loss, gradients = loss_and_gradients(model, loss_fn, x, y, training)
    return to_numpy(outputs), float(to_numpy(loss)), [to_numpy(g) for g in gradients]


def one_step(model: keras.Model, step, x, y) -> tuple[float, np.ndarray]:
    """`step(model, x, y)` once from the model's current state: the loss it reports, and the change it made
    to the trainable weights, all of them as one float64 vector."""
    before = [np.asarray(to_numpy(v), np.float64) for v in model.trainable_weights]
    loss = float(to_numpy(step(model, x, y)))
    after = [np.asarray(to_numpy(v), np.float64) for v in model.trainable_weights]
    return loss, np.concatenate([(a - b).ravel() for b, a in zip(before, after)])


TWIN_STEPS: dict[tuple, tuple[float, np.ndarray, np.ndarray]] = {}
"""The float64 twin's first steps, by all they are computed from: the reference (never a verdict) that the
cases of one model, optimizer and first batch share, each checking its own step against it."""


def twin_step(model: str, make_optimizer, loss_class, weights: list[np.ndarray], x: np.ndarray,
              y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """One step of the float64 twin, with the optimizer `make_optimizer()` makes (in float64), from
    `weights` on the batch (x, y): its loss, the change to its trainable weights (one_step), and the
    magnitude of the gradient it stepped along (the weight of each element in the update's check)."""
    with float64_keras():
        settings = json.dumps(make_optimizer().get_config(), sort_keys=True, default=str)
    key = (model, settings, loss_class.__name__, digest(weights, x, y))
    if key not in TWIN_STEPS:
        with float64_keras():
            twin = float64_twin(model, weights)
            tx, ty = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
            outputs, _, gradients = outputs_loss_gradients(twin, loss_class(), tx, ty)
            # each sample's loss averaged here: Keras 3.15's mean of a loss rounds float64 to float32 under
            # PyTorch (its divide_no_nan promotes with Python's float as float32; keras-team/keras#23225)
            loss = float(np.mean(to_numpy(loss_class(reduction=None)(ty, keras.ops.convert_to_tensor(outputs)))))
            twin.compile(optimizer=make_optimizer(), loss=loss_class(), run_eagerly=True)  # one step: no trace
            _, moved = one_step(twin, lambda m, a, b: m.fit(a, b, batch_size=len(x), epochs=1, shuffle=False,
                                                            verbose=0).history["loss"][0], tx, ty)
        if len(TWIN_STEPS) >= 8:
            TWIN_STEPS.clear()
        TWIN_STEPS[key] = (loss, moved, np.abs(np.concatenate([g.ravel() for g in gradients])))
    return TWIN_STEPS[key]


def skipped_by_loss_scaling(model: keras.Model, moved: np.ndarray) -> bool:
    """Whether a step changed nothing because its loss-scaled gradients overflowed (mixed_float16's
    LossScaleOptimizer then skips the step and lowers the scale, as it is meant to)."""
    return isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) and not np.any(moved)


def update_error(moved: np.ndarray, reference: np.ndarray, gradient: np.ndarray) -> float:
    """How far a step's change to the weights is from the reference's, each element weighted by the
    gradient's magnitude there: to first order the step changes the loss by the gradient times the change,
    so an element whose gradient is rounding noise (whose sign an adaptive optimizer's first step follows,
    lr times the sign) counts for as little as it moves the loss. Normwise, relative."""
    return errors(moved * gradient, reference * gradient)[0]


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

    def dispatch(models: list[str], batches: list[int], samples: int) -> list[dict[str, Any]]:
        """What steps_per_execution buys (section 3-6-5's fit, as GPU and TPU users amortise the host's cost
        of a step): the sweep's cases again at STEPS_PER_EXECUTION."""
        return grid(model=models, batch_size=batches, samples=[samples], steps_per_execution=[STEPS_PER_EXECUTION])

    return sweep(
        smoke=grid(model=list(TRAINING_MODELS), batch_size=SWEEP["smoke"][0], samples=[SWEEP["smoke"][1]])
        + [{"model": "mlp", "batch_size": 8, "samples": 16, **c} for c in
           ({"optimizer": "adam"}, {"loss": "cosine_similarity", "metric": "auc"}, {"loop": "custom"})],
        quick=grid(model=QUICK_MODELS, batch_size=SWEEP["quick"][0], samples=[SWEEP["quick"][1]])
        + quick_configs() + dispatch(["mlp"], [32, 256], SWEEP["quick"][1]),
        standard=grid(model=list(TRAINING_MODELS), batch_size=SWEEP["standard"][0], samples=[SWEEP["standard"][1]])
        + configs(SWEEP["standard"][1]) + dispatch(["mlp", "cnn28"], [16, 128, 1024], SWEEP["standard"][1]),
        full=grid(model=list(TRAINING_MODELS), batch_size=SWEEP["full"][0], samples=[SWEEP["full"][1]])
        + configs(SWEEP["full"][1]) + dispatch(["mlp", "cnn28"], [16, 256, 4096], SWEEP["full"][1]),
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

    timed_s: ClassVar[dict[str, float]] = {"quick": 0.5}
    """A row's step is a difference of two calls, noisier than either: the quick profile's 0.05 s gives 5 pairs,
    too few to read a step within 10% of a long epoch's (docs/timing.md)."""
    callbacks: ClassVar[list[keras.callbacks.Callback]] = []
    """Callbacks given to every call of fit, evaluate and predict (none: a test adds a known cost a call)."""

    def items(self):
        """Samples a step: the row's figure is one steady step (step_calls)."""
        return float(self.batch_size)

    def step_calls(self) -> StepCalls:
        call = "the custom loop" if self.params.get("loop") == "custom" else f"{getattr(self, 'method', 'fit')}(dataset)"
        return StepCalls(self.call_of, call, shortest=int(self.model.steps_per_execution))

    def cycled(self, steps: int):
        """The epoch's batches, cycled for `steps` steps: a call as long as the harness asks."""
        if isinstance(self.dataset, Batches):
            return Batches(self.dataset.batches, steps)
        return self.dataset.repeat().take(steps)

    def call_of(self, steps: int):
        """A call of fit (or of the custom loop, evaluate, predict) over `steps` steps; step() is one epoch."""
        raise NotImplementedError

    @property
    def uses(self) -> tuple[str, ...]:
        return ("matmul", "conv") if self.params["model"] in CONVOLUTIONAL else ("matmul",)

    def measured(self, held: str) -> tuple[float, float, float, float]:
        return measured_errors(self.params["model"], held)

    def placed_on(self, device):
        """The scope the model is built and compiled in. On an accelerator, OneDeviceStrategy on it, so that
        fit, evaluate and predict prefetch each batch onto the device while the step before runs (Keras's
        default strategy reads each batch from the host-cached dataset inside the step: a copy from the
        host a step, which a user's input pipeline would overlap). On the CPU the batches are in the
        device's own memory already: none."""
        if device.kind in ASYNC_KINDS and current() == "tensorflow":
            import tensorflow as tf

            return tf.distribute.OneDeviceStrategy(device.tf_name).scope()
        return contextlib.nullcontext()

    def input_pipeline(self, device) -> str:
        """What feeds the steps, for the row (extra_info.input_pipeline)."""
        if self.params.get("loop") == "custom" or current() != "tensorflow":
            return ("batches resident on the device, made before timing"
                    + ("" if current() == "tensorflow" else ", in a keras.utils.PyDataset"))
        if isinstance(self.placed_on(device), contextlib.nullcontext):
            return "tf.data, batched and cached in the host's memory (the CPU's own)"
        return "tf.data, batched and cached, prefetched onto the device by OneDeviceStrategy"

    def build(self, device, mode: str, loss: str = "sparse_categorical_crossentropy", metric: str = "",
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
        with self.placed_on(device):  # the optimizer too: its variables are made in the model's strategy
            made = self.make_optimizer(optimizer)  # its settings in the key: a name alone can hide other ones
            settings = json.dumps(made.get_config(), sort_keys=True, default=str)
            key = (type(self).__name__, others, loss, metric, settings, policy, mode, device.id)
            shared = SHARED_MODEL.get(key) if share else None
            fresh = shared is None
            if fresh:
                SHARED_MODEL.clear()  # one model kept at a time: its memory is free before the next is built
                shared = self._compiled(spec, mode, loss, metric, made)
                if share:
                    SHARED_MODEL[key] = shared
        self._extra_info["traced_in_first_call"] = fresh
        for name in ("host_x", "host_labels", "host_targets", "x", "y", "model", "initial_weights", "loss_fn",
                     "optimizer", "optimizer_state"):
            setattr(self, name, getattr(shared, name))
        # Batched once: fit(x, y) on in-memory tensors re-slices and shuffles them on the host every call, a
        # cost that can exceed the step itself (docs/workloads.md)
        self.dataset = self.batched(self.x, self.y)
        self._extra_info["input_pipeline"] = self.input_pipeline(device)
        if not fresh:
            self.reset()

    def batched(self, x, y):
        """(x, y) in batches, once: under TensorFlow a cached tf.data.Dataset; under the others, Batches."""
        if current() != "tensorflow":
            return Batches([(x[i:i + self.batch_size], y[i:i + self.batch_size])
                            for i in range(0, int(x.shape[0]), self.batch_size)], -(-int(x.shape[0]) // self.batch_size))
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((x, y)).batch(self.batch_size).cache().with_options(quiet_pipeline())

    def reset(self) -> None:
        """Back to the weights and optimizer state the model was built with."""
        restore(self.model, self.model.optimizer, self.initial_weights, self.optimizer_state)

    def _compiled(self, spec, mode: str, loss: str, metric: str,
                  optimizer: keras.optimizers.Optimizer) -> SimpleNamespace:
        """A fresh model compiled for `mode`, its data on the device, and the state it starts from."""
        built = SimpleNamespace()
        built.host_x, built.host_labels = synthetic_data(self.params["model"], self.params["samples"])
        sparse = LOSSES[loss][1]
        built.host_targets = (built.host_labels if sparse
                              else np.eye(spec.classes, dtype=np.float32)[built.host_labels])
        built.x = place(built.host_x, "int32" if spec.tokens else self.dtype)
        built.y = place(built.host_targets, "int32" if sparse else self.dtype)
        built.model = spec.build()
        built.initial_weights = built.model.get_weights()
        built.loss_fn = LOSSES[loss][0]()
        built.optimizer = optimizer
        metrics = [METRICS[metric][0]()] if metric else []
        built.model.compile(optimizer=built.optimizer, loss=built.loss_fn, metrics=metrics,
                            steps_per_execution=int(self.params.get("steps_per_execution", 1)), **compile_options(mode))
        if self.trains:  # the optimizer's variables made now, so that each case can start from them
            built.model.optimizer.build(built.model.trainable_variables)
        built.optimizer_state = [keras.ops.convert_to_numpy(v) for v in built.model.optimizer.variables]
        return built

    def make_optimizer(self, name: str) -> keras.optimizers.Optimizer:
        return OPTIMIZERS[name]()

    def twin(self, weights: list[np.ndarray]) -> keras.Model:
        return float64_twin(self.params["model"], weights)

    def compute_dtype(self) -> str:
        return keras.mixed_precision.global_policy().compute_dtype

    def checked_samples(self) -> int:
        """The samples of the first batch that the first-step check steps on: the whole batch (the shape
        the timed steps were traced for), whose float64 twin step is cheap for the chapter's models."""
        return min(self.batch_size, self.params["samples"])

    def own_step(self, x, y):
        """One step of the case's own compiled train function on a batch (fit's, or the custom loop's);
        returns the loss it reports. fit's is given the batch as the timed epochs are, a dataset of the
        same element spec, so that it runs the very trace they ran (train_on_batch feeds a Python
        generator, for which Keras traces the function again, and under Keras 3.3 reports a loss averaged
        with earlier calls')."""
        if self.params.get("loop", "fit") == "custom":
            return self.train_step(x, y)
        return self.model.fit(self.batched(x, y), epochs=1, shuffle=False, verbose=0).history["loss"][0]

    def check_first_step(self) -> str:
        """The timed step, checked: from the weights and optimizer state the case starts from, one step of
        its own compiled train function (its mode, optimizer and policy) on the epoch's first batch, against
        the float64 twin stepped the same way (the same optimizer, in float64, on the CPU): the loss the step
        reports and the change it makes to every trainable weight (update_error). Held to the precision the
        device computes in (precision.py), or to checks.MARGIN times the errors this model showed there
        (MEASURED_ERRORS). Leaves the model at its starting state."""
        count = self.checked_samples()
        held = self.held_to(self.compute_dtype())
        self.reset()
        loss, moved = one_step(self.model, lambda model, x, y: self.own_step(x, y), self.x[:count], self.y[:count])
        self.reset()
        spec = MODELS[self.params["model"]]
        x, y = self.host_x[:count], self.host_targets[:count]
        twin_loss, twin_moved, gradient = twin_step(
            self.params["model"], lambda: self.make_optimizer(self.params["optimizer"]), LOSSES[self.params["loss"]][0],
            self.initial_weights, x if spec.tokens else x.astype(np.float64),
            y if y.dtype.kind == "i" else y.astype(np.float64))
        measured = self.measured(held)
        checked = [assert_close("first-step loss", np.array(loss), np.array(twin_loss), held, MODEL_TERMS,
                                measured[2])]
        if skipped_by_loss_scaling(self.model, moved):
            checked.append("first-step update skipped: its float16 gradients overflowed the loss scale, and Keras's "
                           "dynamic loss scaling skips such a step (not held)")
        elif allowed(held, MODEL_TERMS, measured[3]) < UPDATE_TELLS:
            checked.append(assert_within("first-step update (weighted by the gradient's magnitude)",
                                         update_error(moved, twin_moved, gradient), 0.0, held, MODEL_TERMS,
                                         measured[3], elements=False))
        else:
            checked.append(f"first-step update not held: {held} rounding alone moved it {measured[3]:.0%} from the "
                           "twin's on the CPU (MEASURED_ERRORS)")
        return "; ".join(checked)

    def teardown(self) -> None:
        keras.mixed_precision.set_global_policy("float32")  # the policy is global: leave it as found
        super().teardown()


@register
class Train(_ModelWorkload):
    """One epoch of training: model.fit, or (loop="custom") a GradientTape step in tf.function per batch."""

    name = "train"
    trains = True
    version = "4"  # a row is one steady step (StepCalls); 3: tf.data's autotuner off (quiet_pipeline)
    section = "3-6-1,3-6-2,3-6-3,3-6-5"
    sweeps = _training_sweeps()

    def __init__(self, model: str, batch_size: int, samples: int, optimizer: str = DEFAULTS["optimizer"],
                 loss: str = DEFAULTS["loss"], metric: str | None = None, loop: str = DEFAULTS["loop"],
                 steps_per_execution: int = 1, dtype: str = "float32"):
        sparse = LOSSES[loss][1]
        metric = metric or ("sparse_categorical_accuracy" if sparse else "categorical_accuracy")
        if METRICS[metric][1] != sparse:
            raise ValueError(f"{metric} reads {'integer' if METRICS[metric][1] else 'one-hot'} targets; {loss} "
                             f"reads the other kind")
        if steps_per_execution != 1 and loop != "fit":
            raise ValueError("steps_per_execution is fit's: the custom loop calls its step once a batch")
        super().__init__(model=model, batch_size=batch_size, samples=samples, optimizer=optimizer, loss=loss,
                         metric=metric, loop=loop, dtype=dtype)
        if steps_per_execution != 1:  # named only where set: the ids and results of the others stay as they were
            self.params["steps_per_execution"] = steps_per_execution
        self.batch_size, self.loop = batch_size, loop

    def unsupported(self, device, mode):
        if self.loop == "custom" and current() != "tensorflow":
            return (f"the custom loop is section 3-5-4's GradientTape step, TensorFlow's; its {current()} equivalent "
                    "(Keras's stateless API under jax.grad, or torch autograd) is not written yet")
        if self.params.get("steps_per_execution", 1) != 1 and current() == "torch":
            return "Keras's PyTorch backend runs one step an execution (it refuses steps_per_execution above 1)"
        return super().unsupported(device, mode)

    def setup(self, device, mode):
        self.build(device, mode, self.params["loss"], self.params["metric"], self.params["optimizer"],
                   share=self.loop == "fit")  # the custom loop's tf.function is traced per case
        if self.loop == "custom":
            from .tf_execution import compile_for_mode, on_device

            self.optimizer.build(self.model.trainable_variables)  # no variables created inside tf.function
            self.train_step = compile_for_mode(self._train_step, mode)
            self.batches = [(on_device(x, x.dtype.name), on_device(y, y.dtype.name)) for x, y in self.dataset]
        self._extra_info.update(compiled_settings(self.model))

    def _train_step(self, x, y):
        """Section 3-5-4's training step, for a Keras model and optimizer (TensorFlow's custom loop)."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = self.loss_fn(y, self.model(x, training=True))
        gradients = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return loss

    def step(self):
        return self.fit_on(self.dataset, self.batches if self.loop == "custom" else None)

    def fit_on(self, dataset, batches: list | None = None):
        """One epoch over `dataset` (fit), or the custom loop over `batches`; the epoch's mean loss."""
        if batches is None:
            return self.model.fit(dataset, epochs=1, shuffle=False, verbose=0, callbacks=self.callbacks).history["loss"]
        losses = [self.train_step(x, y) for x, y in batches]
        return [keras.ops.mean(keras.ops.stack(losses))]

    def call_of(self, steps: int):
        if self.loop == "custom":
            batches = [self.batches[i % len(self.batches)] for i in range(steps)]
            return lambda: self.fit_on(None, batches)
        dataset = self.cycled(steps)
        return lambda: self.fit_on(dataset)

    def check(self, outputs):
        """The first step against the float64 twin (check_first_step); the first call's own output, the
        first epoch's loss, against the same epoch run again from the same start (the timed step is the
        checked step: a result changed after it was computed fails); and CHECK_EPOCHS more epochs lower
        the loss."""
        first_step = self.check_first_step()
        first = float(to_numpy(outputs[0]))
        losses = [float(to_numpy(self.step()[0]))]
        held = self.held_to(self.compute_dtype())
        replayed = assert_close("first epoch's loss, run again", np.array(first), np.array(losses[0]), held,
                                MODEL_TERMS, self.measured(held)[2])
        for _ in range(CHECK_EPOCHS):
            losses.append(float(to_numpy(self.step()[0])))
        self._extra_info["loss_history"] = losses
        assert_true(bool(np.isfinite(losses).all()), f"non-finite loss {losses}")
        assert_true(losses[-1] < losses[0], f"loss went from {losses[0]:.4f} to {losses[-1]:.4f} over "
                    f"{CHECK_EPOCHS} more epochs: the model did not learn")
        return (f"{first_step}; {replayed}; {self.params['loss']} fell from {losses[0]:.4f} (first epoch) to "
                f"{losses[-1]:.4f} ({self.loop})")


@register
class Inference(_ModelWorkload):
    """model.evaluate or model.predict over the samples at a batch size (sections 3-6-6, 3-6-7)."""

    name = "inference"
    version = "4"  # a row is one steady step (StepCalls); 3: tf.data's autotuner off (quiet_pipeline)
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
        self.build(device, mode, metric="sparse_categorical_accuracy")
        self._extra_info.update(compiled_settings(self.model))

    def step(self):
        return self.run_on(self.dataset)

    def run_on(self, dataset):
        if self.method == "evaluate":
            return self.model.evaluate(dataset, verbose=0, callbacks=self.callbacks)
        return self.model.predict(dataset, verbose=0, callbacks=self.callbacks)

    def call_of(self, steps: int):
        dataset = self.cycled(steps)
        return lambda: self.run_on(dataset)

    def check(self, outputs):
        """predict's outputs, and evaluate's loss and accuracy, against the float64 twin's on every sample
        (cross-entropy and argmax of its probabilities)."""
        spec = MODELS[self.params["model"]]
        with float64_keras():
            direct = to_numpy(self.twin(self.model.get_weights())(
                self.host_x if spec.tokens else self.host_x.astype(np.float64), training=False))
        held = self.held_to()
        if self.method == "predict":
            return assert_close("predict (the twin's)", to_numpy(outputs), direct, held, MODEL_TERMS,
                                self.measured(held)[0])
        loss, accuracy = outputs
        picked = direct[np.arange(len(direct)), self.host_labels]
        reference_loss = -np.mean(np.log(np.clip(picked, 1e-7, 1.0)))
        checked = assert_close("evaluate loss (the twin's)", np.array(loss), np.array(reference_loss), held,
                               MODEL_TERMS, self.measured(held)[1])
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
        self.build(device, mode, self.params["loss"], self.params["metric"], self.params["optimizer"],
                   self.params["policy"])
        self._extra_info.update(compiled_settings(self.model), policy=self.params["policy"],
                                loss_scaling=type(self.model.optimizer).__name__ == "LossScaleOptimizer")
