"""The one metering API: ``meter.record(tenant, service, jobs_done=1, ...)`` wherever something is used.

Counting is a dict update in memory (no I/O on the hot path); :meth:`Meter.flush` writes every bucket that
changed since the last flush, once, and runs every :data:`FLUSH_SECONDS` while the process serves and once at
shutdown. When job events are published on ``app.events``, the calls move into subscribers unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from datetime import UTC, datetime, timedelta

from praisonai_svc.errors import StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import RecordStore
from praisonai_svc.usage.buckets import DAY_RETENTION, HOUR_RETENTION, BucketKey, day_of, hour_of, tenant_label
from praisonai_svc.usage.counts import UsageCounts

FLUSH_SECONDS = 5.0
log = get_logger("usage")


def instance_id() -> str:
    """This process, unique across replicas and restarts (a restarted process starts new buckets)."""
    host = "".join(c if c.isalnum() or c == "-" else "-" for c in socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}-{os.urandom(3).hex()}"


class Meter:
    """Per-process usage counters, flushed in batches to the record store."""

    def __init__(self, records: RecordStore, *, enabled: bool = True, instance: str | None = None,
                 retention: tuple[timedelta, timedelta] = (HOUR_RETENTION, DAY_RETENTION)) -> None:
        self.records = records
        self.enabled = enabled
        self.retention = retention  # (hourly, daily) records' lives: the PRAISONAI_USAGE_*_RETENTION settings
        self.instance = instance or instance_id()
        self._totals: dict[BucketKey, UsageCounts] = {}
        self._dirty: set[BucketKey] = set()
        self._keys: dict[tuple[int, str | None, str], tuple[BucketKey, BucketKey]] = {}
        self._lock = asyncio.Lock()

    def record(
        self, tenant: str | None, service: str, *, at: datetime | None = None, jobs_submitted: int = 0,
        jobs_done: int = 0, jobs_failed: int = 0, handler_seconds: float = 0.0, bytes_in: int = 0,
        bytes_out: int = 0, storage_requests: int = 0,
    ) -> None:
        """Count usage now (no I/O), in the hour and day of ``at`` (default: now).

        On the submission hot path: the bucket keys of an (hour, tenant, service) are made once and reused.
        """
        if not self.enabled:
            return
        hour = int((at.timestamp() if at is not None else time.time()) // 3600)
        keys = self._keys.get((hour, tenant, service))
        if keys is None:
            keys = self._bucket_keys(hour, tenant, service)
        for key in keys:
            counts = self._totals.get(key)
            if counts is None:
                counts = self._totals[key] = UsageCounts()
            counts.jobs_submitted += jobs_submitted
            counts.jobs_done += jobs_done
            counts.jobs_failed += jobs_failed
            counts.handler_seconds += handler_seconds
            counts.bytes_in += bytes_in
            counts.bytes_out += bytes_out
            counts.storage_requests += storage_requests
            self._dirty.add(key)

    def _bucket_keys(self, hour: int, tenant: str | None, service: str) -> tuple[BucketKey, BucketKey]:
        if len(self._keys) > 4096:  # bounded: an hour's worth of tenants and services, then start again
            self._keys.clear()
        moment = datetime.fromtimestamp(hour * 3600, UTC)
        label = tenant_label(tenant)
        keys = (BucketKey(hour_of(moment), label, service), BucketKey(day_of(moment), label, service))
        self._keys[(hour, tenant, service)] = keys
        return keys

    def unflushed(self, key: BucketKey) -> UsageCounts:
        """What this process counted in ``key`` (flushed or not): lets a reader include its own newest counts."""
        return self._totals.get(key, UsageCounts())

    async def flush(self) -> int:
        """Write every changed bucket (one upsert each); return how many. Failed writes stay dirty."""
        async with self._lock:
            dirty, self._dirty = self._dirty, set()
            written = 0
            for key in dirty:
                try:
                    await self.records.replace(key.record(self._totals[key], self.instance, self.retention))
                    written += 1
                except StorageError as exc:
                    self._dirty.add(key)
                    log.warning("usage flush failed; will retry", extra={"error": str(exc)})
            self._forget_old()
            return written

    def _forget_old(self) -> None:
        """Drop flushed buckets of past days (their records are complete), so memory stays bounded."""
        today = day_of(utcnow())
        for key in [k for k in self._totals if k.period[:8] < today and k not in self._dirty]:
            del self._totals[key]

    async def run(self, interval: float = FLUSH_SECONDS) -> None:
        """Flush every ``interval`` seconds until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(interval)
                await self.flush()
        finally:
            with contextlib.suppress(StorageError):
                await asyncio.shield(self.flush())
