"""Answering the callers of a batched storage call (group commits, batched reads, shared counters)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


def fail_all(waiters: Iterable[asyncio.Future[Any]], exc: BaseException) -> None:
    """Hand ``exc`` to every waiter not answered yet; a cancellation (or another BaseException) cancels them."""
    for waiter in waiters:
        if waiter.done():
            continue
        if isinstance(exc, Exception):
            waiter.set_exception(exc)
        else:
            waiter.cancel()
