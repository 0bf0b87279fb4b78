"""The storage backend: the ports bundled (jobs, queues, blobs, records, rate limits), chosen from settings.

No connection string → the embedded ``local`` backend in ``PRAISONAI_DATA_DIR``; an Azure connection string
or account URL → ``azure``. ``PRAISONAI_BLOB_URL`` (or seed 004's R2 variables) then puts the outputs in
another blob store (:mod:`praisonai_svc.blob_url`), so jobs on SQLite or Azure can keep outputs in S3 or R2.
Adapters are imported lazily so the local path never imports a cloud SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from praisonai_svc.cluster import ClusterView, SubmitHints
from praisonai_svc.errors import StorageError
from praisonai_svc.models.job import Job
from praisonai_svc.ports import BlobStore, DuplicateJob, JobQueue, JobStore, RateLimiter
from praisonai_svc.records import RecordStore
from praisonai_svc.settings import Settings


@dataclass
class Backend:
    """One storage backend: a job store, a blob store, a queue per service and a record store."""

    kind: str
    jobs: JobStore
    blobs: BlobStore
    queue_factory: Callable[[str], JobQueue]
    records: RecordStore
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Adapters whose job store and queue share a database set this to do both in one transaction.
    atomic_submit: Callable[[Job, str], Awaitable[Job]] | None = None
    # ... and this to store and enqueue many jobs in one transaction (per job: the stored job or DuplicateJob).
    atomic_submit_many: Callable[[list[Job], str], Awaitable[list[Job | DuplicateJob]]] | None = None
    # Rate-limit counters in this backend's own storage, so that every replica shares them (None: the backend
    # has none, and rate_limiter_or_fallback counts in this process's memory instead).
    rate_limiter: RateLimiter | None = None
    # Give space back after the pruner removed records (local: incremental vacuum + WAL truncation; with
    # True a full one-off VACUUM). None: the storage reclaims space itself (Azure).
    compact: Callable[[bool], Awaitable[None]] | None = None
    # Told the queue name after each submit through this backend object (a worker of the same process wakes up
    # at once); never for sends of the adapters themselves. Every submit also rings the queue's doorbell
    # (``hints``), which idle workers of every process read.
    enqueue_listeners: list[Callable[[str], None]] = field(default_factory=list)
    # Seconds between two writes of a shared batch record (the event feed): 0 where a request is cheap (SQLite);
    # a storage billed and slowed per request (Azure) gathers more events into each.
    batch_write_gap: float = 0.0
    _queues: dict[str, JobQueue] = field(default_factory=dict)
    _fallback_limiter: RateLimiter | None = None
    _cluster: ClusterView | None = None
    _hints: SubmitHints | None = None

    @property
    def cluster(self) -> ClusterView:
        """This process's copy of the cluster partition (control state, leases, heartbeats, submit hints)."""
        if self._cluster is None:
            self._cluster = ClusterView(self.records)
        return self._cluster

    @property
    def hints(self) -> SubmitHints:
        """Rings a queue's doorbell after each submit through this backend (see praisonai_svc.cluster)."""
        if self._hints is None:
            self._hints = SubmitHints(self.records)
        return self._hints

    def rate_limiter_or_fallback(self) -> RateLimiter:
        """The shared rate limiter, or one in this process's memory when the backend stores none."""
        if self.rate_limiter is not None:
            return self.rate_limiter
        if self._fallback_limiter is None:
            from praisonai_svc.adapters.memory import MemoryRateLimiter

            self._fallback_limiter = MemoryRateLimiter()
        return self._fallback_limiter

    def http_routes(self) -> list[Any]:
        """Routers the API mounts for this backend (the local blob store serves its own signed links)."""
        return self.blobs.routes()

    def queue(self, name: str) -> JobQueue:
        """The queue called ``name`` (created on first use, then reused)."""
        if name not in self._queues:
            self._queues[name] = self.queue_factory(name)
        return self._queues[name]

    async def create_and_enqueue(self, job: Job, queue_name: str) -> Job:
        """Store ``job`` (claiming its hash) and enqueue its id, so that either both happen or neither does.

        Raises :class:`DuplicateJob` like :meth:`JobStore.create`. Atomic in one transaction where the adapter
        offers it (local); elsewhere the job is created, then sent, and deleted again if the send fails.
        """
        if self.atomic_submit is not None:
            stored = await self.atomic_submit(job, queue_name)
            self._enqueued(queue_name)
            return stored
        try:
            created = await self.jobs.create(job)
        except DuplicateJob as dup:
            if dup.existing.job_id != job.job_id:
                raise
            # Our own create committed but its answer was lost and the SDK retried it: it is ours, send it.
            created = dup.existing
        try:
            await self.queue(queue_name).send(created.job_id)
        except StorageError:
            with contextlib.suppress(StorageError):
                await self.jobs.delete(created.job_id)
            raise
        self._enqueued(queue_name)
        return created

    def _enqueued(self, queue_name: str) -> None:
        self.hints.ring(queue_name)
        for listener in self.enqueue_listeners:
            listener(queue_name)

    async def create_and_enqueue_many(self, jobs: list[Job], queue_name: str) -> list[Job | DuplicateJob]:
        """:meth:`create_and_enqueue` for each job; per job, in order, the stored job or its DuplicateJob.

        One transaction where the adapter offers it (local); elsewhere concurrent single submits, whose table
        writes the Azure adapter shares (group commit). A storage failure raises.
        """
        if self.atomic_submit_many is not None:
            stored = await self.atomic_submit_many(jobs, queue_name)
            self._enqueued(queue_name)
            return stored
        done = await asyncio.gather(*(self.create_and_enqueue(job, queue_name) for job in jobs),
                                    return_exceptions=True)
        results: list[Job | DuplicateJob] = []
        for outcome in done:
            if isinstance(outcome, Job | DuplicateJob):
                results.append(outcome)
            else:
                raise outcome
        return results

    async def check(self) -> None:
        """Raise StorageUnavailable if any part of the backend is unusable."""
        await self.jobs.check()
        await self.blobs.check()
        await self.records.check()
        for queue in list(self._queues.values()):
            await queue.check()

    async def close(self) -> None:
        if self._hints is not None:
            await self._hints.close()
        for queue in list(self._queues.values()):
            await queue.close()
        await self.jobs.close()
        await self.blobs.close()
        await self.records.close()
        if self.rate_limiter is not None:
            await self.rate_limiter.close()
        for closer in self.closers:
            await closer()


def memory_backend() -> Backend:
    """A fresh in-memory backend (tests and handler authors' tests)."""
    from praisonai_svc.adapters.memory import MemoryBlobStore, MemoryJobQueue, MemoryJobStore, MemoryRateLimiter
    from praisonai_svc.adapters.memory_records import MemoryRecordStore

    return Backend("memory", MemoryJobStore(), MemoryBlobStore(), lambda _name: MemoryJobQueue(),
                   MemoryRecordStore(), rate_limiter=MemoryRateLimiter())


async def open_backend(settings: Settings) -> Backend:
    """Open (and, for Azure, provision) the backend the settings point at, with the blob store PRAISONAI_BLOB_URL
    names if it is set."""
    from praisonai_svc.blob_url import configured_blob_url, import_adapter, open_blob_store

    blob_url = configured_blob_url(settings)  # checked first: a bad URL must not leave a backend open
    if settings.uses_azure:
        azure = import_adapter("praisonai_svc.adapters.azure", "azure", "Azure Storage (PRAISONAI_AZURE_*)")
        backend: Backend = await azure.open_azure_backend(settings)
    else:
        from praisonai_svc.adapters.local import open_local_backend

        backend = await open_local_backend(settings)
    if blob_url is not None:
        try:
            backend.blobs = await open_blob_store(blob_url, settings)
        except BaseException:
            await backend.close()
            raise
    return backend
