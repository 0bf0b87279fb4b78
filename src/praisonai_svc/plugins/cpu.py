"""CPU-bound plugin work in a pool of processes sized to the cores, so the event loop (and the health probes)
stay responsive while images are compressed.

The children are *spawned* (not forked from a process that runs an event loop and threads), load the user's
service file when there is one (so functions defined there can be sent to them), and are started with the pool
rather than on the first request. They run at the API's priority: the API process sleeps between requests, and
the scheduler lets a waking process run promptly; a lower priority for the children bought no probe latency in
bench_plugins.py but cost them the CPU whenever anything else ran on the machine.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from praisonai_svc.errors import PraisonSvcError
from praisonai_svc.logs import get_logger

T = TypeVar("T")
log = get_logger("plugins")


def core_count() -> int:
    """Cores this process may run on (the affinity mask, which containers narrow), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


Preload = Callable[[], object]


def _start_child(preload: Preload | None) -> None:
    if preload is not None:
        try:
            preload()
        except PraisonSvcError as exc:  # the built-in plugins do not need it; a user function will say so
            log.warning("plugin worker could not load the service file", extra={"error": str(exc)})


def _ready() -> int:
    return os.getpid()


class CpuPool:
    """``await pool.run(func, *args)``: ``func`` and its arguments must be picklable (module-level functions)."""

    def __init__(self, workers: int = 0, *, preload: Preload | None = None) -> None:
        """``preload`` (picklable, e.g. a partial of a module-level function) runs first in each process: it loads
        the service file, so that functions defined there can be sent to the pool."""
        self.workers = workers or core_count()
        self._preload = preload
        self._executor: ProcessPoolExecutor | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child, initargs=(self._preload,),
        )

    async def start(self) -> None:
        """Start every child now (a spawn takes a few hundred ms; no request should wait for it)."""
        if self._executor is None:
            self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready) for _ in range(self.workers)))
        log.info("plugin process pool started", extra={"workers": self.workers})

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(func, *args))
        except BrokenProcessPool:
            # A child died (killed for memory, or crashed in a native library): replace the pool for the next call.
            broken, self._executor = self._executor, None
            broken.shutdown(wait=False, cancel_futures=True)
            log.error("a plugin worker process died; the pool was restarted")
            raise PraisonSvcError("The processing worker crashed on this input; the pool was restarted.") from None

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
