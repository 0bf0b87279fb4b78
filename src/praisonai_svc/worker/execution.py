"""Run a handler off the event loop with a hard time limit, and stop it when its job is cancelled.

Each attempt gets its own daemon thread (async handlers get their own event loop in it), so no handler can
block the worker's loop, starve lease renewal, or exhaust a shared pool by never returning. On timeout or cancel
an async handler is cancelled; a sync one sees ``context.cancelled`` (and ``raise_if_cancelled()`` raises) and is
given :data:`CANCEL_GRACE_SECONDS` to stop; one that does not check is abandoned (its thread runs on until it
returns or checks). A service with ``isolation="process"`` runs the handler in a forked child process instead,
which is killed outright (see :mod:`.isolation`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from praisonai_svc.context import JobContext
from praisonai_svc.errors import JobCancelled, JobTimeout
from praisonai_svc.outputs import PendingOutput, coerce_outputs
from praisonai_svc.registry import HandlerSpec
from praisonai_svc.worker.isolation import ChildProcess, call_in_child

CANCEL_GRACE_SECONDS = 1.0  # how long a cancelled sync handler may take to notice before the job ends anyway


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


def _call_in_thread(
    spec: HandlerSpec, args: tuple[Any, ...], future: concurrent.futures.Future[Any], holder: _Stoppable
) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        if spec.isolation == "process":
            result = call_in_child(spec, args, holder)
        elif spec.is_async:
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


async def execute(
    spec: HandlerSpec, payload: Any, ctx: JobContext, timeout: float, cancel: asyncio.Event | None = None,
) -> list[PendingOutput]:
    """Run the handler and return its outputs (one or more); raise what it raises, :class:`JobTimeout` after
    ``timeout`` seconds, and :class:`JobCancelled` once ``cancel`` is set."""
    args = (payload, ctx) if spec.wants_context else (payload,)
    if spec.runs_on_loop:
        try:
            return coerce_outputs(await asyncio.wait_for(spec.func(*args), timeout))
        except TimeoutError:
            raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout") from None
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    holder = _Stoppable()
    thread = threading.Thread(
        target=_call_in_thread, args=(spec, args, future, holder), name=f"job-{ctx.job_id[:8]}", daemon=True
    )
    thread.start()
    result = asyncio.wrap_future(future)
    cancelled = asyncio.ensure_future((cancel or asyncio.Event()).wait())
    try:
        done, _ = await asyncio.wait({result, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # worker shutdown
        ctx._stop.set()
        holder.stop()
        raise
    finally:
        cancelled.cancel()
    if result in done:
        if cancel is not None and cancel.is_set():
            result.exception()  # retrieved: a handler that stopped by raising JobCancelled is not an error
            raise JobCancelled()
        return coerce_outputs(result.result())
    ctx._stop.set()  # a sync handler sees context.cancelled from now on, also after a timeout
    holder.stop()
    if result not in done:
        result.add_done_callback(lambda f: f.cancelled() or f.exception())  # nobody awaits it any more
    if cancelled in done:
        await asyncio.wait({result}, timeout=CANCEL_GRACE_SECONDS)
        raise JobCancelled()
    raise JobTimeout(f"Job exceeded {timeout / 60:g} minute timeout")
