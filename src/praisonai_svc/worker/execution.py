"""Run a handler off the event loop with a hard time limit.

Each attempt gets its own daemon thread (async handlers get their own event loop in it), so no handler can
block the worker's loop, starve lease renewal, or exhaust a shared pool by never returning. On timeout an async
handler is cancelled; a sync one cannot be killed in-process, so it is abandoned (its thread keeps running
until it returns or the process exits) and the worker carries on with other jobs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from praisonai_svc.context import JobContext
from praisonai_svc.errors import JobTimeout
from praisonai_svc.registry import HandlerOutput, HandlerSpec, coerce_output


class _AsyncCall:
    """Holds the private loop and task of an async handler so another thread can cancel it."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None

    def cancel(self) -> None:
        if self.loop is not None and self.task is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.task.cancel)


def _call_in_thread(
    spec: HandlerSpec, args: tuple[Any, ...], future: concurrent.futures.Future[Any], holder: _AsyncCall
) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        if spec.is_async:
            loop = asyncio.new_event_loop()
            holder.loop = loop
            try:
                holder.task = loop.create_task(spec.func(*args))
                result = loop.run_until_complete(holder.task)
            finally:
                loop.close()
        else:
            result = spec.func(*args)
    except BaseException as exc:  # handed to the awaiting coroutine, which decides retry vs fail
        future.set_exception(exc)
    else:
        future.set_result(result)


async def _run_builtin(spec: HandlerSpec, args: tuple[Any, ...], timeout: float) -> HandlerOutput:
    """Built-in services are the package's own async code: awaited on the worker's loop, cancelled on timeout."""
    try:
        result = await asyncio.wait_for(spec.func(*args), timeout)
    except TimeoutError:
        raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout") from None
    return coerce_output(result)


async def execute(spec: HandlerSpec, payload: Any, ctx: JobContext, timeout: float) -> HandlerOutput:
    """Run the handler; raise what it raises, :class:`JobTimeout` after ``timeout`` seconds."""
    args = (payload, ctx) if spec.wants_context else (payload,)
    if spec.builtin:
        return await _run_builtin(spec, args, timeout)
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    holder = _AsyncCall()
    thread = threading.Thread(
        target=_call_in_thread, args=(spec, args, future, holder), name=f"job-{ctx.job_id[:8]}", daemon=True
    )
    thread.start()
    try:
        result = await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except TimeoutError:
        holder.cancel()
        raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout") from None
    except asyncio.CancelledError:
        holder.cancel()
        raise
    return coerce_output(result)
