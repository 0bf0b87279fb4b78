"""The three storage ports. Adapters implement these primitives and nothing more.

Contracts are domain-level and identical for every adapter (memory, local, azure). The contract test suite in
``tests/contract`` checks them against each adapter; a behaviour that holds on one and not another is a bug.

All methods are coroutines and never block the event loop. Storage that cannot be reached raises
:class:`~praisonai_svc.errors.StorageUnavailable`; everything else an adapter raises is a
:class:`~praisonai_svc.errors.PraisonSvcError` subclass named in the method's docstring.
"""

from __future__ import annotations

import asyncio
import builtins
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from praisonai_svc.errors import ConcurrencyConflict, JobNotFound, LeaseLost
from praisonai_svc.models.job import Job, JobStatus


class DuplicateJob(Exception):
    """The payload hash is already claimed by a live job; ``existing`` is that job."""

    def __init__(self, existing: Job) -> None:
        super().__init__(existing.job_id)
        self.existing = existing


@dataclass(frozen=True)
class QueueMessage:
    """A received message and the lease on it (``pop_receipt`` is the newest receipt)."""

    message_id: str
    job_id: str
    pop_receipt: str
    dequeue_count: int
    inserted_utc: datetime


@dataclass(frozen=True)
class PoisonMessage:
    """A message in the poison queue: the job it names, why it was moved there, and when."""

    job_id: str
    reason: str
    dead_utc: datetime
    dequeue_count: int


@dataclass(frozen=True)
class SignedUrl:
    """A read-only link to one stored result. ``url`` may be relative to the API root (local backend)."""

    url: str
    expires_utc: datetime


@dataclass(frozen=True)
class JobListing:
    """One page of jobs, newest first, and the opaque cursor of the next page (None at the end)."""

    jobs: list[Job]
    next_cursor: str | None


class JobStore(ABC):
    """Job records, with atomic idempotency claims and conditional (ETag) updates."""

    @abstractmethod
    async def create(self, job: Job) -> Job:
        """Store a new job and atomically claim its ``payload_hash`` (already scoped by service).

        Raises :class:`DuplicateJob` carrying the existing job if the hash is held by a job that is not in
        ``error``; a hash held by an ``error`` job (or a deleted one) is taken over. Returns the job with its
        ``etag`` set. Exactly one of N concurrent creates with the same hash succeeds.
        """

    @abstractmethod
    async def get(self, job_id: str) -> Job:
        """Return the job with a fresh ``etag``. Raises :class:`JobNotFound`."""

    @abstractmethod
    async def update(self, job: Job) -> Job:
        """Replace the stored job if its ETag still equals ``job.etag``; return it with the new ``etag``.

        Raises :class:`ConcurrencyConflict` if someone else updated it first, :class:`JobNotFound` if it is gone.
        ``payload``, ``payload_hash`` and ``tenant`` are immutable and adapters may ignore changes to them.
        """

    async def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs with these ids, each with a fresh ``etag``; ids of missing jobs are left out.

        One read where the adapter can (local: one query). This default runs concurrent :meth:`get` calls,
        which the Azure adapter turns into one range query (batched reads).
        """
        found = await asyncio.gather(*(self.get(job_id) for job_id in job_ids), return_exceptions=True)
        jobs: dict[str, Job] = {}
        for outcome in found:
            if isinstance(outcome, Job):
                jobs[outcome.job_id] = outcome
            elif not isinstance(outcome, JobNotFound):
                raise outcome
        return jobs

    async def update_many(self, jobs: Sequence[Job]) -> builtins.list[Job | ConcurrencyConflict | JobNotFound]:
        """:meth:`update` for each job, each conditional on its own ETag; per job, in order: the updated job, or
        the :class:`ConcurrencyConflict` / :class:`JobNotFound` that its update met (the others still apply).

        One transaction where the adapter can (local). This default runs concurrent :meth:`update` calls, which
        the Azure adapter commits as entity group transactions (group commit). A storage failure raises.
        """
        done = await asyncio.gather(*(self.update(job) for job in jobs), return_exceptions=True)
        results: builtins.list[Job | ConcurrencyConflict | JobNotFound] = []
        for outcome in done:
            if isinstance(outcome, Job | ConcurrencyConflict | JobNotFound):
                results.append(outcome)
            else:
                raise outcome
        return results

    @abstractmethod
    async def delete(self, job_id: str) -> None:
        """Remove the job and release its hash claim. Idempotent: deleting a missing job is not an error."""

    @abstractmethod
    async def find_by_hash(self, payload_hash: str) -> Job | None:
        """The job currently holding the hash claim, if any (without scanning all jobs)."""

    @abstractmethod
    async def list(
        self, *, service: str | None = None, status: JobStatus | None = None, limit: int = 50,
        cursor: str | None = None, tenant: str | None = None,
    ) -> JobListing:
        """Jobs newest first, optionally filtered. ``cursor`` comes from a previous page's ``next_cursor``.

        ``tenant`` keeps only that tenant's jobs (``Job.tenant`` equal to it); None applies no tenant filter.

        Raises :class:`PayloadError` for a cursor this adapter did not issue.
        """

    @abstractmethod
    async def release_claim(self, payload_hash: str, job_id: str) -> None:
        """Let go of the hash claim if ``job_id`` still holds it (else do nothing); the job itself stays.

        Used when the holder may no longer be returned as an idempotent hit (older than the idempotency window,
        or its output is gone): the next :meth:`create` with that hash then makes a new job. Conditional on the
        holder, so that of two racing callers the second cannot release the claim the first just took.
        """

    @abstractmethod
    async def prunable(self, *, before: datetime, limit: int = 100) -> builtins.list[Job]:
        """Up to ``limit`` terminal jobs (done, error, cancelled) created before ``before``, in no set order.

        Bounded by ``limit`` per call and served from an index (SQLite) or one range query (Azure), so an idle
        pruner costs one cheap read.
        """

    @abstractmethod
    async def check(self) -> None:
        """Cheap health probe. Raises :class:`StorageUnavailable` when the store is not usable."""

    async def count_by_status(self, *, limit: int = 1000) -> dict[JobStatus, int]:
        """How many of the newest ``limit`` jobs are in each status (every status is a key, 0 if none).

        Bounded on purpose: a metrics scrape calls it, so its cost must not grow with history. This default
        pages through :meth:`list`; adapters override it with one cheap query.
        """
        counts = dict.fromkeys(JobStatus, 0)
        cursor: str | None = None
        seen = 0
        while seen < limit:
            page = await self.list(limit=min(100, limit - seen), cursor=cursor)
            for job in page.jobs:
                counts[job.status] += 1
            seen += len(page.jobs)
            cursor = page.next_cursor
            if cursor is None or not page.jobs:
                break
        return counts

    async def close(self) -> None:
        """Release connections. Idempotent."""


POISON_PEEK_LIMIT = 32


class JobQueue(ABC):
    """One at-least-once queue of job ids with visibility-timeout leases, plus its poison queue."""

    @abstractmethod
    async def send(self, job_id: str, *, delay: float = 0.0) -> str:
        """Enqueue ``job_id`` (the message body is the id, never the payload); return the message id."""

    @abstractmethod
    async def receive(self, max_messages: int, visibility_timeout: float) -> list[QueueMessage]:
        """Lease up to ``max_messages`` visible messages for ``visibility_timeout`` seconds; never blocks long.

        Each receive increments the message's ``dequeue_count``. Returns an empty list when none is visible.
        """

    @abstractmethod
    async def renew(self, message: QueueMessage, visibility_timeout: float) -> QueueMessage:
        """Extend the lease from now; return the message with its new pop receipt (use that one from now on).

        Raises :class:`LeaseLost` if the receipt is stale (the lease expired and someone else took it, or the
        message was deleted).
        """

    @abstractmethod
    async def ack(self, message: QueueMessage) -> None:
        """Delete the message. Raises :class:`LeaseLost` if the receipt is stale."""

    async def ack_many(self, messages: Sequence[QueueMessage]) -> list[bool]:
        """:meth:`ack` for each message; per message, in order, False where its receipt was stale.

        One transaction where the adapter can (local); this default runs concurrent acks (Azure Queue has no
        batch delete). A storage failure raises.
        """
        done = await asyncio.gather(*(self.ack(message) for message in messages), return_exceptions=True)
        acked: list[bool] = []
        for outcome in done:
            if isinstance(outcome, LeaseLost):
                acked.append(False)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                acked.append(True)
        return acked

    @abstractmethod
    async def release(self, message: QueueMessage, *, delay: float = 0.0) -> None:
        """Make the message visible again after ``delay`` seconds. Raises :class:`LeaseLost` if stale."""

    @abstractmethod
    async def dead_letter(self, message: QueueMessage, reason: str) -> None:
        """Move the message to the poison queue (copy, then delete). Raises :class:`LeaseLost` if stale."""

    @abstractmethod
    async def length(self) -> int:
        """Approximate number of messages in the queue (visible or leased)."""

    @abstractmethod
    async def poison_length(self) -> int:
        """Approximate number of messages in the poison queue."""

    @abstractmethod
    async def poison_messages(self, limit: int = 32) -> list[PoisonMessage]:
        """The oldest poison messages (up to ``limit``, oldest first), without consuming or hiding them.

        ``limit`` is capped at :data:`POISON_PEEK_LIMIT` (32, the most Azure Queue lets one peek see);
        :meth:`poison_length` gives the total.
        """

    @abstractmethod
    async def requeue_poison(self, job_id: str) -> bool:
        """Send ``job_id`` back to this queue and delete its poison message(s); False if it had none.

        The send happens before the delete, so a failure in between leaves a poison copy behind (harmless:
        nothing consumes the poison queue), never a lost job. Not atomic across processes: callers make sure
        one operator action requeues a job once.
        """

    @abstractmethod
    async def purge_poison(self) -> int:
        """Delete every poison message; return how many there were (approximate on Azure)."""

    @abstractmethod
    async def check(self) -> None:
        """Cheap health probe. Raises :class:`StorageUnavailable` when the queue is not usable."""

    async def wait_for_work(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, returning early if the adapter learns that work may have arrived.

        The default just sleeps; adapters with a free wake-up signal (in-process, or a file the local backend
        touches on send) return early, so an idle worker polls rarely yet picks up new work at once.
        """
        import asyncio

        await asyncio.sleep(timeout)

    async def close(self) -> None:
        """Release connections. Idempotent."""


class BlobStore(ABC):
    """Private storage for job outputs, readable by clients only through expiring signed links."""

    @abstractmethod
    async def put(self, name: str, data: bytes, *, content_type: str, filename: str) -> None:
        """Store ``data`` under ``name``, overwriting. Idempotent."""

    async def put_stream(
        self, name: str, chunks: AsyncIterable[bytes], *, content_type: str, filename: str
    ) -> int:
        """Store what ``chunks`` yields under ``name`` while it arrives; return the number of bytes stored.

        All or nothing: the blob appears (or replaces the old one) only once the last chunk is stored. If
        ``chunks`` raises (a size limit hit, a client gone), that exception propagates, nothing new is visible
        under ``name`` and no partial data is left behind. Adapters override this to stream with memory bounded
        by a chunk; this default spools to a temporary file and hands the whole blob to :meth:`put` at the end,
        so an adapter that does not override it still works (with the blob once in memory).
        """
        with tempfile.TemporaryFile() as spool:
            size = 0
            async for chunk in chunks:
                await asyncio.to_thread(spool.write, chunk)
                size += len(chunk)
            await asyncio.to_thread(spool.seek, 0)
            data = await asyncio.to_thread(spool.read)
        await self.put(name, data, content_type=content_type, filename=filename)
        return size

    @abstractmethod
    async def open(self, name: str) -> bytes:
        """Return the stored bytes. Raises :class:`BlobNotFound`."""

    async def open_stream(self, name: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        """Yield the stored bytes in chunks of about ``chunk_size`` (memory stays bounded by one chunk).

        Raises :class:`BlobNotFound` before yielding anything. The default reads the whole blob with
        :meth:`open`; adapters override it to read as they go.
        """
        data = await self.open(name)
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]

    @abstractmethod
    async def exists(self, name: str) -> bool:
        """Whether a blob is stored under ``name``."""

    @abstractmethod
    async def signed_url(
        self, name: str, *, expires_in: timedelta, filename: str, content_type: str
    ) -> SignedUrl:
        """Mint a fresh read-only link to ``name`` that stops working after ``expires_in``.

        Downloading through it yields ``content_type`` and a Content-Disposition naming ``filename``.
        """

    @abstractmethod
    async def delete(self, name: str) -> None:
        """Remove the blob. Idempotent."""

    @abstractmethod
    async def check(self) -> None:
        """Cheap health probe. Raises :class:`StorageUnavailable` when blob storage is not usable."""

    def routes(self) -> list[Any]:
        """FastAPI routers the API must mount for this store's links to work (the API adds its read rate limit).

        Stores whose links point at the storage service itself (Azure SAS, S3 presigned) need none.
        """
        return []

    async def close(self) -> None:
        """Release connections. Idempotent."""


@dataclass(frozen=True)
class RateDecision:
    """The answer of :meth:`RateLimiter.hit`: whether the request may proceed, and when to retry if not."""

    allowed: bool
    retry_after: int  # whole seconds until the window resets (0 when allowed)
    count: int  # hits counted in the current window, including this one


class RateLimiter(ABC):
    """Fixed-window counters shared by every process on the same storage (so replicas share one count)."""

    @abstractmethod
    async def hit(self, key: str, window_seconds: int, limit: int) -> RateDecision:
        """Count one hit on ``key`` in the current ``window_seconds`` window (aligned to the epoch, wall clock).

        Allowed while the window's count, this hit included, is at most ``limit``; a refused hit need not be
        stored. Exactly ``limit`` of N concurrent hits on a fresh window are allowed, whichever process makes
        them. ``key`` is any text (adapters hash or escape it). Raises :class:`StorageUnavailable`.
        """

    async def close(self) -> None:
        """Release connections. Idempotent."""
