"""The service of the live-updates acceptance tests: progress steps, and handlers to cancel of every kind."""

from __future__ import annotations

import asyncio
import time

from praisonai_svc import JobContext, ServiceApp

app = ServiceApp("Live")


@app.job("steps")
def steps(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    """Ten progress steps, ``delay`` seconds apart (longer than the progress event interval, so none merge)."""
    for step in range(1, 11):
        time.sleep(float(payload.get("delay", 0.3)))
        ctx.progress(step / 10, f"step {step}")
    return b"ten steps", "text/plain", "steps.txt"


@app.job("sleeper")
async def sleeper(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    """Async: sleeps (cancelled by cancelling its task)."""
    ctx.progress(0.1, "sleeping")
    await asyncio.sleep(float(payload.get("seconds", 600)))
    return b"woke", "text/plain", "woke.txt"


@app.job("cooperative")
def cooperative(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    """Sync, checks context.raise_if_cancelled() between short steps."""
    ctx.progress(0.1, "working")
    deadline = time.monotonic() + float(payload.get("seconds", 600))
    while time.monotonic() < deadline:
        ctx.raise_if_cancelled()
        time.sleep(0.05)
    return b"finished", "text/plain", "finished.txt"


@app.job("stubborn", isolation="process")
def stubborn(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    """Sync in a child process, ignores cancellation entirely: only killing the process stops it."""
    ctx.progress(0.1, "ignoring you")
    time.sleep(float(payload.get("seconds", 600)))
    return b"stubborn", "text/plain", "stubborn.txt"


@app.job("quick")
def quick(payload: dict) -> tuple[bytes, str, str]:
    return b"quick", "text/plain", "quick.txt"
