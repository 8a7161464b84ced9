"""Run CPU-bound work (assessments) one job at a time, in arrival order.

Assessments are pure-Python/numpy CPU work under the GIL, so running several at once gains
nothing and stretches the latency tail. Two ways, chosen by ``B12DX_COMPUTE_THREADS``:

* ``0`` (the default): on the event loop, one job per loop iteration, first in, first out. Between
  two jobs the loop reads requests and writes responses, so a cheap request waits for at most one
  job. No thread hand-over: on a quiet 2-core machine this served about 1.5x the assessments per
  second of one compute thread, whose GIL hand-overs with the event loop cost about 2 ms of CPU
  per request (see docs/service.md, Performance). Without the first-in-first-out queue, running
  jobs on the loop starved some connections for a second or more.
* ``N >= 1``: in a dedicated pool of N threads (first in, first out), which keeps the event loop
  responsive during long jobs; the FHIR endpoints, whose bodies can be megabytes, always use one.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_cpu"]

T = TypeVar("T")
_executors: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()
_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


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
    """``fn(*args)``, one at a time in arrival order: on the event loop (*threads* 0) or in a
    pool of *threads* threads."""
    loop = asyncio.get_running_loop()
    if threads >= 1:
        return await loop.run_in_executor(_executor(threads), fn, *args)
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = asyncio.Lock()  # asyncio.Lock wakes its waiters in order
    async with queue:
        result = fn(*args)
        # Hold the queue through one loop iteration: sockets are served before the next job.
        await asyncio.sleep(0)
    return result
