"""Process settings for b12dx's long-running and batch processes (``b12dx serve``, screening):
one BLAS thread, and a malloc that keeps its pages.

* The kernel's matrix products are small; OpenBLAS's default of one thread per core makes each
  process spin on every core (measured: about twice the CPU time per chunk on a 2-core
  machine), and with ``--workers`` or Spark's Python workers the threads of several processes
  fight over the same cores. Screening and the server get their parallelism from processes
  instead.
* The kernel allocates and frees large temporary arrays for every group of rows. glibc serves
  each from fresh ``mmap`` pages and unmaps them on free, so every chunk page-faults the same
  memory in again (measured: a fifth of the CPU time was system time). Raising the mmap and trim
  thresholds keeps the pages in the heap for reuse; the peak memory stays bounded by the
  largest chunk's working set (it does not grow with the input).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

__all__ = ["BLAS_ENV", "keep_heap_pages", "limit_blas_threads", "one_blas_thread"]

# Inherited by worker processes started afterwards (read when their BLAS library loads).
BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_MALLOC = {_M_MMAP_THRESHOLD: 256 << 20, _M_TRIM_THRESHOLD: 512 << 20, _M_TOP_PAD: 64 << 20}
_tuned = False


def keep_heap_pages() -> None:
    """glibc ``mallopt``: serve large blocks from the heap and keep freed pages (Linux/glibc
    only; elsewhere nothing changes). Idempotent."""
    global _tuned
    if _tuned or not sys.platform.startswith("linux"):
        return
    _tuned = True
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    for param, value in _MALLOC.items():
        mallopt(ctypes.c_int(param), ctypes.c_int(value))


def limit_blas_threads(n: int) -> None:
    """Hold the loaded BLAS libraries to ``n`` threads for the rest of the process (threadpoolctl;
    without it nothing changes)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional nicety, as in one_blas_thread
        return
    threadpool_limits(limits=n, user_api="blas")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit the already loaded BLAS libraries to one thread (threadpoolctl), and set the
    environment for processes started inside the block."""
    saved = {k: os.environ.get(k) for k in BLAS_ENV}
    os.environ.update(BLAS_ENV)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # an optional nicety: without it BLAS keeps its default threads
            yield
            return
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
