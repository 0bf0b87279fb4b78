"""Fixes job rows stuck in ``processing`` whose worker vanished without a trace.

Normally a dead worker's message reappears and the next attempt takes over; the reaper covers what that cannot:
a row left ``processing`` after its message was lost (e.g. storage failed between writes). A row is stuck when
it started longer ago than the time limit plus two lease periods and a minute of slack.
"""

from __future__ import annotations

from datetime import timedelta

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConcurrencyConflict, JobNotFound
from praisonai_svc.events.job_events import publish_job_event
from praisonai_svc.logs import get_logger, job_logger
from praisonai_svc.models.job import JobStatus, utcnow
from praisonai_svc.webhooks.intents import write_intent_if_owed

log = get_logger("reaper")
MAX_ROWS_PER_SWEEP = 500


def stuck_after(app: ServiceApp) -> float:
    """Seconds after its start past which any service's ``processing`` row counts as stuck (the longest)."""
    settings = app.settings
    limits = [spec.timeout_seconds or settings.max_job_duration_seconds for spec in app.services.values()]
    return max(limits, default=settings.max_job_duration_seconds) + 2 * settings.queue_visibility_timeout + 60


async def reap_stuck_jobs(app: ServiceApp, backend: Backend) -> int:
    """Mark stuck ``processing`` jobs as ``error``; return how many were fixed."""
    settings = app.settings
    fixed = 0
    cursor: str | None = None
    seen = 0
    while seen < MAX_ROWS_PER_SWEEP:
        page = await backend.jobs.list(status=JobStatus.PROCESSING, limit=100, cursor=cursor)
        for job in page.jobs:
            spec = app.services.get(job.service)
            limit = (spec.timeout_seconds if spec and spec.timeout_seconds else settings.max_job_duration_seconds)
            grace = timedelta(seconds=limit + 2 * settings.queue_visibility_timeout + 60)
            if job.started_utc is None or utcnow() - job.started_utc < grace:
                continue
            # Written first: a crash after the update still sends its webhooks.
            await write_intent_if_owed(app, backend, job, "error", spec)
            try:
                failed = await backend.jobs.update(job.model_copy(update={
                    "status": JobStatus.ERROR, "finished_utc": utcnow(), "updated_utc": utcnow(),
                    "error_msg": f"Job exceeded {limit / 60:g} minute timeout (its worker stopped responding)",
                }))
            except (ConcurrencyConflict, JobNotFound):
                continue
            fixed += 1
            job_logger(job.service, job.job_id, job.attempts, "reaper").warning("stuck job marked as error")
            await publish_job_event(app.events, failed, "error")  # its streams end, its webhooks go out
        seen += len(page.jobs)
        cursor = page.next_cursor
        if cursor is None:
            break
    return fixed
