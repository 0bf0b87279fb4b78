"""Poison-queue review (seed 001 §11.3 "manual review required"): list, show, requeue, purge.

Shared by ``GET/POST /admin/poison-queue`` and ``praisonai-svc poison``. It lives above the ports, so every
backend requeues the same way:

1. the job must be in ``error`` (a queued or running job is not the operator's to restart);
2. its record is reset to ``queued`` with ``attempts = 0`` and its outcome so far appended to ``history``
   (ETag-conditional, so a concurrent change wins and the requeue reports a conflict);
3. its poison message goes back to the queue (:meth:`JobQueue.requeue_poison`) — or, when the poison copy is
   gone (purged, expired), a fresh message is sent, so a reset job is never left without a message.
   If that step fails, the record is put back as it was.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import JobNotFound, PraisonSvcError, StorageError
from praisonai_svc.logs import job_logger
from praisonai_svc.models.job import Job, JobOutcome, JobStatus, utcnow
from praisonai_svc.ports import JobQueue

HISTORY_LIMIT = 20  # outcomes kept per job; older ones are dropped first
HISTORY_ERROR_LIMIT = 1000  # characters of each kept error message (the job's own error_msg keeps 10 KiB)


class NotRequeueable(PraisonSvcError):
    """Only a job in ``error`` can be requeued."""


@dataclass(frozen=True)
class PoisonEntry:
    """One poison message, with the service it belongs to and its job's current status (None: job gone)."""

    service: str
    queue: str
    job_id: str
    reason: str
    dead_utc: datetime
    dequeue_count: int
    job_status: str | None


@dataclass(frozen=True)
class QueueDepth:
    service: str
    queue: str
    depth: int
    poison_depth: int


def outcome_of(job: Job) -> JobOutcome:
    """The job's current terminal outcome, as a history entry."""
    error = job.error_msg[:HISTORY_ERROR_LIMIT] if job.error_msg else job.error_msg
    return JobOutcome(status=job.status, error_msg=error, finished_utc=job.finished_utc, attempts=job.attempts,
                      requeued_utc=utcnow())


def reset_for_requeue(job: Job) -> Job:
    """The job back in ``queued`` with a fresh attempt budget, its last outcome kept in ``history``."""
    history = [*job.history, outcome_of(job)][-HISTORY_LIMIT:]
    return job.model_copy(update={
        "status": JobStatus.QUEUED, "attempts": 0, "error_msg": None, "started_utc": None, "finished_utc": None,
        "progress": None, "progress_msg": None, "result": None, "outputs": [], "updated_utc": utcnow(),
        "history": history,
    })


class PoisonReview:
    """Operator actions on the poison queues of every service of ``app``."""

    def __init__(self, app: ServiceApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend

    def queues(self) -> list[tuple[str, JobQueue]]:
        """(service, queue) for every service, in registration order."""
        return [(name, self.backend.queue(spec.queue_name)) for name, spec in self.app.services.items()]

    async def depths(self) -> list[QueueDepth]:
        return [
            QueueDepth(service, self.app.services[service].queue_name, await queue.length(),
                       await queue.poison_length())
            for service, queue in self.queues()
        ]

    async def entries(self, limit: int = 32) -> list[PoisonEntry]:
        """The oldest poison messages of each service's queue (up to ``limit`` per queue)."""
        found: list[PoisonEntry] = []
        for service, queue in self.queues():
            for message in await queue.poison_messages(limit):
                status = await self._status_of(message.job_id)
                found.append(PoisonEntry(service, self.app.services[service].queue_name, message.job_id,
                                         message.reason, message.dead_utc, message.dequeue_count, status))
        return found

    async def _status_of(self, job_id: str) -> str | None:
        try:
            return (await self.backend.jobs.get(job_id)).status.value
        except JobNotFound:
            return None

    async def show(self, job_id: str) -> tuple[Job, list[PoisonEntry]]:
        """The job record (with its history) and its poison messages, if any. Raises JobNotFound."""
        job = await self.backend.jobs.get(job_id)
        entries = [entry for entry in await self.entries() if entry.job_id == job_id]
        return job, entries

    async def requeue(self, job_id: str) -> Job:
        """Run a failed job again, keeping its history. Raises JobNotFound, NotRequeueable, StorageError."""
        job = await self.backend.jobs.get(job_id)
        if job.status is not JobStatus.ERROR:
            raise NotRequeueable(f"Job {job_id} is {job.status.value}; only a job in error can be requeued.")
        spec = self.app.services.get(job.service)
        if spec is None:
            raise NotRequeueable(f"Job {job_id} belongs to service {job.service!r}, which this app does not host.")
        queue = self.backend.queue(self.app.services[job.service].queue_name)
        reset = await self.backend.jobs.update(reset_for_requeue(job))
        try:
            if not await queue.requeue_poison(job_id):
                await queue.send(job_id)
        except StorageError:
            with contextlib.suppress(StorageError):
                await self.backend.jobs.update(job.model_copy(update={"etag": reset.etag}))
            raise
        self.backend.hints.ring(spec.queue_name)  # idle workers poll the queue at their next cycle
        job_logger(job.service, job_id, 0, "poison").warning(
            "job requeued by an operator", extra={"previous_attempts": job.attempts, "history": len(reset.history)})
        return reset

    async def purge(self) -> int:
        """Delete every poison message of every service; the jobs stay in ``error``. Returns how many."""
        total = 0
        for _service, queue in self.queues():
            total += await queue.purge_poison()
        return total
