"""Run a handler off the event loop with a hard time limit.

Handlers run on *handler threads*, daemon threads that are reused from job to job: starting a thread costs
~100 µs and, for an async handler, a fresh event loop costs more, which is most of a no-op job's time. Each
thread keeps one private event loop for async handlers, so no handler can block the worker's loop or starve
lease renewal. On timeout an async handler is cancelled; a sync one cannot be killed in-process, so its thread
is *abandoned*: it never returns to the idle set (it exits once the handler returns) and the next job gets
another thread, so a stuck handler can never exhaust the pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from typing import Any

from praisonai_svc.context import JobContext
from praisonai_svc.errors import JobTimeout
from praisonai_svc.registry import HandlerOutput, HandlerSpec, coerce_output

_IDLE_SECONDS = 60.0  # an idle handler thread exits after this long; the next job starts a new one


class _Call:
    """One handler call handed to a thread, and what another thread needs to cancel it."""

    __slots__ = ("args", "future", "spec", "task", "thread")

    def __init__(self, spec: HandlerSpec, args: tuple[Any, ...]) -> None:
        self.spec = spec
        self.args = args
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.task: asyncio.Task[Any] | None = None
        self.thread: _HandlerThread | None = None

    def cancel(self) -> None:
        thread, task = self.thread, self.task
        if thread is not None and task is not None and thread.loop is not None and not thread.loop.is_closed():
            thread.loop.call_soon_threadsafe(task.cancel)


class _HandlerThread(threading.Thread):
    def __init__(self, pool: HandlerThreads) -> None:
        super().__init__(name="praisonai-handler", daemon=True)
        self.pool = pool
        self.inbox: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.abandoned = False

    def run(self) -> None:
        try:
            while True:
                try:
                    call = self.inbox.get(timeout=_IDLE_SECONDS)
                except queue.Empty:
                    if self.pool.retire(self):
                        return
                    continue
                if call is None:
                    return
                self._run_call(call)
                if self.abandoned or not self.pool.give_back(self):
                    return
        finally:
            if self.loop is not None:
                self.loop.close()

    def _run_call(self, call: _Call) -> None:
        if not call.future.set_running_or_notify_cancel():
            return
        try:
            if call.spec.is_async:
                if self.loop is None:
                    self.loop = asyncio.new_event_loop()
                call.task = self.loop.create_task(call.spec.func(*call.args))
                result = self.loop.run_until_complete(call.task)
            else:
                result = call.spec.func(*call.args)
        except BaseException as exc:  # handed to the awaiting coroutine, which decides retry vs fail
            call.future.set_exception(exc)
        else:
            call.future.set_result(result)


class HandlerThreads:
    """Idle handler threads, reused by the next job; threads of timed-out handlers are never reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_HandlerThread] = []
        self._closed = False

    def submit(self, call: _Call) -> None:
        with self._lock:
            thread = self._idle.pop() if self._idle else None
        if thread is None:
            thread = _HandlerThread(self)
            thread.start()
        call.thread = thread
        thread.inbox.put(call)

    def give_back(self, thread: _HandlerThread) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._idle.append(thread)
            return True

    def retire(self, thread: _HandlerThread) -> bool:
        """An idle thread asks to exit; False if a job was just handed to it (it must stay for that job)."""
        with self._lock:
            if thread in self._idle:
                self._idle.remove(thread)
                return True
            return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for thread in idle:
            thread.inbox.put(None)


_DEFAULT_THREADS = HandlerThreads()


async def execute(
    spec: HandlerSpec, payload: Any, ctx: JobContext, timeout: float, threads: HandlerThreads | None = None
) -> HandlerOutput:
    """Run the handler; raise what it raises, :class:`JobTimeout` after ``timeout`` seconds."""
    args = (payload, ctx) if spec.wants_context else (payload,)
    call = _Call(spec, args)
    (threads or _DEFAULT_THREADS).submit(call)
    try:
        result = await asyncio.wait_for(asyncio.wrap_future(call.future), timeout)
    except TimeoutError:
        _abandon(call)
        raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout") from None
    except asyncio.CancelledError:
        _abandon(call)
        raise
    return coerce_output(result)


def _abandon(call: _Call) -> None:
    """The handler overran (or the worker is shutting down): cancel it if async; never reuse its thread."""
    if call.thread is not None:
        call.thread.abandoned = True
    call.cancel()
