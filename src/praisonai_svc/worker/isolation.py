"""``isolation="process"``: one attempt of a handler in a forked child process that can really be killed.

A thread cannot be stopped from outside; a process can. The child is forked (so it inherits the loaded handler
without re-importing the user's file), runs the handler with a context whose progress goes back to the parent
over a pipe, and sends its result or exception the same way. Timeout and cancel kill it (SIGKILL), so a handler
that ignores ``context.cancelled`` still stops. Results and exceptions must be picklable.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import pickle
import threading
from typing import Any, Protocol

from praisonai_svc.context import JobContext
from praisonai_svc.errors import JobFailed
from praisonai_svc.registry import HandlerSpec


class _Holder(Protocol):
    child: ChildProcess | None


class ChildProcess:
    """The running child; :meth:`kill` stops it at once (idempotent)."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.killed = threading.Event()

    def kill(self) -> None:
        self.killed.set()
        if self.process.is_alive():
            self.process.kill()


def _child_main(spec: HandlerSpec, args: tuple[Any, ...], conn: multiprocessing.connection.Connection) -> None:
    if spec.wants_context:
        parent_ctx: JobContext = args[1]
        ctx = JobContext(job_id=parent_ctx.job_id, attempt=parent_ctx.attempt, max_attempts=parent_ctx.max_attempts,
                         service=parent_ctx.service, logger=parent_ctx.logger,
                         _sink=lambda fraction, message: conn.send(("progress", (fraction, message))))
        args = (args[0], ctx)
    try:
        result = asyncio.run(spec.func(*args)) if spec.is_async else spec.func(*args)
        conn.send(("result", result))
    except BaseException as exc:
        try:
            conn.send(("error", exc))
        except (pickle.PicklingError, TypeError, AttributeError):
            conn.send(("error", JobFailed(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def call_in_child(spec: HandlerSpec, args: tuple[Any, ...], holder: _Holder) -> Any:
    """Run the handler in a forked child (blocking the calling thread, never the loop); return its result."""
    parent, child_end = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(
        target=_child_main, args=(spec, args, child_end), daemon=True, name="praisonai-handler")
    process.start()
    child_end.close()
    holder.child = running = ChildProcess(process)
    ctx: JobContext | None = args[1] if spec.wants_context else None
    try:
        while True:
            try:
                kind, value = parent.recv()
            except EOFError:
                process.join()
                if running.killed.is_set():
                    raise JobFailed("Handler process was stopped.") from None
                raise RuntimeError(f"Handler process died (exit code {process.exitcode}).") from None
            if kind == "progress" and ctx is not None:
                ctx.progress(*value)
            elif kind == "result":
                return value
            elif kind == "error":
                raise value
    finally:
        parent.close()
        running.kill()
        process.join(timeout=5)
