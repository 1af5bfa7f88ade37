"""`python -m tensorbench.scripts.bare_matmul [--device cpu] [--seconds 3]`: the fastest matmul a bare loop
reaches, to hold `tensorbench ceiling` against. For each dtype and square size n = 512 to 4096, a
`tf.function(tf.matmul)` on inputs already on the device (and NumPy's `a @ b` in float32) is called for
`--seconds` after 5 warm calls, each call synchronised; prints each size's best and median GFLOP/s and
each dtype's best. None of the suite's code times anything here: only device discovery and the
synchronisation are shared. It measures; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

SIZES = (512, 1024, 2048, 4096)


def best_and_median(call, flops: float, seconds: float) -> tuple[float, float, int]:
    """GFLOP/s of the fastest and of the median call, and the number of calls, over `seconds`."""
    for _ in range(5):
        call()
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return flops / min(times) / 1e9, flops / float(np.median(times)) / 1e9, len(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tensorbench.scripts.bare_matmul", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="a device id: cpu, gpu, gpu:1 (default: cpu)")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma-separated (default: float32,bfloat16)")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each size is timed (default: 3)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated n (default: 512 to 4096)")
    args = parser.parse_args(argv)

    import tensorflow as tf
    from tensorbench.workloads import devices

    device = devices.resolve([args.device])[0]
    rng = np.random.default_rng(0)
    best: dict[str, tuple[float, int]] = {}
    for label in [f"tf {dtype}" for dtype in args.dtypes.split(",")] + ["numpy float32"]:
        for n in (int(size) for size in args.sizes.split(",")):
            a, b = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
            if label.startswith("numpy"):
                def call(a=a, b=b):
                    return a @ b
            else:
                with tf.device(device.tf_name):
                    x, y = (tf.identity(tf.cast(v, label.split()[1])) for v in (a, b))
                matmul = tf.function(tf.matmul)

                def call(x=x, y=y, matmul=matmul):
                    devices.wait(device, matmul(x, y))
            top, median, calls = best_and_median(call, 2.0 * n**3, args.seconds)
            print(f"{label:14} n={n:5}: best {top:8.1f} GFLOP/s, median {median:8.1f} ({calls} calls)", flush=True)
            if top > best.get(label, (0.0, 0))[0]:
                best[label] = (top, n)
    print()
    for label, (top, n) in best.items():
        print(f"best {label:14} {top:8.1f} GFLOP/s at n={n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
