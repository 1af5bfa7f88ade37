"""Sections 3-6-3 to 3-6-7: compile, fit, fit with validation data, evaluate and predict, on the
chapter's linear model (one Dense(1) unit) and its two point clouds.

Modes map onto Keras's own switches: eager is run_eagerly=True, graph is jit_compile=False and xla
is jit_compile=True. The first call (tracing, or XLA compilation) is timed apart by the harness. A row's
figure is the whole call, as the chapter writes it; beside it, the call split into its fixed cost and
its steps (StepCalls.whole: calls over the first batch alone, alternated with the whole call).
"""

from __future__ import annotations

import functools
import math

import keras
import numpy as np

from .base import StepCalls, chart_roles
from .checks import assert_close, assert_true
from .data import two_clouds, validation_split
from .keras_backend import compile_for_mode, compile_options, place, to_numpy
from .keras_workload import KerasWorkload, compiled_settings, dense_forward_np, restore
from .profiles import grid, sweep
from .registry import register

CHECK_EPOCHS = 2
"""Epochs the check sees: the first call's and one more. Listings 3.23 and 3.24 train for 5, but the
check needs two (the loss falls; listing 3.24's validation accuracy is at least 0.9): over five epochs
at batch 128 that accuracy went 1.0, 0.982, 0.878, 0.99, 0.965 (development VM, 2026-12-01), and the
three epochs more cost 1.7 s a case in eager mode."""


def joined_history(first: dict[str, list[float]], rest: dict[str, list[float]]) -> dict[str, list[float]]:
    """History.history of the first call's epoch followed by the check's epochs, as plain floats."""
    return {key: [float(v) for v in first[key] + rest[key]] for key in first}


class SeededEpochs(keras.callbacks.Callback):
    """Seeds the random generators as each epoch begins, so that fit's shuffle of the epoch (drawn as the
    epoch's batches are first read) is one the check can draw again: a replayed epoch then runs on the very
    batches the timed one did. A callback with no batch hook costs fit nothing per step."""

    def on_epoch_begin(self, epoch, logs=None):
        keras.utils.set_random_seed(epoch)


def linear_model() -> keras.Sequential:
    """keras.Sequential([keras.layers.Dense(1)]), given its input shape so it is built at once."""
    return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])


def compile_listing_3_24(model: keras.Model, mode: str) -> None:
    """compile() as listing 3.24: RMSprop(learning_rate=0.1), MeanSquaredError, BinaryAccuracy."""
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1), loss=keras.losses.MeanSquaredError(),
                  metrics=[keras.metrics.BinaryAccuracy()], **compile_options(mode))


class _LinearModelWorkload(KerasWorkload):
    """Builds the clouds on the device and the linear model; checks the model against float64 NumPy."""

    family = "keras_training"
    uses = ("matmul",)  # Dense
    roles = chart_roles(sweep="batch_size", measure="throughput")

    def place_data(self, dtype: str) -> None:
        self.host_x, self.host_y = two_clouds(1000, seed=0)
        self.x, self.y = place(self.host_x, dtype), place(self.host_y, dtype)
        split = validation_split(self.host_x, self.host_y, 0.3, seed=0)
        self.host_train_x, self.host_train_y, self.host_val_x, self.host_val_y = split
        self.train_x, self.train_y, self.val_x, self.val_y = (place(a, dtype) for a in split)

    def reference_loss_and_accuracy(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean squared error and accuracy (threshold 0.5) of the model's current weights, in float64."""
        predictions = dense_forward_np(x, self.model.layers)
        mse = float(np.mean((predictions - y.astype(np.float64)) ** 2))
        return mse, float(np.mean((predictions > 0.5) == (y > 0.5)))

    def split(self, name: str, call, *arrays) -> StepCalls:
        """step(), `call(*arrays)`, split (StepCalls.whole): its batches (a partial last batch counted as a
        step), and the same call over the arrays' first n batches only (sliced before it is timed)."""
        def of(steps: int):
            firsts = [a[:steps * self.batch_size] for a in arrays]
            return lambda: call(*firsts)

        return StepCalls(of, name, whole=math.ceil(int(arrays[0].shape[0]) / self.batch_size))

    def check_evaluate(self, loss: float, accuracy: float, host_x, host_y) -> str:
        """evaluate()'s loss and accuracy agree with float64 NumPy on the same weights: loss closely,
        accuracy within a point (a prediction within rounding of the 0.5 threshold may fall either way)."""
        ref_loss, ref_accuracy = self.reference_loss_and_accuracy(host_x, host_y)
        checked = assert_close("evaluate loss", np.array(loss), np.array(ref_loss), self.held_to(), terms=len(host_x))
        assert_true(abs(accuracy - ref_accuracy) <= 1.0 / len(host_x) + 1e-9,
                    f"evaluate accuracy {accuracy:.4f}, float64 reference {ref_accuracy:.4f}")
        return f"{checked}; accuracy {accuracy:.3f} matches"

    def start(self) -> None:
        """Remember where training starts (the weights, and the optimizer's state once built), so that a
        check can step or train again from there (restart); the random seed last, so that the first epoch's
        shuffle (fit shuffles its arrays each epoch) can be drawn again too."""
        self.initial_weights = self.model.get_weights()
        self.model.optimizer.build(self.model.trainable_variables)
        self.optimizer_state = [to_numpy(v) for v in self.model.optimizer.variables]
        self.seed_everything()

    def restart(self) -> None:
        restore(self.model, self.model.optimizer, self.initial_weights, self.optimizer_state)
        self.seed_everything()

    def check_first_step(self, host_x: np.ndarray, host_y: np.ndarray, x, y, batch_size: int) -> str:
        """The timed step, checked: one step of the case's own compiled train function (its mode, its
        RMSprop) from the starting weights on the first batch, against NumPy in float64: the loss the step
        reports, and the change it makes to the weights, which RMSprop's first step makes
        -lr * g / sqrt((1 - rho) g^2 + epsilon) from a zero velocity, g the float64 gradient (normwise: the
        step is near lr times the gradient's sign). Under any Keras backend; leaves the model restarted."""
        self.restart()  # fit on the one batch, as the timed epochs call it (train_on_batch under Keras 3.3.0
        # reported 2.74 where the batch's loss was 2.63: a mean with the earlier calls' losses)
        loss = self.model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, epochs=1, shuffle=False,
                              verbose=0).history["loss"][0]
        moved = np.concatenate([(np.asarray(w1, np.float64) - w0.astype(np.float64)).ravel()
                                for w0, w1 in zip(self.initial_weights, self.model.get_weights())])
        self.restart()
        bx, by = host_x[:batch_size].astype(np.float64), host_y[:batch_size].astype(np.float64)
        kernel, bias = (w.astype(np.float64) for w in self.initial_weights)
        residual = bx @ kernel + bias - by
        gradient = np.concatenate([(2 / residual.size * bx.T @ residual).ravel(), 2 / residual.size * residual.sum(0)])
        optimizer = self.model.optimizer
        rate, rho, epsilon = float(to_numpy(optimizer.learning_rate)), float(optimizer.rho), float(optimizer.epsilon)
        expected = -rate * gradient / np.sqrt((1 - rho) * gradient**2 + epsilon)
        return "; ".join([
            assert_close("first-step loss", np.array(float(to_numpy(loss))), np.array(np.mean(residual**2)),
                         self.held_to(), terms=len(bx)),
            assert_close("first-step update", moved, expected, self.held_to(), terms=len(bx), elements=False),
        ])

    def replayed(self, first: dict[str, list[float]]) -> str:
        """The first call's own output, its epoch's loss, against the same epoch run again from the start:
        the timed step is the checked step. Leaves the model after that epoch, as the first call did."""
        self.restart()
        again = self.step()
        return assert_close("first epoch's loss, run again", np.array(first["loss"][0]), np.array(again["loss"][0]),
                            self.held_to(), terms=len(self.host_x))

    def learned(self, history: dict[str, list[float]], before: float) -> str:
        """Training lowered the loss; a model that does not learn is a failed benchmark."""
        losses = history["loss"]
        assert_true(losses[-1] < before, f"loss went from {before:.4f} to {losses[-1]:.4f}: the model did not learn")
        return f"loss fell from {before:.4f} (first epoch) to {losses[-1]:.4f} after {len(losses)} more epochs"


@register
class Fit(_LinearModelWorkload):
    """One epoch of model.fit on the 2000 points with the chapter's compile() (listings 3.23, 3-6-3)."""

    name = "fit"
    section = "3-6-3,3-6-5"
    sweeps = sweep(
        smoke=grid(batch_size=[128]),
        quick=grid(batch_size=[128]),
        standard=grid(batch_size=[16, 32, 128, 512, 2000]),
    )

    def __init__(self, batch_size: int, dtype: str = "float32"):
        super().__init__(batch_size=batch_size, dtype=dtype)
        self.batch_size = batch_size

    def items(self):
        return 2000.0

    def setup(self, device, mode):
        self.seed_everything()
        self.place_data(self.dtype)
        self.model = linear_model()
        # section 3-6-3: compile(optimizer="rmsprop", loss="mean_squared_error", metrics=["accuracy"])
        self.model.compile(optimizer="rmsprop", loss="mean_squared_error", metrics=["accuracy"],
                           **compile_options(mode))
        self.start()

    def step(self):
        """One epoch; its History's figures per epoch (a dict of lists), which the check holds."""
        return self.fit_on(self.x, self.y)

    def fit_on(self, x, y):
        return self.model.fit(x, y, epochs=1, batch_size=self.batch_size, verbose=0, callbacks=[SeededEpochs()]).history

    def step_calls(self) -> StepCalls:
        return self.split("fit(x, y)", self.fit_on, self.x, self.y)

    def check(self, outputs):
        first_loss = outputs["loss"][0]
        first_step = self.check_first_step(self.host_x, self.host_y, self.x, self.y, self.batch_size)
        replayed = self.replayed(outputs)
        history = self.model.fit(self.x, self.y, epochs=CHECK_EPOCHS - 1, batch_size=self.batch_size,
                                 verbose=0).history
        self._extra_info.update(history=joined_history(outputs, history), **compiled_settings(self.model))
        evaluated = self.model.evaluate(self.x, self.y, batch_size=128, verbose=0)
        return "; ".join([first_step, replayed, self.learned(history, first_loss),
                          self.check_evaluate(*evaluated, self.host_x, self.host_y)])


@register
class FitValidation(_LinearModelWorkload):
    """One epoch of fit with validation_data: 30% held out after shuffling (listing 3.24)."""

    name = "fit_validation"
    section = "3-6-6"
    sweeps = sweep(smoke=grid(batch_size=[128]), standard=grid(batch_size=[16, 128]))  # 16 as listing 3.24
    MIN_VAL_ACCURACY = 0.9

    def __init__(self, batch_size: int = 16, dtype: str = "float32"):
        super().__init__(batch_size=batch_size, dtype=dtype)
        self.batch_size = batch_size

    def items(self):
        return 1400.0  # training samples per epoch; the 600 validation samples are evaluated too

    def setup(self, device, mode):
        self.seed_everything()
        self.place_data(self.dtype)
        self.model = linear_model()
        compile_listing_3_24(self.model, mode)
        self.start()

    def step(self):
        """One epoch and its validation; its History's figures per epoch (a dict of lists)."""
        return self.fit_on(self.train_x, self.train_y)

    def fit_on(self, x, y):
        return self.model.fit(x, y, epochs=1, batch_size=self.batch_size, verbose=0,
                              validation_data=(self.val_x, self.val_y), callbacks=[SeededEpochs()]).history

    def step_calls(self) -> StepCalls:
        """The training batches split; the validation pass over its 600 samples is in every call's fixed
        cost."""
        return self.split("fit(x, y, validation_data)", self.fit_on, self.train_x, self.train_y)

    def check(self, outputs):
        first_loss = outputs["loss"][0]
        first_step = self.check_first_step(self.host_train_x, self.host_train_y, self.train_x, self.train_y,
                                           self.batch_size)
        replayed = self.replayed(outputs)
        history = self.model.fit(self.train_x, self.train_y, epochs=CHECK_EPOCHS - 1, batch_size=self.batch_size,
                                 verbose=0, validation_data=(self.val_x, self.val_y)).history
        self._extra_info.update(history=joined_history(outputs, history), **compiled_settings(self.model))
        val_accuracy = history["val_binary_accuracy"][-1]
        assert_true(val_accuracy >= self.MIN_VAL_ACCURACY,
                    f"validation accuracy {val_accuracy:.3f} < {self.MIN_VAL_ACCURACY}")
        evaluated = self.model.evaluate(self.val_x, self.val_y, batch_size=128, verbose=0)
        return "; ".join([first_step, replayed, self.learned(history, first_loss),
                          f"validation accuracy {val_accuracy:.3f} >= {self.MIN_VAL_ACCURACY}",
                          self.check_evaluate(*evaluated, self.host_val_x, self.host_val_y)])


TRAINING_EPOCHS = 2


@functools.lru_cache(maxsize=4)
def _trained_weights(dtype: str) -> tuple[np.ndarray, ...]:
    """Listing 3.24's model trained TRAINING_EPOCHS on the clouds' training split, in graph mode, once per
    dtype in a process: training it again in each case's own mode (run_eagerly, or compiled by XLA
    twice) took 0.6 to 1.9 s of every evaluate and predict case's setup on the development VM."""
    keras.utils.set_random_seed(0)
    x, y, _, _ = validation_split(*two_clouds(1000, seed=0), 0.3, seed=0)
    model = linear_model()
    compile_listing_3_24(model, "graph")
    model.fit(place(x, dtype), place(y, dtype), epochs=TRAINING_EPOCHS, batch_size=128, verbose=0)
    return tuple(model.get_weights())


class _TrainedLinearModel(_LinearModelWorkload):
    """Setup gives listing 3.24's model trained weights (untimed), so evaluate and predict see a useful
    model; the model itself is compiled in the case's mode."""

    def setup(self, device, mode):
        weights = _trained_weights(self.dtype)  # before the seeding: each case sees the same seeded state
        self.seed_everything()
        self.place_data(self.dtype)
        self.model = linear_model()
        compile_listing_3_24(self.model, mode)
        self.model.set_weights(weights)
        self._extra_info.update(compiled_settings(self.model))


@register
class Evaluate(_TrainedLinearModel):
    """model.evaluate(val_inputs, val_targets, batch_size=128) (section 3-6-6)."""

    name = "evaluate"
    section = "3-6-6"
    sweeps = sweep(smoke=grid(batch_size=[128]))

    def __init__(self, batch_size: int = 128, dtype: str = "float32"):
        super().__init__(batch_size=batch_size, dtype=dtype)
        self.batch_size = batch_size

    def items(self):
        return 600.0

    def step(self):
        return self.evaluate_on(self.val_x, self.val_y)

    def evaluate_on(self, x, y):
        return self.model.evaluate(x, y, batch_size=self.batch_size, verbose=0)

    def step_calls(self) -> StepCalls:
        return self.split("evaluate(x, y)", self.evaluate_on, self.val_x, self.val_y)

    def check(self, outputs):
        """The timed call's own loss and accuracy (not a second evaluate) against float64 NumPy."""
        loss, accuracy = outputs
        self._extra_info.update(loss=float(loss), binary_accuracy=float(accuracy))
        return self.check_evaluate(loss, accuracy, self.host_val_x, self.host_val_y)


@register
class Predict(_TrainedLinearModel):
    """Inference on the 2000 points: model.predict(batch_size=128) against calling the model
    directly, model(inputs) (section 3-6-7)."""

    name = "predict"
    section = "3-6-7"
    sweeps = sweep(smoke=grid(method=["predict", "call"]))

    def __init__(self, method: str, batch_size: int = 128, dtype: str = "float32"):
        super().__init__(method=method, batch_size=batch_size, dtype=dtype)
        self.method, self.batch_size = method, batch_size

    def items(self):
        return 2000.0

    def setup(self, device, mode):
        super().setup(device, mode)
        if self.method == "call":
            self.call = compile_for_mode(lambda x: self.model(x, training=False), mode)

    def step(self):
        if self.method == "predict":
            return self.predict_on(self.x)
        return self.call(self.x)

    def predict_on(self, x):
        return self.model.predict(x, batch_size=self.batch_size, verbose=0)

    def step_calls(self) -> StepCalls | None:
        """predict's call split; the direct call is one call of the model, with no loop to split."""
        return self.split("predict(x)", self.predict_on, self.x) if self.method == "predict" else None

    def check(self, outputs):
        reference = dense_forward_np(self.host_x, self.model.layers)
        return assert_close(f"{self.method} outputs", to_numpy(outputs), reference, self.held_to(), terms=2)
