"""The record: every field a result carries, declared once, with its unit, for the writer (benchmarks/harness.py
and the workloads' own extra_info) and the readers (scripts/results.py and the analysis beside it).

It imports nothing, neither a framework nor pytest nor pandas, so that every layer may import it
(tests/test_layers.py); tests/test_record.py holds a run's JSON, the shipped results and the readers'
field names to it. A results file is pytest-benchmark's JSON: each benchmark's `extra_info` holds
EXTRA_INFO's fields (STEPS under `steps`), the file's `tensorbench` block RUN's, and
`machine_info.tensorbench` MACHINE's (workloads/environment.py).
"""

from __future__ import annotations

SCHEMA_VERSION = 1
"""`tensorbench.schema_version` of a results file. Raise it, with an upgrade in scripts/upgrade.py, when a
field is renamed or changes meaning; a field added does not. Files without one are version 1's forerunners,
which the readers take field by field (a missing field is empty)."""

ROLES = ("sweep", "measure", "ceiling", "scaling", "precision", "precision_baseline")
"""The chart roles a workload declares (Workload.roles, written to extra_info.roles); the results layer
reads each as a `role_<name>` column (docs/architecture.md, "One way")."""

PHASES = ("setup", "first_call", "check", "warmup", "calibration", "timed")
"""The phases of a benchmark, in order; each is recorded as extra_info.`<phase>_s` (seconds)."""

CASE = {
    "workload": "the workload's registry name (Workload.name)",
    "family": "its group: tensors, tensor_ops, training, ceilings, ...",
    "version": "its computation's version: rows of different versions are not compared",
    "section": "the textbook section(s) it comes from, comma-separated (3-5-3)",
    "label": "the case id without device and mode: what the report names a row by",
    "roles": "{role: value} for ROLES: what the report does with the row",
    "backend": "the Keras backend of the process: tensorflow, jax or torch",
    "device": "the device's id: cpu, gpu:0, numpy",
    "device_kind": "CPU, GPU, TPU or numpy",
    "device_name": "the device's model name",
    "mode": "eager, graph or xla",
    "compiled_mode": "whether the mode is the backend's compiled one (graph, xla, or torch's eager)",
    "dtype": "the case's dtype (a Keras precision policy's variable dtype)",
    "params": "{parameter: value}: the workload's constructor arguments",
    "flops": "floating-point operations a step (count), or null",
    "bytes": "the fewest bytes a step reads and writes, or null",
    "items": "samples a step, for throughput, or null",
    "first_call_s": "the first call, with its tracing or compilation, waited for (s)",
    "check": "what the check verified, in words",
    "check_error": "the check's largest relative error against its reference",
    "setup_s": "seconds of setup", "check_s": "seconds of the check",
}
TIMING = {
    "warmup_s": "seconds of warm-up calls", "calibration_s": "seconds choosing rounds and calls",
    "timed_s": "seconds of timed rounds",
    "max_time_s": "the timed rounds' budget (the profile's max_time, or the workload's timed_s)",
    "timed_as": "how a round was timed: one call a round, calls looped, steps (STEPS), lockstep",
    "waited_call_s": "one call with its own wait, beside the rounds' one wait at their end (s)",
    "steps": "STEPS: a call of many steps told apart into its fixed cost and its steady step",
    "peak_memory_bytes": "the device's peak memory during the case, where the framework reads it",
}
STEPS = {
    "figure": "what the row's time is: step (one steady step) or whole call",
    "call": "the call timed, in words: fit(dataset), the custom loop, ...",
    "short_steps": "steps in the short call", "long_steps": "steps in the long call",
    "step_s": "median step (s)", "step_q1_s": "its first quartile (s)", "step_q3_s": "its third quartile (s)",
    "per_call_s": "the fixed cost a call beyond its steps (s)", "per_call_q1_s": "its first quartile (s)",
    "per_call_q3_s": "its third quartile (s)",
    "short_call_s": "median short call (s)", "long_call_s": "median long call (s)",
    "step_rounds_s": "each pair's step (s): the row's rounds",
    "rule": "how the pairs were timed, in words",
}
WORKLOAD = {
    "n": "a matmul's square size, as run (a 'saturating' size resolved on the device)",
    "elements": "elements in each of a stream's arrays",
    "cache_bytes": "the largest cache of the device that the working set is held against (bytes)",
    "rel_error": "the check's relative error",
    "precision_rule": "{held_to, why}: the precision the check held the result to (workloads/precision.py)",
    "compute_dtype": "the dtype a mixed precision policy computes in",
    "policy": "the Keras precision policy", "loss_scaling": "whether the optimizer scales the loss",
    "loss": "the loss a workload reported", "final_loss": "the last loss of a training check",
    "loss_history": "the losses of a check's epochs", "history": "Keras's history of a fit check",
    "accuracy": "a check's final accuracy", "binary_accuracy": "a check's final binary accuracy",
    "input_pipeline": "what fed the steps, in words",
    "traced_in_first_call": "whether the first call traced (false: it ran an earlier case's trace)",
    "jit_compile": "model.compile's jit_compile", "run_eagerly": "model.compile's run_eagerly",
    "steps_per_execution": "model.compile's steps_per_execution", "keras_backend": "Keras's backend, as compiled",
    "published_as": "the published figure's setting this row matches (scripts/published.csv)",
    "strategy_class": "the tf.distribute strategy", "cross_device_ops": "its all-reduce implementation",
    "replicas_in_sync": "replicas a step", "workers": "worker processes", "global_batch": "samples a step, all replicas",
    "bus_factor": "NCCL's bus bandwidth factor of an all-reduce",
    "host_memory": "pageable or pinned: the host memory a transfer reads",
    "tf32_enabled": "TensorFlow's TF32 setting when the row ran (rows before precision_rule)",
}
EXTRA_INFO = {**CASE, **TIMING, **WORKLOAD}
"""Every field of a benchmark's extra_info."""

RUN = {
    "schema_version": "SCHEMA_VERSION, as written",
    "profile": "the profile run", "devices": "the devices asked for", "modes": "the modes asked for",
    "only": "the --only patterns", "dtypes": "the --dtypes asked for, or all",
    "out_of_memory": "a record for each case that ran out of memory",
    "failed": "a record for each case that failed, with its error", "stopped": "why the suite stopped itself, or null",
    "noise_samples": "the noise probe's samples between benchmarks", "noise": "the machine's noise, summed up",
    "timing": "the rounds' rules (estimator, spread, warm-up, settle)",
    "time_spent_s": "where the run's wall-clock time went, by PHASES and the rest (s)",
    "machine_info_by_backend": "each other Keras backend's process's machine_info.tensorbench",
}
"""Every field of the results file's `tensorbench` block."""

MACHINE = {
    "tensorbench_python": "Python's version", "keras": "{version, backend, mixed_precision_policy}",
    "tensorflow": "{version, git_version, build_info}", "jax": "{version, default_backend, x64_enabled}",
    "torch": "{version, cuda, cudnn, tf32_matmul, threads}", "onednn_enabled": "TensorFlow's oneDNN",
    "tf32_enabled": "TensorFlow's TF32 setting", "threads": "TensorFlow's inter- and intra-op threads",
    "numpy": "{version, blas}", "cpu_model": "the CPU's model name", "cpu_cores": "the CPU's cores",
    "cpu_cores_usable": "the cores this process may run on", "last_level_cache_bytes": "the CPU's largest cache",
    "host_memory_bytes": "the host's memory", "devices": "the devices found", "missing_devices": "why each is missing",
    "environment": "the environment variables that change speed",
}
"""Every field of `machine_info.tensorbench` (workloads/environment.py)."""

DECLARED = {*EXTRA_INFO, *STEPS, *RUN, *MACHINE}
"""Every field name the record declares."""
