"""Stopping handlers: the timeout sets the cancel flag a sync handler sees, and isolation="process" kills."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from praisonai_svc import JobContext
from praisonai_svc.errors import JobCancelled, JobTimeout
from praisonai_svc.registry import make_spec
from praisonai_svc.worker.execution import execute


def context() -> JobContext:
    import logging

    return JobContext(job_id="0123456789abcdef", attempt=1, max_attempts=1, service="s",
                      logger=logging.getLogger("test"))  # type: ignore[arg-type]


async def test_a_timed_out_sync_handler_sees_the_flag_and_stops() -> None:
    stopped = threading.Event()

    def checks(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
        while not ctx.cancelled:
            time.sleep(0.01)
        stopped.set()
        return b"", "text/plain", "x"

    with pytest.raises(JobTimeout):
        await execute(make_spec(checks, "checks", "q"), {}, context(), timeout=0.2)
    assert await asyncio.to_thread(stopped.wait, 5)  # the thread did not outlive the timeout


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def test_a_process_isolated_handler_that_ignores_cancel_is_killed(tmp_path: Path) -> None:
    marker = tmp_path / "child-pid"

    def stubborn(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
        ctx.progress(0.5, "ignoring")
        with open(marker, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(600)
        return b"", "text/plain", "x"

    spec = make_spec(stubborn, "stubborn", "q", isolation="process")
    seen: list[tuple[float | None, str | None]] = []
    ctx = context()
    ctx._sink = lambda fraction, message: seen.append((fraction, message))
    cancel = asyncio.Event()
    task = asyncio.ensure_future(execute(spec, {}, ctx, timeout=60, cancel=cancel))
    for _ in range(6000):  # a child process starts slowly on a loaded machine: wait up to a minute
        if marker.exists() and marker.read_text().strip():
            break
        await asyncio.sleep(0.01)
    child = int(marker.read_text())
    assert child != os.getpid()
    for _ in range(6000):  # the progress was sent before the marker, but is relayed by the parent: let it arrive
        if seen:
            break
        await asyncio.sleep(0.01)
    cancel.set()
    with pytest.raises(JobCancelled):
        await task
    for _ in range(3000):  # the child is gone: killed (a zombie until its parent reaps it), or reaped
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        if _is_zombie(child):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail(f"child {child} still runs")
    assert seen == [(0.5, "ignoring")]  # progress crossed the process boundary


async def test_a_process_isolated_handler_returns_its_result_and_raises_its_errors() -> None:
    def fine(payload: dict) -> tuple[bytes, str, str]:
        return f"pid {os.getpid()}".encode(), "text/plain", "x.txt"

    def broken(payload: dict) -> tuple[bytes, str, str]:
        raise ValueError("bad input")

    [output] = await execute(make_spec(fine, "fine", "q", isolation="process"), {}, context(), timeout=30)
    assert output.source != f"pid {os.getpid()}".encode() and output.filename == "x.txt"
    with pytest.raises(ValueError, match="bad input"):
        await execute(make_spec(broken, "broken", "q", isolation="process"), {}, context(), timeout=30)
