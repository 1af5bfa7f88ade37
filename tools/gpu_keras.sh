#!/usr/bin/env bash
# One prepared call on a lent GPU machine (JAX, PyTorch and nvidia-ml-py, no TensorFlow): the quick profile
# under Keras's JAX backend and then its PyTorch one, on the devices given (the GPU and the host's CPU), the
# ceilings (peak_matmul, stream) among its rows, each backend's results where they ship:
# results/reference/<card>-<backend>/ (benchmarks.json, report, NOTE.md saying what ran and what did not).
# A backend that is not installed is a line in NOTE.md; a run past its share of LIMIT_S is stopped with
# Ctrl-C's signal, which keeps what it finished; doctor's lines come before each run. First, JAX's matmul in a bare loop, to hold the suite's
# peak_matmul against (results/reference/<card>-bare-matmul.txt). Everything also lands in $OUT when it is
# set (the device tool's folder that comes back). On the GPU image the carried wheels are installed first
# (tools/README.md).
# Usage, from the repository root: bash tools/gpu_keras.sh [DEVICES [LIMIT_S]]   (default: gpu,cpu 480)
# Rehearsed on a CPU with `bash tools/gpu_keras.sh cpu 480` (tools/README.md); not yet run on a GPU.
set -u -o pipefail
devices=${1:-gpu,cpu}
limit_s=${2:-480}
started=$(date +%s)
if ! python3 -c "import keras, pytest_benchmark" 2>/dev/null; then  # the GPU image: the carried wheels
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if ! python3 -c "import tensorbench" 2>/dev/null; then  # the working tree as the package, uninstalled
  mkdir -p /tmp/pkg/tensorbench && for d in workloads benchmarks scripts; do ln -sfn "$PWD/$d" "/tmp/pkg/tensorbench/$d"; done
  export PYTHONPATH=/tmp/pkg${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
if [[ -z "$card" || "$devices" != *gpu* ]]; then card="cpu-$(python3 -c 'import platform; print(platform.machine())')"; fi
slug=$(echo "$card" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-*//;s/-*$//')
mkdir -p results/reference
python3 - "$devices" <<'PY' 2>&1 | tee "results/reference/$slug-bare-matmul.txt"
"""The suite's peak_matmul held against another way of timing it: JAX's matmul in a bare loop (operands made
on the device; the median of 20 products after 3 warm ones, each waited for), n=8192 on a GPU, 1024 else."""
import statistics, sys, time
try:
    import jax, jax.numpy as jnp, numpy as np
except ImportError:
    sys.exit("jax is not installed: no bare matmul")
on_gpu = "gpu" in sys.argv[1] and any(d.platform == "gpu" for d in jax.devices())
device = jax.devices("gpu" if on_gpu else "cpu")[0]
n = 8192 if on_gpu else 1024
print("jax", jax.__version__, device)
for dtype, precision in (("float32", "highest"), ("float32", "default"), ("bfloat16", "default")):
    a, b = (jax.device_put(jax.random.normal(jax.random.key(i), (n, n), dtype=dtype), device) for i in (1, 2))
    f = jax.jit(lambda x, y: jnp.matmul(x, y, precision=precision))
    ref = np.asarray(a[:64], np.float64) @ np.asarray(b, np.float64)
    err = np.linalg.norm(np.asarray(f(a, b)[:64], np.float64) - ref) / np.linalg.norm(ref)
    for _ in range(3):
        f(a, b).block_until_ready()
    times = []
    for _ in range(20):
        t = time.perf_counter(); f(a, b).block_until_ready(); times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"matmul n={n} {dtype} precision={precision}: median {med * 1e3:.3f} ms, "
          f"{2 * n**3 / med / 1e9:.1f} GFLOP/s (fastest {2 * n**3 / min(times) / 1e9:.1f}), rel. error {err:.1e}")
PY
backends=(jax torch)
for i in "${!backends[@]}"; do
  backend=${backends[$i]}
  folder="results/reference/$slug-$backend"
  note="$folder/NOTE.md"
  mkdir -p "$folder"
  left=$((limit_s - ($(date +%s) - started)))
  share=$((left / (${#backends[@]} - i)))
  {
    echo "# $card, Keras on $backend"
    echo
    echo "\`bash tools/gpu_keras.sh $devices $limit_s\`, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
    echo
  } > "$note"
  if ! python3 -c "import $backend" 2>/dev/null; then
    echo "Not run: $backend is not installed here." >> "$note"
    echo "tools/gpu_keras.sh: $backend is not installed: skipped"
    continue
  fi
  # doctor first (its checks and speed lines on every device, at most 90 s), then the run in what is left
  doctor_started=$(date +%s)
  timeout -s INT 90 python3 -m tensorbench.scripts.cli doctor --backend "$backend" --json "$folder/doctor.json" \
    2>&1 | tee "$folder/doctor.log"
  echo "doctor: exit status ${PIPESTATUS[0]}, its lines in doctor.log and doctor.json" >> "$note"
  echo >> "$note"
  run_started=$(date +%s)
  share=$((share - (run_started - doctor_started)))  # doctor's seconds come out of the run's share
  KERAS_BACKEND=$backend timeout -s INT "$share" python3 -m tensorbench.scripts.cli run --backends "$backend" \
    --profile quick --devices "$devices" --output "$folder" 2>&1 | tee "$folder/run.log"
  status=${PIPESTATUS[0]}
  {
    echo "The quick profile (every section the backend runs, the training family and the ceilings among them) on $devices:"
    echo "exit status $status after $(($(date +%s) - run_started)) s of the $share s it was given"
    if [[ $status == 124 || $status == 130 ]]; then echo "(stopped at its time: what finished is in benchmarks.json)"; fi
    echo
    echo "What ran, what was skipped and why, and what failed: the last lines of run.log."
    echo
    echo '```'
    grep -E '^tensorbench: ' "$folder/run.log" | tail -8
    echo '```'
  } >> "$note"
done
if [[ -n "${OUT:-}" ]]; then cp -r results/reference/"$slug"-* "$OUT"/ 2>/dev/null; fi  # folders and the bare matmul
echo "tools/gpu_keras.sh: $(($(date +%s) - started)) s in all; results in results/reference/$slug-{${backends[*]// /,}}"
