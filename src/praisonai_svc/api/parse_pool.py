"""Request bodies are parsed off the event loop (but for small JSON): in threads, large ones in child processes.

Parsing an untrusted document is CPU work whose cost the sender chooses (a 1 MB YAML body takes a second or
more); on the event loop it would stall every other request, ``/live`` included. Here:

* a JSON body of at most :data:`INLINE_JSON_BYTES` (4 KiB: nearly every ``POST /jobs``) is parsed on the event
  loop, where the standard library's C parser takes a few microseconds, well under the ~20 µs that handing it to
  a thread and back costs. Its cost is bounded by its size: the C parser is linear in the text, and the worst
  4 KiB measured ~0.25 ms (a thousand floats, each checked by a Python hook; a 4,000-digit integer ~0.1 ms).
  Only JSON whose limits the text itself vouches for is parsed there: with more than 64 brackets, or a
  surrogate escape, the checks walk the parsed value in Python (up to ~1 ms for 4 KiB of empty containers), so
  such a body goes to the threads. YAML is never parsed on the loop, whatever its size (PyYAML builds every node
  in Python, and a few KiB of aliases or flow collections cost milliseconds): a small body of another or no
  media type is tried as JSON on the loop and, if it is not JSON, goes to the threads like any other (JSON,
  then YAML);
* any other body under :data:`LARGE_BODY_BYTES` (64 KiB, nearly every job request) is decoded and parsed in one of
  PRAISONAI_PARSE_THREADS threads (default 2), not in the default executor, so parsing can never take the threads
  that file and storage calls need. Such a parse takes well under a millisecond to a few milliseconds;
* a larger body is parsed in one of PRAISONAI_PARSE_PROCESSES child processes (default 2, started on the first
  large body, at a lower OS priority). A thread cannot do this job: parsing holds the GIL, and the C JSON parser
  holds it for the whole document (~30 ms per MB), so while 4 clients sent 1 MB bodies in a loop the event loop
  waited for the GIL on every wake-up and ``/live`` p99 was 68 ms (YAML) and 99 ms (JSON) on an idle 2-CPU
  machine. In a child process the API's GIL is untouched and the kernel prefers the API's threads
  (bench/bench_parse_load.py). ``PRAISONAI_PARSE_PROCESSES=0`` parses large bodies in the threads instead;
* the API asks a thread holding the GIL to hand it over every millisecond instead of CPython's default 5 ms
  (:func:`gil_handed_over_often`), and parse threads also run at a lower OS priority;
* each document has PRAISONAI_PARSE_TIME_BUDGET_SECONDS (default 10) once its parse starts; past it the parse
  stops (YAML: at the next check, every 1,024 nodes) and the request is answered 400;
* a body that waits for a thread or process longer than that budget (at least :data:`MIN_QUEUE_WAIT_SECONDS`) is
  answered 503 with ``Retry-After`` without being parsed: the pool is busy, the document is not at fault;
* at most :data:`QUEUED_PER_THREAD` bodies per thread (or process) wait; beyond that the request is answered 503
  at once, so a flood cannot queue unbounded work (and memory) behind the pool;
* a child process that dies (killed, out of memory) fails only the bodies it held (503); the next large body
  starts a fresh pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from praisonai_svc.api.body import NOT_INLINE, parse_small_json
from praisonai_svc.api.parse_work import (
    BUSY,
    MIN_QUEUE_WAIT_SECONDS,
    lower_priority,
    parse_within_budget,
)
from praisonai_svc.errors import Overloaded

__all__ = ["INLINE_JSON_BYTES", "LARGE_BODY_BYTES", "MIN_QUEUE_WAIT_SECONDS", "ParsePool", "gil_handed_over_often"]

if TYPE_CHECKING:
    from praisonai_svc.api.parse_children import ParseChildren


QUEUED_PER_THREAD = 16
INLINE_JSON_BYTES = 4 * 1024  # a JSON body up to this size is parsed on the event loop (see above)
LARGE_BODY_BYTES = 64 * 1024  # from this size on, a body is parsed in a child process (when there are any)
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


class _Lane:
    """One executor and its bound on waiting bodies (counted on the event loop only)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pending = 0

    def admit(self) -> None:
        if self.pending >= self.workers * (QUEUED_PER_THREAD + 1):
            raise Overloaded(BUSY)


class ParsePool:
    def __init__(self, threads: int, budget_seconds: float, processes: int = 0) -> None:
        self.threads = threads
        self.processes = processes
        self.budget_seconds = budget_seconds
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="praisonai-parse",
                                            initializer=lower_priority)
        self._children: ParseChildren | None = None  # started on the first large body
        self._small = _Lane(threads)
        self._large = _Lane(processes)

    async def parse(self, raw: bytes, content_type: str) -> Any:
        """The document in ``raw`` (see :func:`praisonai_svc.api.body.parse_document`), parsed in the pool, or
        on the event loop when it is small JSON (:func:`~praisonai_svc.api.body.parse_small_json`)."""
        if len(raw) <= INLINE_JSON_BYTES:
            document = parse_small_json(raw, content_type)
            if document is not NOT_INLINE:
                return document
        large = self.processes > 0 and len(raw) >= LARGE_BODY_BYTES
        lane = self._large if large else self._small
        lane.admit()
        lane.pending += 1
        try:
            if large:
                if self._children is None:
                    from praisonai_svc.api.parse_children import ParseChildren

                    self._children = ParseChildren(self.processes)
                request = (raw, content_type, time.monotonic(), self.budget_seconds)
                return await self._children.parse(request, max(self.budget_seconds, MIN_QUEUE_WAIT_SECONDS))
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, parse_within_budget, raw, content_type, time.monotonic(), self.budget_seconds)
        finally:
            lane.pending -= 1

    async def close(self) -> None:
        """Stop the threads and child processes once their current parse ends; queued parses are cancelled."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._children is not None:
            await self._children.close()
            self._children = None
