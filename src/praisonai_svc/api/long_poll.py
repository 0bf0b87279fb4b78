"""``GET /jobs/{id}?wait=N``: answer as soon as the job changes, or after N seconds (the process's one watcher
tells this request, so a thousand waiting clients cost the storage reads of one)."""

from __future__ import annotations

from fastapi import Request, WebSocket

from praisonai_svc.app import ServiceApp
from praisonai_svc.events.watcher import EventWatcher
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import Job

MAX_WAIT_SECONDS = 60


def watcher_of(request: Request | WebSocket) -> EventWatcher:
    watcher: EventWatcher = request.app.state.event_watcher
    return watcher


async def long_poll(request: Request, service: JobService, job: Job, wait: float) -> Job:
    """The job as soon as it changes (any event after this call), or after ``wait`` seconds."""
    app: ServiceApp = request.app.state.service_app
    wait = min(wait, app.settings.long_poll_max_seconds)
    if job.status.is_terminal or wait <= 0:
        return job
    watcher = watcher_of(request)
    sub = await watcher.subscribe(job.job_id, None)
    try:
        fresh = await service.get(job.job_id)
        if fresh.updated_utc == job.updated_utc and fresh.status == job.status:
            await sub.next_batch(wait)
            fresh = await service.get(job.job_id)
        return fresh
    finally:
        watcher.unsubscribe(sub)
