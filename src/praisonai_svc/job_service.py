"""Use cases behind the HTTP API: submit (idempotent), read, list, mint download links.

Lives above the ports, so every backend gets the same timestamps, hashing, compensation and logging.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import (
    ConcurrencyConflict,
    JobNotCancellable,
    JobNotFound,
    JobNotReady,
    OutputNotFound,
    PayloadError,
    PraisonSvcError,
    ServiceDisabled,
    StorageError,
    StorageUnavailable,
    UnknownService,
)
from praisonai_svc.events.job_events import job_event, publish_job_event
from praisonai_svc.hashing import canonical_hash, payload_hash
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import Job, JobRequest, JobStatus, StoredOutput, utcnow
from praisonai_svc.models.job import output_files as outputs_of
from praisonai_svc.ports import DuplicateJob, JobListing, SignedUrl
from praisonai_svc.registry import HandlerSpec
from praisonai_svc.usage.meter import Meter
from praisonai_svc.usage.quotas import QuotaGuard
from praisonai_svc.webhooks.intents import write_intent_if_owed
from praisonai_svc.webhooks.urls import check_callback_url
from praisonai_svc.worker.cancellation import cancel_record

log = get_logger("api")
QUEUED_TOPIC = "job.queued"


def new_job_id() -> str:
    """32 hex chars like a uuid4, but time-ordered (ns clock first, then 64 random bits).

    Ordered ids make inserts append to the end of B-trees (cheaper in SQLite, friendlier to Table Storage
    range scans) and let job ids sort by creation time; 64 random bits keep them unguessable enough that
    knowing one id does not reveal another.
    """
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"  # what secrets.token_hex(8) returns, minus 3 calls


def new_job_ids(count: int) -> list[str]:
    """:func:`new_job_id` ``count`` times, with the random halves from one ``os.urandom`` call (a system call
    per id was a few percent of a batch submission)."""
    randomness = os.urandom(8 * count).hex()
    return [f"{time.time_ns():016x}{randomness[16 * i:16 * (i + 1)]}" for i in range(count)]


@dataclass(frozen=True)
class Submission:
    job: Job
    created: bool


# Storage requests one submission makes (create the job with its claim, send the message): metered per job.
SUBMIT_REQUESTS = 2


class JobService:
    def __init__(
        self, app: ServiceApp, backend: Backend, *, meter: Meter | None = None, quotas: QuotaGuard | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.meter = meter or Meter(backend.records, enabled=False)
        self.quotas = quotas

    async def submit(self, request: JobRequest, *, tenant: str | None = None, size: int = 0,
                     canonical: str | None = None) -> Submission:
        """Validate, check the tenant's quota, claim the payload hash, store and enqueue; an identical live job is
        returned instead. ``size`` is the request body's length, metered as bytes in; ``canonical`` the payload's
        canonical JSON if the caller already made it (hashed as it is).

        Idempotency is scoped by service and tenant: two tenants' identical payloads are two jobs. Raises
        QuotaExceeded when a daily quota of the tenant is used up.
        """
        spec, job = self._prepare(request, tenant, canonical)
        if self.quotas is not None:
            await self.quotas.admit(tenant)
        try:
            try:
                job = await self.backend.create_and_enqueue(job, spec.queue_name)
            except DuplicateJob as dup:
                return await self._on_duplicate(spec, job, dup, size)
        except StorageError as exc:
            raise StorageUnavailable("Storage is unavailable; nothing was queued. Retry shortly.") from exc
        await self._queued(spec, job, size)
        return Submission(job, created=True)

    def _prepare(self, request: JobRequest, tenant: str | None, canonical: str | None = None
                 ) -> tuple[HandlerSpec, Job]:
        """The checks every submission passes (service usable, payload valid, callback allowed), and its job."""
        spec = self._submittable(request.service)
        return spec, self._job(spec, request, tenant, new_job_id(), canonical)

    def _submittable(self, name: str | None) -> HandlerSpec:
        """The service a request names (or the default one), if it takes submissions."""
        spec = self.app.job_spec(name)
        if spec.internal:
            raise UnknownService(f"Service '{spec.name}' is built in and cannot be submitted directly.")
        if not self.app.config.options(spec.name).enabled:
            raise ServiceDisabled(f"Service '{spec.name}' is disabled (enabled: false in praisonai.yaml); "
                                  "nothing was queued. Enable it there and restart.")
        return spec

    def _job(self, spec: HandlerSpec, request: JobRequest, tenant: str | None, job_id: str,
             canonical: str | None) -> Job:
        """The job of ``request`` for ``spec`` once its payload and callback pass their checks (``canonical``: the
        payload's canonical JSON if already made)."""
        spec.validate_payload(request.payload)
        if request.callback_url is not None:
            if self.app.settings.webhook_secret_value is None:
                raise PayloadError("callback_url needs webhooks, which are off: the operator sets "
                                   "PRAISONAI_WEBHOOK_SECRET to turn them on.")
            check_callback_url(request.callback_url)
        now = utcnow()
        scope = spec.name if tenant is None else f"{spec.name}\x00tenant:{tenant}"
        return Job(
            job_id=job_id, service=spec.name, payload=request.payload, tenant=tenant,
            payload_hash=payload_hash(request.payload, scope=scope) if canonical is None
            else canonical_hash(canonical, scope), created_utc=now, updated_utc=now,
            callback_url=request.callback_url, webhook_progress=request.webhook_progress,
        )

    async def _queued(self, spec: HandlerSpec, job: Job, size: int) -> None:
        """A new job was stored and enqueued: log, meter (no I/O) and publish it."""
        if log.isEnabledFor(logging.INFO):
            log.info("job queued", extra={"service": spec.name, "job_id": job.job_id})
        self.meter.record(job.tenant, spec.name, jobs_submitted=1, bytes_in=size, storage_requests=SUBMIT_REQUESTS)
        if self.app.events.wants(QUEUED_TOPIC):  # by default nobody does (the event log's first entry is implied)
            await publish_job_event(self.app.events, job, "queued")

    async def _queued_many(self, jobs: list[tuple[HandlerSpec, Job]], size: int) -> None:
        """:meth:`_queued` for the new jobs of one batch: one meter update per service and tenant, and their
        ``queued`` events in one :meth:`~praisonai_svc.events.bus.EventBus.publish_many` (in order)."""
        if not jobs:
            return
        logs = log.isEnabledFor(logging.INFO)
        counts: dict[tuple[str | None, str], int] = {}
        for spec, job in jobs:
            if logs:
                log.info("job queued", extra={"service": spec.name, "job_id": job.job_id})
            key = (job.tenant, spec.name)
            counts[key] = counts.get(key, 0) + 1
        for (tenant, service), count in counts.items():
            self.meter.record(tenant, service, jobs_submitted=count, bytes_in=size * count,
                              storage_requests=SUBMIT_REQUESTS * count)
        if self.app.events.wants(QUEUED_TOPIC):
            await self.app.events.publish_many([job_event(job, "queued") for _spec, job in jobs])

    async def _on_duplicate(self, spec: HandlerSpec, job: Job, dup: DuplicateJob, size: int) -> Submission:
        """The hash is held by ``dup.existing``: return it, or (past the window / output gone) make ``job``."""
        if not await self._expired_hit(dup.existing, spec.idempotency_window):
            log.info("idempotent hit", extra={"service": spec.name, "job_id": dup.existing.job_id})
            return Submission(dup.existing, created=False)
        # Past the idempotency window, or its output is gone: let go of its claim and make a new job.
        await self.backend.jobs.release_claim(dup.existing.payload_hash, dup.existing.job_id)
        try:
            job = await self.backend.create_and_enqueue(job, spec.queue_name)
        except DuplicateJob as again:  # a concurrent submitter made the new job first: it is ours too
            return Submission(again.existing, created=False)
        await self._queued(spec, job, size)
        return Submission(job, created=True)

    async def submit_many(
        self, requests: Sequence[JobRequest | PraisonSvcError], *, tenant: str | None = None, size: int = 0,
        canonicals: Sequence[str | None] | None = None,
    ) -> list[Submission | PraisonSvcError]:
        """:meth:`submit` for each request; per request, in order, its submission or the error it met (a request
        that failed to parse may be passed as its error and is answered with it). One bad item never sinks the
        others. The valid items of one queue are stored and enqueued together
        (:meth:`Backend.create_and_enqueue_many`: one SQLite transaction, or shared Table transactions).

        Each valid item counts against the tenant's quotas like a single submission (an item over a quota gets
        its QuotaExceeded); ``size``, the whole body's length, is metered as bytes in, shared out evenly.
        ``canonicals``, if given, holds per request its payload's canonical JSON when the caller made it already.
        """
        outcomes: list[Submission | PraisonSvcError | None] = [None] * len(requests)
        prepared: list[tuple[int, HandlerSpec, Job]] = []
        services: dict[str | None, HandlerSpec | PraisonSvcError] = {}  # each service looked up once
        ids = iter(new_job_ids(len(requests)))
        for index, request in enumerate(requests):
            if isinstance(request, PraisonSvcError):
                outcomes[index] = request
                continue
            try:
                spec = services.get(request.service)
                if spec is None:
                    try:
                        spec = services[request.service] = self._submittable(request.service)
                    except PraisonSvcError as exc:
                        spec = services[request.service] = exc
                if isinstance(spec, PraisonSvcError):
                    raise spec
                job = self._job(spec, request, tenant, next(ids), canonicals[index] if canonicals else None)
            except PraisonSvcError as exc:
                outcomes[index] = exc
                continue
            prepared.append((index, spec, job))
        by_queue: dict[str, list[tuple[int, HandlerSpec, Job]]] = {}
        for item, refused in zip(prepared, await self._admit_many(tenant, len(prepared)), strict=True):
            if refused is not None:
                outcomes[item[0]] = refused
            else:
                by_queue.setdefault(item[1].queue_name, []).append(item)
        share = size // max(len(requests), 1)
        await asyncio.gather(*(self._store_many(items, outcomes, share) for items in by_queue.values()))
        return [outcome for outcome in outcomes if outcome is not None]

    async def _admit_many(self, tenant: str | None, count: int) -> list[PraisonSvcError | None]:
        """Per item, None if the tenant's quotas admit it, else the error that refused it (one check for all)."""
        if self.quotas is None or count == 0:
            return [None] * count
        try:
            return list(await self.quotas.admit_many(tenant, count))
        except PraisonSvcError as exc:  # e.g. storage unavailable: each item is refused with it, as alone
            return [exc] * count

    async def _store_many(self, items: list[tuple[int, HandlerSpec, Job]],
                          outcomes: list[Submission | PraisonSvcError | None], size: int) -> None:
        queue_name = items[0][1].queue_name
        try:
            stored = await self.backend.create_and_enqueue_many([job for _i, _s, job in items], queue_name)
        except StorageError:
            unavailable = StorageUnavailable("Storage is unavailable; nothing was queued. Retry shortly.")
            for index, _spec, _job in items:
                outcomes[index] = unavailable
            return

        created: list[tuple[HandlerSpec, Job]] = []
        duplicates = []
        for (index, spec, job), result in zip(items, stored, strict=True):
            if isinstance(result, Job):
                outcomes[index] = Submission(result, created=True)
                created.append((spec, result))
            else:
                duplicates.append(self._settle_duplicate(index, spec, job, result, outcomes, size))
        await self._queued_many(created, size)
        if duplicates:
            await asyncio.gather(*duplicates)

    async def _settle_duplicate(self, index: int, spec: HandlerSpec, job: Job, dup: DuplicateJob,
                                outcomes: list[Submission | PraisonSvcError | None], size: int) -> None:
        try:
            outcomes[index] = await self._on_duplicate(spec, job, dup, size)
        except StorageError:
            outcomes[index] = StorageUnavailable("Storage is unavailable; nothing was queued. Retry shortly.")

    async def _expired_hit(self, existing: Job, window: timedelta | None) -> bool:
        """Whether ``existing`` may no longer be handed out for an identical payload.

        Idempotency is bounded by PRAISONAI_IDEMPOTENCY_WINDOW, and a ``done`` job whose output was removed
        (by retention, a lifecycle rule or an operator) would only give the client a broken download.
        """
        if existing.created_utc < utcnow() - (window or self.app.settings.idempotency_window):
            return True
        files = outputs_of(existing)
        if existing.status is JobStatus.DONE and files:
            return not await self.backend.blobs.exists(files[0].blob_name)
        return False

    async def get(self, job_id: str, *, tenant: str | None = None) -> Job:
        """The job; :class:`JobNotFound` also when it belongs to another tenant than ``tenant`` (if given)."""
        job = await self.backend.jobs.get(job_id)
        if tenant is not None and job.tenant != tenant:
            raise JobNotFound()  # indistinguishable from a missing job: ids of other tenants reveal nothing
        return job

    async def cancel(self, job_id: str, *, tenant: str | None = None) -> Job:
        """Cancel a queued job at once, or ask the worker running it to stop (it ends ``cancelled`` within
        seconds); an already cancelled job is returned as it is; :class:`JobNotCancellable` if done or error."""
        for _ in range(10):
            job = await self.get(job_id, tenant=tenant)
            if job.status is JobStatus.CANCELLED or job.cancel_requested_utc is not None:
                return job
            if job.status.is_terminal:
                raise JobNotCancellable(job.status.value)
            now = utcnow()
            queued = job.status is JobStatus.QUEUED
            changes: dict[str, Any] = {"cancel_requested_utc": now, "updated_utc": now}
            if queued:  # its message stays in the queue; the worker acks it unrun when it comes up
                changes |= {"status": JobStatus.CANCELLED, "finished_utc": now, "error_msg": "Cancelled on request"}
                # Written first: a crash after the update still sends its webhooks.
                await write_intent_if_owed(self.app, self.backend, job, "cancelled")
            try:
                job = await self.backend.jobs.update(job.model_copy(update=changes))
            except ConcurrencyConflict:
                continue  # a worker took it (or finished it) meanwhile: decide again
            if queued:
                await publish_job_event(self.app.events, job, "cancelled")
            else:
                await self.backend.records.create(cancel_record(job.job_id))
            log.info("job cancel requested", extra={"service": job.service, "job_id": job.job_id,
                                                    "was": "queued" if queued else "processing"})
            return job
        raise StorageUnavailable("The job kept changing while cancelling it; try again.")

    async def list(self, **filters: Any) -> JobListing:
        return await self.backend.jobs.list(**filters)

    async def finished(self, job_id: str, *, tenant: str | None = None) -> Job:
        """The job if it is done; :class:`JobNotReady` (409) otherwise, :class:`JobNotFound` like :meth:`get`."""
        job = await self.get(job_id, tenant=tenant)
        if job.status is not JobStatus.DONE or not outputs_of(job):
            raise JobNotReady(job.status.value)
        return job

    async def download_link(self, job_id: str, *, tenant: str | None = None) -> SignedUrl:
        """A fresh read-only link to a single-file job's output; :class:`JobNotReady` unless the job is done."""
        job = await self.finished(job_id, tenant=tenant)
        return await self.link(outputs_of(job)[0])

    async def output_link(self, job_id: str, name: str, *, tenant: str | None = None) -> SignedUrl:
        """A fresh link to the output called ``name`` (matched exactly against the stored names, so no name a
        client sends can reach another blob); :class:`OutputNotFound` when the job has none of that name."""
        job = await self.finished(job_id, tenant=tenant)
        for output in outputs_of(job):
            if output.filename == name:
                return await self.link(output)
        raise OutputNotFound(f"Job {job_id} has no output named {name!r}; GET /jobs/{job_id} lists them.")

    async def link(self, output: StoredOutput) -> SignedUrl:
        expires = timedelta(seconds=self.app.settings.download_url_expiry_seconds)
        return await self.backend.blobs.signed_url(
            output.blob_name, expires_in=expires, filename=output.filename, content_type=output.content_type,
        )
