"""Request bodies are parsed off the event loop, in a small pool of threads of their own.

Parsing an untrusted document is CPU work whose cost the sender chooses (a 1 MB YAML body takes a second or
more); on the event loop it would stall every other request, ``/live`` included. Here:

* the body is decoded and parsed in one of PRAISONAI_PARSE_THREADS threads (default 2), not in the default
  executor, so parsing can never take the threads that file and storage calls need, and at most that many
  documents are parsed at once;
* parsing holds the GIL most of the time, so the loop gets it only when a parse thread hands it over: the
  API asks for that every millisecond instead of CPython's default 5 ms (:func:`gil_handed_over_often`), and
  parse threads run at a lower OS priority, so on busy CPUs the kernel prefers the loop's thread. Measured
  (bench/bench_parse_load.py, 2 CPUs): ``/live`` p99 ~40-50 ms while 4 clients send 1 MB YAML bodies in a
  loop; with CPython's defaults it was 180-400 ms;
* each document has PRAISONAI_PARSE_TIME_BUDGET_SECONDS (default 10) once its parse starts; past it the parse
  stops (YAML: at the next check, every 1,024 nodes) and the request is answered 400;
* a body that waits for a thread longer than that budget (at least :data:`MIN_QUEUE_WAIT_SECONDS`) is
  answered 503 with ``Retry-After`` without being parsed: the pool is busy, the document is not at fault;
* at most :data:`QUEUED_PER_THREAD` bodies per thread wait; beyond that the request is answered 503 at once,
  so a flood cannot queue unbounded work (and memory) behind the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from praisonai_svc.api.body import parse_document
from praisonai_svc.errors import Overloaded

QUEUED_PER_THREAD = 16
MIN_QUEUE_WAIT_SECONDS = 5.0  # a body may wait for a thread this long even when its parse budget is shorter
PARSE_THREAD_NICENESS = 10
# How often a thread holding the GIL is asked to hand it over (CPython's default is 5 ms). While a parse thread
# runs, every wake-up of the event loop may wait this long for the GIL, and one request needs several.
SWITCH_INTERVAL_SECONDS = 0.001


@contextlib.contextmanager
def gil_handed_over_often() -> Iterator[None]:
    """A shorter GIL switch interval while the API serves (restored at shutdown); see the module docstring."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, SWITCH_INTERVAL_SECONDS))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _lower_priority() -> None:
    """Run this parse thread at a lower scheduling priority than the event loop's thread.

    On Linux every thread has its own nice value, so when the CPUs are busy the kernel runs the event loop
    first, and a flood of documents slows parsing down rather than every other request. Elsewhere (or when
    refused) parsing simply keeps the process's priority.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PARSE_THREAD_NICENESS)


class ParsePool:
    def __init__(self, threads: int, budget_seconds: float) -> None:
        self.threads = threads
        self.budget_seconds = budget_seconds
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="praisonai-parse",
                                            initializer=_lower_priority)
        self._pending = 0  # submitted and not finished, counted on the event loop only

    async def parse(self, raw: bytes, content_type: str) -> Any:
        """The document in ``raw`` (see :func:`praisonai_svc.api.body.parse_document`), parsed in the pool."""
        if self._pending >= self.threads * (QUEUED_PER_THREAD + 1):
            raise Overloaded("The API is busy parsing other requests; retry after Retry-After seconds.")
        queued_at = time.monotonic()
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._run, raw, content_type, queued_at)
        finally:
            self._pending -= 1

    def _run(self, raw: bytes, content_type: str, queued_at: float) -> Any:
        started = time.monotonic()
        if started - queued_at > max(self.budget_seconds, MIN_QUEUE_WAIT_SECONDS):
            raise Overloaded("The API is busy parsing other requests; retry after Retry-After seconds.")
        budget = self.budget_seconds
        return parse_document(raw, content_type, deadline=started + budget, budget_seconds=budget)

    def close(self) -> None:
        """Stop the threads once their current parse ends; queued parses are cancelled."""
        self._executor.shutdown(wait=False, cancel_futures=True)
