"""What runs in a parse thread or a parse child process: one body parsed within its budget."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from praisonai_svc.api.body import parse_document
from praisonai_svc.errors import Overloaded

MIN_QUEUE_WAIT_SECONDS = 5.0  # a body may wait for a thread this long even when its parse budget is shorter
PARSE_THREAD_NICENESS = 10
BUSY = "The API is busy parsing other requests; retry after Retry-After seconds."


def lower_priority() -> None:
    """Run this parse thread (or, called in a child process, the whole child) at a lower scheduling priority.

    On Linux every thread has its own nice value, so when the CPUs are busy the kernel runs the event loop
    first, and a flood of documents slows parsing down rather than every other request. Elsewhere (or when
    refused) parsing simply keeps the process's priority.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PARSE_THREAD_NICENESS)


def parse_within_budget(raw: bytes, content_type: str, queued_at: float, budget_seconds: float) -> Any:
    """Parse ``raw`` unless it waited too long for its turn (503); its budget starts now. Runs in a parse thread
    or a child process (``time.monotonic`` is one clock for every process of the machine)."""
    started = time.monotonic()
    if started - queued_at > max(budget_seconds, MIN_QUEUE_WAIT_SECONDS):
        raise Overloaded(BUSY)
    return parse_document(raw, content_type, deadline=started + budget_seconds, budget_seconds=budget_seconds)
