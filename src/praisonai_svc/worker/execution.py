"""Run a handler off the event loop with a hard time limit, and stop it when its job is cancelled.

Handlers run on *handler threads*, daemon threads reused from job to job: starting a thread costs ~100 µs and,
for an async handler, a fresh event loop costs more, which was most of a no-op job's time. Each thread keeps one
private event loop for async handlers, so no handler can block the worker's loop or starve lease renewal. On
timeout or cancel an async handler is cancelled; a sync one sees ``context.cancelled`` (and
``raise_if_cancelled()`` raises) and is given :data:`CANCEL_GRACE_SECONDS` to stop. The thread of a call that
timed out, was cancelled or was interrupted by shutdown is *abandoned*: it never returns to the idle set (it
exits once the handler returns), so a stuck handler can never exhaust the pool. A service with
``isolation="process"`` runs the handler in a forked child process instead, which is killed outright (see
:mod:`.isolation`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from typing import Any

from praisonai_svc.context import JobContext
from praisonai_svc.errors import JobCancelled, JobTimeout
from praisonai_svc.outputs import PendingOutput, coerce_outputs
from praisonai_svc.registry import HandlerSpec
from praisonai_svc.worker.isolation import ChildProcess, call_in_child

CANCEL_GRACE_SECONDS = 1.0  # how long a cancelled sync handler may take to notice before the job ends anyway
_IDLE_SECONDS = 60.0  # an idle handler thread exits after this long; the next job starts a new one


class _Stoppable:
    """Holds what another thread needs to stop the call: an async handler's loop and task, or a child process."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self.child: ChildProcess | None = None

    def stop(self) -> None:
        if self.loop is not None and self.task is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.task.cancel)
        if self.child is not None:
            self.child.kill()


class _Call:
    """One handler call handed to a handler thread."""

    __slots__ = ("args", "future", "holder", "spec", "thread")

    def __init__(self, spec: HandlerSpec, args: tuple[Any, ...]) -> None:
        self.spec = spec
        self.args = args
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.holder = _Stoppable()
        self.thread: _HandlerThread | None = None

    def abandon(self) -> None:
        """Stop the handler if it can be stopped, and never reuse its thread."""
        if self.thread is not None:
            self.thread.abandoned = True
        self.holder.stop()


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
        spec, holder = call.spec, call.holder
        try:
            if spec.isolation == "process":
                result = call_in_child(spec, call.args, holder)
            elif spec.is_async:
                if self.loop is None:
                    self.loop = asyncio.new_event_loop()
                holder.loop = self.loop
                holder.task = self.loop.create_task(spec.func(*call.args))
                result = self.loop.run_until_complete(holder.task)
            else:
                result = spec.func(*call.args)
        except BaseException as exc:  # handed to the awaiting coroutine, which decides retry vs fail
            call.future.set_exception(exc)
        else:
            call.future.set_result(result)


class HandlerThreads:
    """Idle handler threads, reused by the next job; threads of abandoned calls are never reused."""

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
    spec: HandlerSpec, payload: Any, ctx: JobContext, timeout: float, cancel: asyncio.Event | None = None,
    threads: HandlerThreads | None = None,
) -> list[PendingOutput]:
    """Run the handler and return its outputs (one or more); raise what it raises, :class:`JobTimeout` after
    ``timeout`` seconds, and :class:`JobCancelled` once ``cancel`` is set."""
    args = (payload, ctx) if spec.wants_context else (payload,)
    if spec.runs_on_loop:
        try:
            return coerce_outputs(await asyncio.wait_for(spec.func(*args), timeout))
        except TimeoutError:
            raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout") from None
    call = _Call(spec, args)
    (threads or _DEFAULT_THREADS).submit(call)
    result = asyncio.wrap_future(call.future)
    if cancel is None:  # the common case: no cancel watcher task per job
        try:
            return coerce_outputs(await asyncio.wait_for(result, timeout))
        except TimeoutError:
            ctx._stop.set()  # a sync handler sees context.cancelled from now on, also after a timeout
            call.abandon()
            raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout") from None
        except asyncio.CancelledError:  # worker shutdown
            ctx._stop.set()
            call.abandon()
            raise
    cancelled = asyncio.ensure_future(cancel.wait())
    try:
        done, _ = await asyncio.wait({result, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # worker shutdown
        ctx._stop.set()
        call.abandon()
        raise
    finally:
        cancelled.cancel()
    if result in done:
        if cancel.is_set():
            result.exception()  # retrieved: a handler that stopped by raising JobCancelled is not an error
            raise JobCancelled()
        return coerce_outputs(result.result())
    ctx._stop.set()  # a sync handler sees context.cancelled from now on, also after a timeout
    call.abandon()
    result.add_done_callback(lambda f: f.cancelled() or f.exception())  # nobody awaits it any more
    if cancelled in done:
        await asyncio.wait({result}, timeout=CANCEL_GRACE_SECONDS)
        raise JobCancelled()
    raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout")
