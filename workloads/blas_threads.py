"""NumPy's BLAS on one thread for the suite's own NumPy work (the checks' float64 references, the noise
probe), so that it leaves no busy thread behind to take a core from the step timed next.

OpenBLAS's idle worker threads spin for some 0.1 s after each threaded call before they sleep. On the
2-core AMD EPYC VM of 2026-12-04 one float64 NumPy matmul of 1024 x 1024 kept a worker busy for 10-11
ticks of 10 ms while the main thread slept 0.5 s (one of 256 x 256 the same; none under a one-thread
limit). A TensorFlow matmul of 1024 x 1024, set up, called once and checked as the harness does, then
took 19-35 ms a call for its first 4 to 11 calls (5 in most tries) and 11-13 ms after; with the check
under the limit, 11-14 ms from the first call (and with OPENBLAS_THREAD_TIMEOUT=4, after a NumPy matmul,
11-15 ms).
In quick runs that check ran just before the warm-up: the matmul rows' first 1 to 3 rounds took 19-33 ms
and the rest 11-12 ms, and the eager row was flagged in 6 of 8 runs.
The NumPy baseline's own rows keep NumPy's threads: they measure NumPy as its users have it.
"""

from __future__ import annotations

import sys
from functools import lru_cache

from threadpoolctl import ThreadpoolController


def _controller() -> ThreadpoolController:
    """The loaded libraries' controller, scanned again only when modules have been imported since the last
    scan (a scan costs some milliseconds; a limit on it some 12 us): a BLAS loaded later (SciPy's, with the
    module that brought it) is limited too, not left on its own threads."""
    return _scanned(len(sys.modules))


@lru_cache(maxsize=1)
def _scanned(modules: int) -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread():
    """A context in which the BLAS libraries loaded (OpenBLAS under NumPy) run on the calling thread only."""
    return _controller().limit(limits=1, user_api="blas")
