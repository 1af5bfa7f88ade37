"""NumPy's BLAS on one thread for the suite's own NumPy work (the checks' float64 references, the noise
probe), so that it leaves no busy thread behind to take a core from the step timed next.

OpenBLAS's idle worker threads spin for some 0.1 s after each threaded call before they sleep. On the
2-core AMD EPYC VM of 2026-12-04 one float64 NumPy matmul of 1024 x 1024 kept a worker busy for 10-11
ticks of 10 ms while the main thread slept 0.5 s (one of 256 x 256 the same; none under a one-thread
limit, and none with OPENBLAS_THREAD_TIMEOUT=4), and a TensorFlow matmul of 1024 x 1024 timed right
after it took 20-27 ms a call for its first 5 calls and 11-12 ms from then on (after a sleep instead:
11-12 ms from the first call). In quick runs that was the check's reference, run just before the
warm-up: the matmul rows' first rounds took 20 ms and the rest 11, and 6 of 8 runs flagged them.
The NumPy baseline's own rows keep NumPy's threads: they measure NumPy as its users have it.
"""

from __future__ import annotations

from functools import cache

from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    """Made once (a scan of the loaded libraries, some milliseconds); a limit on it costs some 12 us."""
    return ThreadpoolController()


def one_blas_thread():
    """A context in which the BLAS libraries loaded (OpenBLAS under NumPy) run on the calling thread only."""
    return _controller().limit(limits=1, user_api="blas")
