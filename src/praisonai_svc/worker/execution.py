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

Handing results back is the costly part of a short job's hop: a ``concurrent.futures.Future`` per call (with its
own condition variable) and a wake-up of the event loop per result. Instead each loop has a :class:`_Mailbox`:
handler threads append their results to it and wake the loop only if no wake-up is pending, so results that
arrive while the loop is busy are delivered together in one callback. One asyncio future per call is resolved
by the first of: the result, the timeout timer, the cancel signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable
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


_TIMEOUT = "timeout"  # what a call's waiter is resolved with when its time is up
_CANCELLED = "cancelled"  # … when its job was cancelled
_Outcome = tuple[bool, Any]  # (returned, its value or what it raised)


class CancelSignal(asyncio.Event):
    """An :class:`asyncio.Event` that also calls back when set, so that waiting for it costs no task."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []

    def set(self) -> None:
        super().set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` when set (now if set already); returns the function that forgets it."""
        if self.is_set():
            callback()
            return lambda: None
        self._callbacks.append(callback)

        def forget() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return forget


class _Mailbox:
    """Results of one event loop's handler calls, handed over from the handler threads (see module doc)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = threading.Lock()
        self.items: list[tuple[_Call, _Outcome]] = []
        self.scheduled = False

    def put(self, call: _Call, outcome: _Outcome) -> None:
        """From a handler thread: deliver ``outcome``; wakes the loop unless a wake-up is already pending."""
        with self.lock:
            self.items.append((call, outcome))
            if self.scheduled:
                return
            self.scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self.loop.call_soon_threadsafe(self.deliver)

    def deliver(self) -> None:
        with self.lock:
            items, self.items = self.items, []
            self.scheduled = False
        for call, outcome in items:
            call.outcome = outcome
            if not call.waiter.done():
                call.waiter.set_result(outcome)


_MAILBOXES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = weakref.WeakKeyDictionary()


def _mailbox(loop: asyncio.AbstractEventLoop) -> _Mailbox:
    mailbox = _MAILBOXES.get(loop)
    if mailbox is None:
        mailbox = _MAILBOXES[loop] = _Mailbox(loop)
    return mailbox


class _Call:
    """One handler call handed to a handler thread."""

    __slots__ = ("abandoned", "args", "holder", "mailbox", "outcome", "spec", "thread", "waiter")

    def __init__(self, spec: HandlerSpec, args: tuple[Any, ...], loop: asyncio.AbstractEventLoop) -> None:
        self.spec = spec
        self.args = args
        self.mailbox = _mailbox(loop)
        self.waiter: asyncio.Future[Any] = loop.create_future()  # an _Outcome, _TIMEOUT or _CANCELLED
        self.outcome: _Outcome | None = None  # the handler's, once delivered
        self.holder = _Stoppable()
        self.thread: _HandlerThread | None = None
        self.abandoned = False

    def abandon(self) -> None:
        """Stop the handler if it can be stopped (or keep it from starting), and never reuse its thread."""
        self.abandoned = True
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
        if call.abandoned:  # timed out or cancelled before it started
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
            call.mailbox.put(call, (False, exc))
        else:
            call.mailbox.put(call, (True, result))


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
    loop = asyncio.get_running_loop()
    call = _Call(spec, args, loop)
    waiter = call.waiter
    (threads or _DEFAULT_THREADS).submit(call)

    def alarm(why: str) -> None:
        if not waiter.done():
            waiter.set_result(why)

    timer = loop.call_later(timeout, alarm, _TIMEOUT)
    forget = _on_cancel(cancel, lambda: alarm(_CANCELLED))
    try:
        outcome = await waiter
    except asyncio.CancelledError:  # worker shutdown
        ctx._stop.set()
        call.abandon()
        raise
    finally:
        timer.cancel()
        forget()
    if outcome is _CANCELLED or (cancel is not None and cancel.is_set()):
        if call.outcome is None:  # still running: tell it, give it the grace to stop, end the job anyway
            ctx._stop.set()
            call.abandon()
            call.waiter = loop.create_future()
            await asyncio.wait({call.waiter}, timeout=CANCEL_GRACE_SECONDS)
        raise JobCancelled()  # a handler that stopped by raising JobCancelled is not an error
    if outcome is _TIMEOUT:
        ctx._stop.set()  # a sync handler sees context.cancelled from now on, also after a timeout
        call.abandon()
        raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout")
    returned, value = outcome
    if not returned:
        raise value
    return coerce_outputs(value)


def _on_cancel(cancel: asyncio.Event | None, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` once ``cancel`` is set; returns the function that stops watching."""
    if cancel is None:
        return lambda: None
    if isinstance(cancel, CancelSignal):
        return cancel.on_set(callback)
    waiting = asyncio.ensure_future(cancel.wait())  # a plain Event: one task watches it

    def done(task: asyncio.Future[Any]) -> None:
        if not task.cancelled():
            callback()

    waiting.add_done_callback(done)

    def forget() -> None:
        waiting.cancel()

    return forget
