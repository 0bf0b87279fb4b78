"""Ids. Deterministic where duplicates are possible (DESIGN.md §8): the same cause always gives the same id.

* a cron firing is ``(workflow, due time)``: two schedulers that overlap during a failover create one execution;
* a file trigger is ``(workflow, file, event)`` (a claim record with that id comes before its execution);
* a workflow's child job is ``(execution, step)``.

Execution ids start with the inverted time of their cause, so that listings (ascending ids) show the newest
first, as :func:`praisonai_svc.records.newest_first_id` does.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

_INVERT = (1 << 64) - 1


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _inverted(moment: datetime) -> str:
    nanoseconds = int(moment.astimezone(UTC).timestamp() * 1_000_000) * 1000
    return f"{_INVERT - nanoseconds:016x}"


def due_key(due: datetime) -> str:
    """A due time as text, normalised to UTC whole seconds (so two schedulers agree on it)."""
    return due.astimezone(UTC).replace(microsecond=0).isoformat()


def cron_execution_id(workflow_id: str, due: datetime) -> str:
    """The one execution of ``workflow_id`` for the due time ``due``."""
    moment = due.astimezone(UTC).replace(microsecond=0)
    return f"{_inverted(moment)}c{_digest('cron', workflow_id, due_key(moment))[:24]}"


def new_execution_id(now: datetime) -> str:
    """A manual or file-triggered execution: newest first, random after the time."""
    return f"{_inverted(now)}r{os.urandom(12).hex()}"


def file_trigger_id(workflow_id: str, file_id: str, event: str) -> str:
    """The claim record of ``workflow_id`` being triggered by ``event`` of ``file_id`` (once)."""
    return _digest("file", workflow_id, file_id, event)[:40]


def child_job_scope(execution_id: str, step_id: str) -> str:
    """The idempotency scope of a ``job`` step's child job: one job per (execution, step)."""
    return f"workflow-step\x00{execution_id}\x00{step_id}"


def child_job_id(execution_id: str, step_id: str) -> str:
    return _digest("child-job", execution_id, step_id)[:32]


def new_workflow_id(now: datetime) -> str:
    return f"wf{_inverted(now)}{os.urandom(8).hex()}"
