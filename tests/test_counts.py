"""Each workload's counts, recomputed another way: FLOPs from TensorFlow's own per-op statistics (the
`flops` each op registers from its shapes, which TensorFlow's profiler sums) over the graph the step
traces, and bytes from the tensors the step reads and writes. A count that does not match the work (the
linear classifier's 12 FLOPs a sample where its step does 8) makes every GFLOP/s of its rows wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from tensorbench.workloads import devices
from tensorbench.workloads.cases import enumerate_cases
from tensorbench.workloads.function import FunctionWorkload

TENSOR_OPS = {"MatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput",
              "Einsum"}
"""The ops whose arithmetic a workload that `uses` matmul or conv counts (the rest, elementwise work of a
few percent, is left out of those counts, as the usual convention leaves it)."""


def registered_flops(function, *args, only: set[str] | None = None) -> float:
    """FLOPs of the graph `function` traces for `args`, as TensorFlow's ops register them
    (ops.get_stats_for_node_def, what tf.compat.v1.profiler's float_operation sums), of the ops `only`."""
    from tensorflow.python.framework import ops as tf_ops

    graph = tf.function(function).get_concrete_function(*args).graph
    total = 0.0
    for op in graph.get_operations():
        if only is not None and op.type not in only:
            continue
        if op.type == "Einsum":  # none registered: 2 a multiply-add, one for every value of all its indices
            sizes = {}
            for letters, tensor in zip(op.get_attr("equation").decode().split("->")[0].split(","), op.inputs):
                sizes.update(zip(letters, tensor.shape))
            total += 2.0 * math.prod(sizes.values())
            continue
        try:
            total += tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
        except ValueError:  # no statistics registered for this op
            continue
    return total


def nbytes(tensors) -> int:
    return sum(math.prod(t.shape) * t.dtype.size for t in tf.nest.flatten(tensors))


def counted_cases():
    """One case a workload that counts FLOPs or bytes and is one function of its inputs, from the quick
    profile (sizes past the smallest, where a count's error shows)."""
    seen = {}
    for case in enumerate_cases("quick", devices.resolve(["cpu"]), ["graph"]):
        if issubclass(case.workload, FunctionWorkload) and case.workload.name not in seen:
            seen[case.workload.name] = case
    return list(seen.values())


@pytest.mark.parametrize("case", counted_cases(), ids=lambda case: case.id)
def test_a_functions_counts_are_its_graphs_flops_and_its_tensors_bytes(case):
    workload = case.workload(**case.params)
    with devices.device_scope(case.device):
        workload.device = case.device
        workload.setup(case.device, case.mode)
        flops, counted_bytes = workload.flops(), workload.bytes()
        if flops is not None:
            only = TENSOR_OPS if workload.uses else None
            assert registered_flops(workload.compute_tf, *workload.inputs, only=only) == pytest.approx(flops)
        if counted_bytes is not None:
            outputs = workload.step()
            read = 0 if workload.family == "tensors" else nbytes(workload.inputs)  # a tensor's shape is no data
            assert read + nbytes(outputs) == counted_bytes
        workload.teardown()


def test_the_linear_classifiers_count_is_its_steps_matmuls(cpu):
    """8 FLOPs a sample: the forward matmul and the weights' gradient; no gradient flows to the inputs."""
    from tensorbench.workloads.linear_classifier import LinearClassifier

    workload = LinearClassifier()
    with devices.device_scope(cpu):
        workload.setup(cpu, "graph")
        assert registered_flops(workload._training_step, workload.inputs, workload.targets,
                                only=TENSOR_OPS) == workload.flops() == 8 * workload.samples
    workload.teardown()


def test_the_dense_stacks_count_is_its_forward_matmuls(cpu):
    from tensorbench.workloads.keras_layers import DenseStackForward

    workload = DenseStackForward(impl="keras_dense", batch=32)
    with devices.device_scope(cpu):
        workload.setup(cpu, "graph")
        assert registered_flops(lambda x: workload.model(x, training=False), workload.x,
                                only=TENSOR_OPS) == pytest.approx(workload.flops())
    workload.teardown()


@pytest.mark.parametrize("model", ["mlp", "cnn28", "transformer", "resnet50"])
def test_a_models_forward_count_is_its_graphs(cpu, model):
    """models.forward_flops, which the reference models' GFLOP/s read, against the forward graph's matmuls
    and convolutions (the LSTM's are in a loop, whose trips the graph's statistics cannot count)."""
    from tensorbench.workloads.models import MODELS, forward_flops

    built = MODELS[model].build()
    x, _ = np.zeros((2, *built.input_shape[1:]), np.int32 if MODELS[model].tokens else np.float32), None
    assert registered_flops(lambda inputs: built(inputs, training=False), tf.constant(x),
                            only=TENSOR_OPS) == pytest.approx(2 * forward_flops(built))
