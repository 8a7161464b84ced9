"""Run CPU-bound work (assessments) off the event loop, a few at a time.

Assessments are pure-Python/numpy CPU work under the GIL. Running many at once in the default
thread pool (40 threads) only makes them share the GIL and stretches the latency tail; a small
dedicated limiter (``B12DX_COMPUTE_THREADS``, default 1 per process) serves them in order while
the event loop stays free for cheap requests. Scale with worker processes, not threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

__all__ = ["run_cpu"]

T = TypeVar("T")
_limiters: dict[int, anyio.CapacityLimiter] = {}


async def run_cpu(threads: int, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread, at most *threads* at a time in this process."""
    limiter = _limiters.get(threads)
    if limiter is None:
        limiter = _limiters[threads] = anyio.CapacityLimiter(threads)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
