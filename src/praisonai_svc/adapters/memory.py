"""In-memory adapters: fast, process-local, with exactly the contracts of the real ones.

Shipped in the package (see :mod:`praisonai_svc.testing`) so that handler authors can test their services
without any storage.
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from praisonai_svc.adapters.cursor import decode_cursor, encode_cursor
from praisonai_svc.adapters.windows import current_window, decide
from praisonai_svc.errors import BlobNotFound, ConcurrencyConflict, JobNotFound, LeaseLost
from praisonai_svc.models.job import Job, JobStatus, utcnow
from praisonai_svc.ports import (
    POISON_PEEK_LIMIT,
    BlobStore,
    DuplicateJob,
    JobListing,
    JobQueue,
    JobStore,
    PoisonMessage,
    QueueMessage,
    RateDecision,
    RateLimiter,
    SignedUrl,
)


class MemoryJobStore(JobStore):
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._hashes: dict[str, str] = {}
        self._etags = itertools.count(1)

    def _stamp(self, job: Job) -> Job:
        stored = job.model_copy(update={"etag": str(next(self._etags))}, deep=True)
        self._jobs[job.job_id] = stored
        return stored.model_copy(deep=True)

    async def create(self, job: Job) -> Job:
        holder = self._jobs.get(self._hashes.get(job.payload_hash, ""))
        if holder is not None and not holder.status.releases_claim:
            raise DuplicateJob(holder.model_copy(deep=True))
        self._hashes[job.payload_hash] = job.job_id
        return self._stamp(job)

    async def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound()
        return job.model_copy(deep=True)

    async def update(self, job: Job) -> Job:
        current = self._jobs.get(job.job_id)
        if current is None:
            raise JobNotFound()
        if current.etag != job.etag:
            raise ConcurrencyConflict()
        return self._stamp(job.model_copy(
            update={"payload": current.payload, "payload_hash": current.payload_hash, "tenant": current.tenant}))

    async def delete(self, job_id: str) -> None:
        job = self._jobs.pop(job_id, None)
        if job is not None and self._hashes.get(job.payload_hash) == job_id:
            del self._hashes[job.payload_hash]

    async def find_by_hash(self, payload_hash: str) -> Job | None:
        job = self._jobs.get(self._hashes.get(payload_hash, ""))
        return job.model_copy(deep=True) if job else None

    async def list(
        self, *, service: str | None = None, status: JobStatus | None = None, limit: int = 50,
        cursor: str | None = None, tenant: str | None = None,
    ) -> JobListing:
        rows = sorted(self._jobs.values(), key=lambda j: (j.created_utc.isoformat(), j.job_id), reverse=True)
        if cursor:
            after = decode_cursor(cursor)
            rows = [j for j in rows if (j.created_utc.isoformat(), j.job_id) < after]
        rows = [j for j in rows if (service is None or j.service == service) and (status is None or j.status == status)
                and (tenant is None or j.tenant == tenant)]
        page = [j.model_copy(deep=True) for j in rows[:limit]]
        more = len(rows) > limit
        next_cursor = encode_cursor(page[-1].created_utc.isoformat(), page[-1].job_id) if more and page else None
        return JobListing(jobs=page, next_cursor=next_cursor)

    async def check(self) -> None:
        return None

    async def release_claim(self, payload_hash: str, job_id: str) -> None:
        if self._hashes.get(payload_hash) == job_id:
            del self._hashes[payload_hash]

    async def prunable(self, *, before: datetime, limit: int = 100) -> builtins.list[Job]:
        old = [job for job in self._jobs.values() if job.status.is_terminal and job.created_utc < before]
        old.sort(key=lambda job: (job.created_utc, job.job_id))
        return [job.model_copy(deep=True) for job in old[:limit]]


@dataclass
class _Stored:
    message_id: str
    job_id: str
    visible_at: float
    dequeue_count: int
    pop_receipt: str
    inserted_utc: object


class MemoryJobQueue(JobQueue):
    def __init__(self) -> None:
        self._messages: dict[str, _Stored] = {}
        self._poison: list[PoisonMessage] = []
        self._wakeup = asyncio.Event()

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def send(self, job_id: str, *, delay: float = 0.0) -> str:
        message_id = uuid.uuid4().hex
        self._messages[message_id] = _Stored(message_id, job_id, self._now() + delay, 0, "", utcnow())
        self._wakeup.set()
        return message_id

    async def receive(self, max_messages: int, visibility_timeout: float) -> list[QueueMessage]:
        self._wakeup.clear()  # a send after this point must wake the next wait_for_work
        now = self._now()
        visible = [m for m in self._messages.values() if m.visible_at <= now][:max_messages]
        out = []
        for stored in visible:
            stored.visible_at = now + visibility_timeout
            stored.dequeue_count += 1
            stored.pop_receipt = uuid.uuid4().hex
            out.append(self._public(stored))
        return out

    @staticmethod
    def _public(stored: _Stored) -> QueueMessage:
        return QueueMessage(
            stored.message_id, stored.job_id, stored.pop_receipt, stored.dequeue_count,
            stored.inserted_utc,  # type: ignore[arg-type]
        )

    def _leased(self, message: QueueMessage) -> _Stored:
        stored = self._messages.get(message.message_id)
        if stored is None or stored.pop_receipt != message.pop_receipt:
            raise LeaseLost()
        return stored

    async def renew(self, message: QueueMessage, visibility_timeout: float) -> QueueMessage:
        stored = self._leased(message)
        stored.visible_at = self._now() + visibility_timeout
        stored.pop_receipt = uuid.uuid4().hex
        return replace(message, pop_receipt=stored.pop_receipt)

    async def ack(self, message: QueueMessage) -> None:
        self._leased(message)
        del self._messages[message.message_id]

    async def release(self, message: QueueMessage, *, delay: float = 0.0) -> None:
        stored = self._leased(message)
        stored.visible_at = self._now() + delay
        stored.pop_receipt = uuid.uuid4().hex
        self._wakeup.set()

    async def dead_letter(self, message: QueueMessage, reason: str) -> None:
        self._leased(message)
        del self._messages[message.message_id]
        self._poison.append(PoisonMessage(message.job_id, reason, utcnow(), message.dequeue_count))

    async def length(self) -> int:
        return len(self._messages)

    async def poison_length(self) -> int:
        return len(self._poison)

    async def poison_messages(self, limit: int = 32) -> list[PoisonMessage]:
        return list(self._poison[:max(0, min(limit, POISON_PEEK_LIMIT))])

    async def requeue_poison(self, job_id: str) -> bool:
        if not any(entry.job_id == job_id for entry in self._poison):
            return False
        await self.send(job_id)
        self._poison = [entry for entry in self._poison if entry.job_id != job_id]
        return True

    async def purge_poison(self) -> int:
        count, self._poison = len(self._poison), []
        return count

    async def check(self) -> None:
        return None

    async def wait_for_work(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self._blobs: dict[str, tuple[bytes, str, str]] = {}

    async def put(self, name: str, data: bytes, *, content_type: str, filename: str) -> None:
        self._blobs[name] = (bytes(data), content_type, filename)

    async def open(self, name: str) -> bytes:
        if name not in self._blobs:
            raise BlobNotFound()
        return self._blobs[name][0]

    async def exists(self, name: str) -> bool:
        return name in self._blobs

    async def signed_url(
        self, name: str, *, expires_in: timedelta, filename: str, content_type: str
    ) -> SignedUrl:
        expires = utcnow() + expires_in
        return SignedUrl(url=f"memory://{name}?expires={int(expires.timestamp())}", expires_utc=expires)

    async def delete(self, name: str) -> None:
        self._blobs.pop(name, None)

    async def check(self) -> None:
        return None


class MemoryRateLimiter(RateLimiter):
    """Counters in a dict: shared by everything in this process (and only in it)."""

    _SWEEP_EVERY = 1024

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], tuple[int, int]] = {}  # (key, window) → (window start, count)
        self._hits = 0

    async def hit(self, key: str, window_seconds: int, limit: int) -> RateDecision:
        start, retry_after = current_window(window_seconds)
        slot = (key, window_seconds)
        stored_start, count = self._counts.get(slot, (start, 0))
        count = count + 1 if stored_start == start else 1
        self._counts[slot] = (start, count)
        self._hits += 1
        if self._hits % self._SWEEP_EVERY == 0:
            self._sweep()
        return decide(count, limit, retry_after)

    def _sweep(self) -> None:
        """Forget counters of windows that have ended, so memory stays bounded by the active clients."""
        now = time.time()
        self._counts = {
            slot: value for slot, value in self._counts.items() if value[0] + slot[1] > now
        }
