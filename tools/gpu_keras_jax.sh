#!/usr/bin/env bash
# One call on a lent GPU machine whose image has JAX but neither TensorFlow nor Keras (this workplace's
# H200, whose TensorFlow wheel is too large to carry): the carried wheels (.whl: keras, namex, optree,
# pytest, pluggy, iniconfig, pytest-benchmark) installed, the card's state and JAX's own matmul rates
# read as the ceilings, then `tensorbench run` of the Keras workloads under JAX on the GPU and the CPU.
# Everything it writes lands in $OUT (the device tool's folder that comes back): the run packed in one file.
# Then the `full` profile ("for accelerators") on the GPU alone, stopped with Ctrl-C's signal after
# FULL_S seconds if it runs longer, which keeps what it finished.
# Not yet run: written on 2026-12-04 for a lent H200 that the session was then refused (docs/hardware.md).
# The wheels: tools/README.md. From the repository root there: bash tools/gpu_keras_jax.sh [FULL_S]
set -u -o pipefail
full_s=${1:-240}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
mkdir -p /tmp/pkg/tensorbench && for d in workloads benchmarks scripts; do ln -sfn "$PWD/$d" "/tmp/pkg/tensorbench/$d"; done
export PYTHONPATH=/tmp/site:/tmp/pkg KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$OUT/card.txt"
python3 - <<'PY' 2>&1 | tee "$OUT/ceilings.txt"
"""JAX's matmul on the GPU at n=8192 (random operands, made on the device; the median of 20 timed
products after 3 warm ones, each waited for): the rates the Keras rows are held against."""
import statistics, time
import jax, jax.numpy as jnp, keras, numpy as np
print("jax", jax.__version__, "keras", keras.__version__, jax.devices())
n = 8192
for dtype, precision in (("float32", "highest"), ("float32", "default"), ("bfloat16", "default")):
    a, b = (jax.random.normal(jax.random.key(i), (n, n), dtype=dtype) for i in (1, 2))
    f = jax.jit(lambda x, y: jnp.matmul(x, y, precision=precision))
    ref = np.asarray(a[:64], np.float64) @ np.asarray(b, np.float64)
    got = np.asarray(f(a, b)[:64], np.float64)
    err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    for _ in range(3):
        f(a, b).block_until_ready()
    times = []
    for _ in range(20):
        t = time.perf_counter(); f(a, b).block_until_ready(); times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"matmul n={n} {dtype} precision={precision}: median {med * 1e3:.3f} ms, "
          f"{2 * n**3 / med / 1e12:.1f} TFLOP/s (fastest {2 * n**3 / min(times) / 1e12:.1f}), rel. error {err:.1e}")
PY
run() {  # NAME SECONDS ARGS...: one tensorbench run into /tmp/NAME, its log into $OUT/NAME.log
    local name=$1 seconds=$2 started; shift 2; started=$(date +%s)
    timeout -s INT "$seconds" python3 -m tensorbench.scripts.cli run --backends jax --output "/tmp/$name" "$@" 2>&1 | tee "$OUT/$name.log"
    echo "tensorbench run $*: exit ${PIPESTATUS[0]}, $(($(date +%s) - started)) s" | tee -a "$OUT/$name.log"
}
run quick-h200-jax 200 --profile quick --devices gpu,cpu
run full-h200-jax "$full_s" --profile full --devices gpu
tar -czf "$OUT/runs.tar.gz" -C /tmp quick-h200-jax full-h200-jax
