"""tf.distribute strategies for the distributed workloads, and the process set-up some of them need.

Two strategies have to be prepared before TensorFlow initialises its runtime, so they need a process of
their own: MirroredStrategy over N logical CPU devices (the CPU is split at start-up) and
MultiWorkerMirroredStrategy (collective ops are configured at start-up, from TF_CONFIG). `tensorbench run`
starts such processes with the environment below; prepare_process() reads it first thing (conftest.py).

What of this has run on which hardware: docs/hardware.md.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

STRATEGIES = ("one_device", "mirrored", "multi_worker", "tpu")
LOGICAL_DEVICES_ENV = "TENSORBENCH_LOGICAL_DEVICES"
"""Split the CPU into this many logical devices at start-up (MirroredStrategy over N CPU replicas)."""
MULTI_WORKER_ENV = "TENSORBENCH_MULTI_WORKER"
"""Create MultiWorkerMirroredStrategy at start-up from TF_CONFIG (only when this is set, so that a
TF_CONFIG left in a user's shell does not turn an ordinary run into a cluster member)."""
PARENT_PID_ENV = "TENSORBENCH_PARENT_PID"
"""Set by tensorbench run in the processes it starts: they end with it (benchmarks/conftest.py)."""
COLLECTIVE_TIMEOUT_S = 120
"""A collective that waits longer than this fails instead of hanging (a worker died or hung)."""

_startup: dict[str, Any] = {}


@dataclass(frozen=True)
class ProcessSpec:
    """What a process must be started with for a case: logical CPU devices and worker processes."""

    logical_devices: int = 1
    workers: int = 1
    backend: str | None = None  # Keras's backend (KERAS_BACKEND), when not this process's

    def environment(self) -> dict[str, str]:
        env = {LOGICAL_DEVICES_ENV: str(self.logical_devices)} if self.logical_devices > 1 else {}
        env.update({MULTI_WORKER_ENV: "1"} if self.workers > 1 else {})
        return {**env, "KERAS_BACKEND": self.backend} if self.backend else env


def prepare_process() -> None:
    """Apply LOGICAL_DEVICES_ENV and MULTI_WORKER_ENV; call before anything runs a TensorFlow op.
    Without them it does nothing (and imports nothing: the process may have no TensorFlow)."""
    count = int(os.environ.get(LOGICAL_DEVICES_ENV, "1"))
    if count <= 1 and not os.environ.get(MULTI_WORKER_ENV):
        return
    import tensorflow as tf

    if count > 1 and "logical_devices" not in _startup:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        _startup["logical_devices"] = count
    if os.environ.get(MULTI_WORKER_ENV) and "multi_worker" not in _startup:
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S)
        _startup["multi_worker"] = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def multi_worker_strategy():
    """The MultiWorkerMirroredStrategy this process was started as a worker of, or None."""
    return _startup.get("multi_worker")


def cluster_workers() -> int:
    """How many workers TF_CONFIG names (1 without TF_CONFIG)."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    return len(config.get("cluster", {}).get("worker", [])) or 1


def task_index() -> int:
    """This process's worker index in TF_CONFIG (0, the chief, without TF_CONFIG)."""
    return int(json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("index", 0))


def loopback_tf_configs(workers: int) -> list[str]:
    """TF_CONFIG for each of `workers` processes on this machine, on ports free now."""
    sockets = [socket.socket() for _ in range(workers)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        addresses = [f"localhost:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()
    return [json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}})
            for i in range(workers)]


def process_spec(params: dict[str, Any], device) -> ProcessSpec | None:
    """MirroredStrategy over several CPUs needs the CPU split at start-up; several workers need one
    process each; the other strategies run in any process."""
    strategy, replicas, workers = (params[k] for k in ("strategy", "replicas", "workers"))
    if strategy == "mirrored" and device.kind == "CPU" and replicas > 1:
        return ProcessSpec(logical_devices=replicas)
    if strategy == "multi_worker":
        return ProcessSpec(workers=workers)
    return None


def unavailable(strategy: str, replicas: int, workers: int, device) -> str | None:
    """Why this process cannot build the strategy for `device`, or None when it can."""
    import tensorflow as tf

    kind = device.kind
    if strategy == "tpu":
        return None if kind == "TPU" else "TPUStrategy runs on a TPU"
    if kind == "TPU":
        return "on a TPU the strategy is TPUStrategy"
    if device.index != 0:
        return f"a strategy spans every {kind} it uses; it runs once, from {kind.lower()}:0"
    if strategy == "multi_worker":
        if multi_worker_strategy() is None:
            return ("MultiWorkerMirroredStrategy needs worker processes started with TF_CONFIG: "
                    "`tensorbench run` starts them on this machine")
        if cluster_workers() != workers:
            return f"TF_CONFIG names {cluster_workers()} workers, the case {workers}"
        return None
    if strategy == "mirrored":
        have = len(tf.config.list_logical_devices(kind))
        if have < replicas:
            how = ("`tensorbench run` starts a process with the CPU split into logical devices"
                   if kind == "CPU" else "this machine has fewer")
            return f"MirroredStrategy over {replicas} {kind} devices needs {replicas}, this process has {have}: {how}"
    return None


def make(strategy: str, replicas: int, device):
    """The tf.distribute strategy for a case (unavailable() has said it can be built), one per process for
    each set of devices: a second MirroredStrategy over the same devices starts its collective keys again,
    and its collectives then collide with the first one's (TensorFlow 2.21: "Shape mismatch in the
    collective instance"), so later cases reuse the first."""
    key = (strategy, replicas, device.kind)
    if key not in _made:
        _made[key] = _build(strategy, replicas, device)
    return _made[key]


_made: dict[tuple, Any] = {}


def _build(strategy: str, replicas: int, device):
    import tensorflow as tf

    if strategy == "one_device":
        return tf.distribute.OneDeviceStrategy(device.tf_name)
    if strategy == "mirrored":
        names = [d.name for d in tf.config.list_logical_devices(device.kind)][:replicas]
        return tf.distribute.MirroredStrategy(names)
    if strategy == "multi_worker":
        return multi_worker_strategy()
    if strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
