"""Use cases behind the HTTP API: submit (idempotent), read, list, mint download links.

Lives above the ports, so every backend gets the same timestamps, hashing, compensation and logging.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import JobNotFound, JobNotReady, StorageError, StorageUnavailable, UnknownService
from praisonai_svc.hashing import payload_hash
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import Job, JobRequest, JobStatus, utcnow
from praisonai_svc.ports import DuplicateJob, JobListing, SignedUrl

log = get_logger("api")


def new_job_id() -> str:
    """32 hex chars like a uuid4, but time-ordered (ns clock first, then 64 random bits).

    Ordered ids make inserts append to the end of B-trees (cheaper in SQLite, friendlier to Table Storage
    range scans) and let job ids sort by creation time; 64 random bits keep them unguessable enough that
    knowing one id does not reveal another.
    """
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"  # what secrets.token_hex(8) returns, minus 3 calls


@dataclass(frozen=True)
class Submission:
    job: Job
    created: bool


class JobService:
    def __init__(self, app: ServiceApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend

    async def submit(self, request: JobRequest, *, tenant: str | None = None, internal: bool = False) -> Submission:
        """Validate, claim the payload hash, store and enqueue; an identical live job is returned instead.

        Idempotency is scoped by service and tenant: two tenants' identical payloads are two jobs. Built-in
        services (e.g. ``extract``) take only ``internal`` submissions, from their own features' use cases.
        """
        spec = self.app.service(request.service)
        if spec.builtin and not internal:
            raise UnknownService(f"'{spec.name}' is a built-in service; use its own routes (e.g. POST /files/upload).")
        spec.validate_payload(request.payload)
        now = utcnow()
        scope = spec.name if tenant is None else f"{spec.name}\x00tenant:{tenant}"
        job = Job(
            job_id=new_job_id(), service=spec.name, payload=request.payload, tenant=tenant,
            payload_hash=payload_hash(request.payload, scope=scope), created_utc=now, updated_utc=now,
        )
        try:
            try:
                job = await self.backend.create_and_enqueue(job, spec.queue_name)
            except DuplicateJob as dup:
                if not await self._expired_hit(dup.existing, spec.idempotency_window):
                    log.info("idempotent hit", extra={"service": spec.name, "job_id": dup.existing.job_id})
                    return Submission(dup.existing, created=False)
                # Past the idempotency window, or its output is gone: let go of its claim and make a new job.
                await self.backend.jobs.release_claim(dup.existing.payload_hash, dup.existing.job_id)
                try:
                    job = await self.backend.create_and_enqueue(job, spec.queue_name)
                except DuplicateJob as again:  # a concurrent submitter made the new job first: it is ours too
                    return Submission(again.existing, created=False)
        except StorageError as exc:
            raise StorageUnavailable("Storage is unavailable; nothing was queued. Retry shortly.") from exc
        log.info("job queued", extra={"service": spec.name, "job_id": job.job_id})
        return Submission(job, created=True)

    async def _expired_hit(self, existing: Job, window: timedelta | None) -> bool:
        """Whether ``existing`` may no longer be handed out for an identical payload.

        Idempotency is bounded by PRAISONAI_IDEMPOTENCY_WINDOW, and a ``done`` job whose output was removed
        (by retention, a lifecycle rule or an operator) would only give the client a broken download.
        """
        if existing.created_utc < utcnow() - (window or self.app.settings.idempotency_window):
            return True
        if existing.status is JobStatus.DONE and existing.result is not None:
            return not await self.backend.blobs.exists(existing.result.blob_name)
        return False

    async def get(self, job_id: str, *, tenant: str | None = None) -> Job:
        """The job; :class:`JobNotFound` also when it belongs to another tenant than ``tenant`` (if given)."""
        job = await self.backend.jobs.get(job_id)
        if tenant is not None and job.tenant != tenant:
            raise JobNotFound()  # indistinguishable from a missing job: ids of other tenants reveal nothing
        return job

    async def list(self, **filters: Any) -> JobListing:
        return await self.backend.jobs.list(**filters)

    async def download_link(self, job_id: str, *, tenant: str | None = None) -> SignedUrl:
        """A fresh read-only link to the job's output; :class:`JobNotReady` unless the job is done."""
        job = await self.get(job_id, tenant=tenant)
        if job.status is not JobStatus.DONE or job.result is None:
            raise JobNotReady(job.status.value)
        expires = timedelta(seconds=self.app.settings.download_url_expiry_seconds)
        return await self.backend.blobs.signed_url(
            job.result.blob_name, expires_in=expires, filename=job.result.filename,
            content_type=job.result.content_type,
        )
