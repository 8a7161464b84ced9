"""Run CPU-bound work (assessments) off the event loop, a few at a time, in arrival order.

Assessments are pure-Python/numpy CPU work under the GIL. Running many at once in a big thread
pool only makes them share the GIL and stretches the latency tail; a small dedicated executor
(``B12DX_COMPUTE_THREADS``, default 1 per process) serves them first in, first out while the event
loop stays free for cheap requests. Scale with worker processes, not threads.

A plain ``ThreadPoolExecutor`` is used rather than ``anyio.to_thread`` with a limiter: the same
queueing, with a few tenths of a millisecond less overhead per request (measured under load,
see docs/service.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_cpu"]

T = TypeVar("T")
_executors: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _executor(threads: int) -> ThreadPoolExecutor:
    executor = _executors.get(threads)
    if executor is None:
        with _lock:
            executor = _executors.get(threads)
            if executor is None:
                executor = _executors[threads] = ThreadPoolExecutor(
                    threads, thread_name_prefix="b12dx-compute"
                )
    return executor


async def run_cpu(threads: int, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread, at most *threads* at a time in this process."""
    return await asyncio.get_running_loop().run_in_executor(_executor(threads), fn, *args)
