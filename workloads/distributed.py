"""Beyond one device: training and all-reduce under tf.distribute strategies (OneDeviceStrategy as the
one-replica baseline, MirroredStrategy, MultiWorkerMirroredStrategy, TPUStrategy).

Training is section 3-6-5's fit of the MLP and the CNN under strategy.scope(), or section 3-5-4's
training step run through strategy.run; the global batch is the per-replica batch times the replicas,
and one epoch of a fixed number of samples is the timed unit, so throughput compares across replica
counts. All-reduce sums a tensor of 4 KB to 256 MB across the replicas (bytes per replica; GB/s).

On a CPU, MirroredStrategy's replicas are logical devices that share the same cores: what it shows
there is the strategy's overhead, not more compute. The report computes scaling efficiency.
Training is checked as the training family is: the first global batch's loss and gradient, as the
replicas compute them together, against the model rebuilt in float64 on the CPU; then the loss falls
and the replicas' weights agree.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import strategies
from .base import StepCalls, chart_roles
from .checks import assert_close, assert_true, assert_within
from .keras_backend import to_numpy
from .keras_workload import KerasWorkload, restore
from .model_training import (
    MODEL_TERMS,
    float64_keras,
    float64_twin,
    measured_errors,
    outputs_loss_gradients,
    update_error,
)
from .models import MODELS, synthetic_data
from .profiles import grid, sweep
from .registry import register

CHECK_EPOCHS = 2
KERAS_MULTI_WORKER_FIT = ("Keras 3's fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585: it "
                          "reduces a per-replica batch to build the model); the custom loop runs it")


def _points(*replicas: int) -> list[dict[str, Any]]:
    """Strategy points: the one-replica baseline, MirroredStrategy at each replica count, two workers
    with MultiWorkerMirroredStrategy, and TPUStrategy over every core of a TPU."""
    return ([{"strategy": "one_device", "replicas": 1, "workers": 1}]
            + [{"strategy": "mirrored", "replicas": r, "workers": 1} for r in replicas]
            + [{"strategy": "multi_worker", "replicas": 2, "workers": 2},
               {"strategy": "tpu", "replicas": "all", "workers": 1}])


POINTS = sweep(smoke=_points(1, 2), standard=_points(1, 2, 4), full=_points(1, 2, 4, 8))


class _StrategyWorkload(KerasWorkload):
    """A workload run under a strategy. Graph mode only: strategy.run traces its function anyway."""

    family = "distributed"  # runs only when asked, in processes of its own (run_rules.py)
    uses = ("matmul",)  # Dense
    modes = ("graph",)

    def mode_note(self) -> str:
        return "replicas run traced functions; TPUStrategy compiles them with XLA itself"

    def unsupported(self, device, mode):
        return super().unsupported(device, mode) or strategies.unavailable(
            self.params["strategy"], self.params["replicas"], self.params["workers"], device)

    def start_strategy(self, device) -> None:
        self.strategy = strategies.make(self.params["strategy"], self.params["replicas"], device)
        self.replicas = self.strategy.num_replicas_in_sync
        ops = getattr(self.strategy.extended, "_cross_device_ops", None)  # how replicas exchange gradients
        self._extra_info.update(strategy_class=type(self.strategy).__name__, replicas_in_sync=self.replicas,
                                workers=self.params["workers"], cross_device_ops=type(ops).__name__ if ops else None)


@register
class DistributedTrain(_StrategyWorkload):
    """One epoch of training the MLP or the CNN under a strategy: Keras fit, or a custom step through
    strategy.run over a distributed dataset."""

    name = "distributed_train"
    roles = chart_roles(scaling=["strategy", "replicas", "workers"])
    section = "3-5-4,3-6-5"
    sweeps = sweep(**{
        profile: [{**point, **config} for config in configs for point in POINTS[profile]]
        for profile, configs in {
            "smoke": grid(model=["mlp"], per_replica_batch=[8], samples=[64], loop=["fit", "custom"]),
            "quick": grid(model=["mlp", "cnn28"], per_replica_batch=[64], samples=[1024], loop=["fit", "custom"]),
            "standard": grid(model=["mlp", "cnn28"], per_replica_batch=[32, 128], samples=[4096],
                             loop=["fit", "custom"]),
            "full": grid(model=["mlp", "cnn28"], per_replica_batch=[32, 128, 512], samples=[65536],
                         loop=["fit", "custom"]),
        }.items()
    })

    def __init__(self, model: str, strategy: str, replicas: int | str, workers: int, per_replica_batch: int,
                 samples: int, loop: str = "fit", dtype: str = "float32"):
        super().__init__(model=model, strategy=strategy, replicas=replicas, workers=workers,
                         per_replica_batch=per_replica_batch, samples=samples, loop=loop, dtype=dtype)

    version = "2"  # fit's rows are one steady step (StepCalls)

    def items(self):
        """fit's rows: a global batch's samples (one steady step, step_calls); the custom loop's: the epoch's."""
        return float(self.global_batch if self.params["loop"] == "fit" else self.params["samples"])

    def step_calls(self) -> StepCalls | None:
        """fit's calls split into the fixed cost (a new distributed iterator a call) and the steps. The custom
        loop's epoch is one call of its tf.function over a distributed dataset, timed whole."""
        if self.params["loop"] != "fit":
            return None
        return StepCalls(lambda steps: self.fit_on(self.dataset.repeat().take(steps)), f"fit(dataset) under {self.params['strategy']}")

    def fit_on(self, dataset):
        return lambda: self.model.fit(dataset, epochs=1, shuffle=False, verbose=0).history["loss"][0]

    def unsupported(self, device, mode):
        if self.params["strategy"] == "multi_worker" and self.params["loop"] == "fit":
            return KERAS_MULTI_WORKER_FIT
        return super().unsupported(device, mode)

    def setup(self, device, mode):
        self.seed_everything()
        self.start_strategy(device)
        self.global_batch = self.params["per_replica_batch"] * self.replicas
        x, labels = synthetic_data(self.params["model"], self.params["samples"])
        self.host_x, self.host_labels = x, labels
        with self.strategy.scope():
            self.model = MODELS[self.params["model"]].build()
            self.optimizer = keras.optimizers.RMSprop()
        with self.strategy.scope():
            self.optimizer.build(self.model.trainable_variables)  # its state kept, so a check can start again
        self.initial_weights = self.model.get_weights()
        self.optimizer_state = [to_numpy(v) for v in self.optimizer.variables]
        self._extra_info["global_batch"] = self.global_batch
        if self.params["loop"] == "fit":
            self.model.compile(optimizer=self.optimizer, loss=keras.losses.SparseCategoricalCrossentropy(),
                               jit_compile=False)
            self.dataset = tf.data.Dataset.from_tensor_slices((x, labels)).batch(self.global_batch).cache()
        else:
            self.dataset = self.strategy.distribute_datasets_from_function(self._shard(x, labels))
            self.loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
            self.train_epoch = tf.function(self._train_epoch)

    def _shard(self, x: np.ndarray, labels: np.ndarray):
        """Each worker's input pipeline reads its own share of the samples, batched per replica."""
        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            batch = context.get_per_replica_batch_size(self.global_batch)
            return (tf.data.Dataset.from_tensor_slices((x, labels))
                    .shard(context.num_input_pipelines, context.input_pipeline_id).batch(batch).cache())
        return dataset_fn

    def _replica_step(self, x, y, model=None, optimizer=None):
        """Section 3-5-4's step, with the loss averaged over the global batch (tf.distribute's rule)."""
        model, optimizer = model or self.model, optimizer or self.optimizer
        with tf.GradientTape() as tape:
            per_example = self.loss_fn(y, model(x, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    def _train_epoch(self, dataset):
        """Mean loss over the epoch of this worker's replicas (their shares of each global batch's loss),
        summed locally: strategy.reduce here, a collective to one device, left MirroredStrategy's
        collective keys out of step across its devices (TensorFlow 2.21), and the next collective failed."""
        total, steps = tf.constant(0.0), tf.constant(0.0)
        for x, y in dataset:
            losses = self.strategy.run(self._replica_step, args=(x, y))
            total += tf.add_n(self.strategy.experimental_local_results(losses))
            steps += 1.0
        return total / steps

    def step(self):
        if self.params["loop"] == "fit":
            return self.fit_on(self.dataset)()
        return self.train_epoch(self.dataset)

    def twin(self, weights: list[np.ndarray]) -> keras.Model:
        return float64_twin(self.params["model"], weights)

    def check_first_step(self) -> str:
        """The first global batch's loss and gradient at the initial weights, as the timed loop computes
        them across its replicas (and workers), against the float64 twin's on the CPU: a copy of the model
        stepped once by SGD(learning_rate=1) moves its weights by minus the global gradient."""
        batch = self.global_batch
        with self.strategy.scope():
            probe = MODELS[self.params["model"]].build()
            probe.set_weights(self.initial_weights)
            sgd = keras.optimizers.SGD(learning_rate=1.0)
        if self.params["loop"] == "fit":
            probe.compile(optimizer=sgd, loss=keras.losses.SparseCategoricalCrossentropy(), jit_compile=False)
            first = tf.data.Dataset.from_tensor_slices((self.host_x[:batch], self.host_labels[:batch])).batch(batch)
            loss = probe.fit(first, epochs=1, shuffle=False, verbose=0).history["loss"][0]
        else:  # the replicas' first batches together are the first global batch (see _shard)
            with self.strategy.scope():
                sgd.build(probe.trainable_variables)

            def summed_step(x, y):
                share = self._replica_step(x, y, probe, sgd)
                return tf.distribute.get_replica_context().all_reduce("sum", share)

            shards = self.strategy.distribute_datasets_from_function(self._shard(self.host_x, self.host_labels))
            x, y = next(iter(shards))
            summed = tf.function(lambda x, y: self.strategy.run(summed_step, args=(x, y)))(x, y)
            loss = float(to_numpy(self.strategy.experimental_local_results(summed)[0]))
        moved = [w0.astype(np.float64) - w1 for w0, w1 in zip(self.initial_weights, probe.get_weights())]
        twin = self.twin(self.initial_weights)
        with float64_keras(), tf.device("/CPU:0"):
            _, reference_loss, reference_gradients = outputs_loss_gradients(
                twin, keras.losses.SparseCategoricalCrossentropy(),
                tf.constant(self.host_x[:batch].astype(np.float64)), tf.constant(self.host_labels[:batch]))
        held = self.held_to()
        measured = measured_errors(self.params["model"], held)
        reference = np.concatenate([np.asarray(g, np.float64).ravel() for g in reference_gradients])
        return "; ".join([
            assert_close("first-step loss", np.array(loss), np.array(reference_loss), held, MODEL_TERMS, measured[2]),
            assert_within("first-step gradients (weighted by their magnitude)", update_error(
                np.concatenate([m.ravel() for m in moved]), reference, np.abs(reference)), 0.0, held, MODEL_TERMS,
                measured[3], elements=False),
        ])

    def check(self, outputs):
        """The first global step against the float64 twin; the first call's own output, its epoch's loss,
        against the same epoch run again from the same weights and optimizer state; the loss falls over
        CHECK_EPOCHS more epochs; the replicas agree."""
        first_step = self.check_first_step()
        restore(self.model, self.optimizer, self.initial_weights, self.optimizer_state)
        losses = [float(to_numpy(self.step())) for _ in range(1 + CHECK_EPOCHS)]
        held = self.held_to()
        replayed = assert_close("first epoch's loss, run again", np.array(float(to_numpy(outputs))),
                                np.array(losses[0]), held, MODEL_TERMS, measured_errors(self.params["model"], held)[2])
        self._extra_info["loss_history"] = losses
        assert_true(bool(np.isfinite(losses).all()), f"non-finite loss {losses}")
        assert_true(losses[-1] < losses[0], f"loss went from {losses[0]:.4f} to {losses[-1]:.4f} over "
                    f"{CHECK_EPOCHS} more epochs: the model did not learn")
        spread = self._replica_spread()
        assert_true(spread <= 1e-5, f"the replicas' weights differ (relative spread {spread:.1e}): out of sync")
        return (f"{first_step}; {replayed}; loss fell from {losses[0]:.4f} to {losses[-1]:.4f}; the {self.replicas} "
                f"replicas' weights agree "
                f"(relative spread {spread:.1e})")

    def _replica_spread(self) -> float:
        """Largest relative difference between a replica's weight sum and the mean over replicas (zero
        when every copy of the model is the same, as synchronous data parallelism promises)."""
        def spread():
            total = tf.add_n([tf.reduce_sum(v) for v in self.model.trainable_variables])
            mean = tf.distribute.get_replica_context().all_reduce("mean", tf.identity(total))
            return tf.abs(total - mean) / tf.maximum(tf.abs(mean), 1.0)
        per_replica = tf.function(lambda: self.strategy.run(spread))()  # strategy.run traced once, as in fit
        return max(float(to_numpy(v)) for v in self.strategy.experimental_local_results(per_replica))


@register
class AllReduce(_StrategyWorkload):
    """Sum of one tensor per replica across the replicas (the gradient exchange that bounds scaling)."""

    name = "all_reduce"
    roles = chart_roles(sweep="size_bytes", measure="bus_gbps")
    section = "3-6-5"  # the gradient sum that fit does at every step once it is data-parallel
    sweeps = sweep(**{
        profile: [{**point, "size_bytes": size} for size in sizes for point in POINTS[profile]
                  if point["replicas"] != 1]
        for profile, sizes in {
            "smoke": [4 << 10, 64 << 10],
            "quick": [4 << 10, 256 << 10, 16 << 20],
            "standard": [4 << 10, 64 << 10, 1 << 20, 16 << 20, 256 << 20],
            "full": [(4 << 10) * 4**i for i in range(9)],  # 4 KB, 16 KB, ..., 256 MB
        }.items()
    })

    def __init__(self, size_bytes: int, strategy: str, replicas: int | str, workers: int, dtype: str = "float32"):
        super().__init__(size_bytes=size_bytes, strategy=strategy, replicas=replicas, workers=workers, dtype=dtype)

    def bytes(self):
        """Bytes each replica contributes: GB/s is the algorithm bandwidth; times bus_factor, NCCL's bus
        bandwidth (what each link carried)."""
        return float(self.params["size_bytes"])

    def setup(self, device, mode):
        self.start_strategy(device)
        self.elements = self.params["size_bytes"] // self.itemsize
        self._extra_info["bus_factor"] = 2 * (self.replicas - 1) / self.replicas

        def replica_value():  # replica r holds r + 1 everywhere, made on its own device
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            return tf.fill([self.elements], tf.cast(replica + 1, self.dtype))

        self.values = tf.function(lambda: self.strategy.run(replica_value))()
        # tf.identity: under MultiWorkerMirroredStrategy a traced input has no device, and all_reduce
        # needs one; Identity forwards its input's buffer, it does not copy it.
        self.all_reduce = tf.function(lambda values: self.strategy.run(
            lambda t: tf.distribute.get_replica_context().all_reduce("sum", tf.identity(t)), args=(values,)))

    def step(self):
        return self.all_reduce(self.values)

    def check(self, outputs):
        expected = self.replicas * (self.replicas + 1) / 2  # 1 + 2 + ... + replicas
        for local in self.strategy.experimental_local_results(outputs):
            result = to_numpy(local)
            assert_true(result.shape == (self.elements,) and bool(np.all(result == expected)),
                        f"all-reduce gave {np.unique(result)[:5]} where every element should be {expected:g}")
        return f"every element of every replica's sum is {expected:g} (1 + ... + {self.replicas}), exactly"
