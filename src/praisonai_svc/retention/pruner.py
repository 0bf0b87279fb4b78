"""The pruner: removes terminal jobs past retention (outputs first) and expired records, in small batches.

It runs once per cluster (a ``runs_on="one"`` background service) every ``PRAISONAI_PRUNE_INTERVAL``, and once
from the CLI (``praisonai-svc prune``). Every step is idempotent, so a pruner killed mid-batch and started
again finishes the work without removing anything twice or leaving an orphan output:

1. a job's output blob is deleted (deleting a missing blob is a no-op);
2. then its row, list entry and hash claim (``JobStore.delete``, itself idempotent).

Small batches keep each write short: SQLite's write lock is held for one batch of deletes at a time, and an
Azure table sees at most ``batch`` deletes per run step. After each batch the pruner pauses three times as long
as the batch took (:data:`DUTY_CYCLE`), so a large backlog costs the service's own traffic little (measured by
bench/bench_retention.py [2]). When nothing is due a run costs one indexed read
per kind (SQLite) or one range query per kind (Azure).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConcurrencyConflict
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import Job, output_files, utcnow
from praisonai_svc.records import Record
from praisonai_svc.retention.policy import BeforeDelete, job_retention_of

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp

log = get_logger("retention")
DRY_RUN_LIMIT = 10_000
PARALLEL_DELETES = 32  # storage requests in flight at once (Azure); SQLite folds them into one transaction
BATCH_PAUSE = 0.05  # the shortest pause between two batches
DUTY_CYCLE = 0.25  # at most this share of wall time is spent in batches: after one, pause 3x as long as it took


async def pace(batch_started: float) -> None:
    """Pause after a batch so that pruning takes at most DUTY_CYCLE of the time: a long backlog is removed at a
    steady pace while the service's own writes (SQLite has one writer at a time) and requests go first."""
    took = time.monotonic() - batch_started
    await asyncio.sleep(max(BATCH_PAUSE, took * (1 / DUTY_CYCLE - 1)))


@dataclass
class PruneReport:
    """What one run removed (or, in a dry run, would remove): counts per kind and a few example ids."""

    dry_run: bool
    removed: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    outputs: int = 0

    def add(self, kind: str, record_id: str) -> None:
        self.removed[kind] = self.removed.get(kind, 0) + 1
        sample = self.examples.setdefault(kind, [])
        if len(sample) < 5:
            sample.append(record_id)

    @property
    def total(self) -> int:
        return sum(self.removed.values())


class Pruner:
    def __init__(self, app: ServiceApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend

    def job_retention(self, service: str, older_than: timedelta | None) -> timedelta:
        return older_than if older_than is not None else job_retention_of(self.app, service)

    def _shortest_retention(self, older_than: timedelta | None) -> timedelta:
        if older_than is not None:
            return older_than
        custom = [spec.retention for spec in self.app.services.values() if spec.retention is not None]
        return min([self.app.settings.job_retention, *custom])

    async def run_once(self, *, dry_run: bool = False, older_than: timedelta | None = None) -> PruneReport:
        """Remove everything past retention now (``older_than`` overrides every job retention)."""
        report = PruneReport(dry_run=dry_run)
        now = utcnow()
        await self._prune_jobs(report, now, older_than)
        for tracked in self.app.retention.kinds:
            await self._prune_records(report, tracked.kind, now, tracked.before_delete)
        if not dry_run and self.backend.compact is not None:
            await self.backend.compact(False)  # also when nothing was removed: the periodic WAL truncation
        for kind, count in report.removed.items():
            if not dry_run:
                self.app.metrics.pruned_records(kind, count)
        log.info("prune finished" if not dry_run else "prune dry run",
                 extra={"removed": report.removed, "outputs": report.outputs})
        return report

    async def _prune_jobs(self, report: PruneReport, now: datetime, older_than: timedelta | None) -> None:
        before = now - self._shortest_retention(older_than)
        batch = DRY_RUN_LIMIT if report.dry_run else self.app.settings.prune_batch_size
        while True:
            started = time.monotonic()
            jobs = await self.backend.jobs.prunable(before=before, limit=batch)
            due = [job for job in jobs if job.created_utc < now - self.job_retention(job.service, older_than)]
            if report.dry_run:
                for job in due:
                    report.add("job", job.job_id)
                    report.outputs += len(output_files(job))
                return
            removed = await self._remove_jobs(due, report)
            if len(jobs) < batch or not removed:
                return
            await pace(started)

    async def _remove_jobs(self, jobs: list[Job], report: PruneReport) -> int:
        """Outputs of the whole batch first, then the rows (concurrently: one group-committed transaction on
        SQLite, parallel entity-group transactions on Azure). A crash in between leaves rows without outputs,
        which the next run removes; never an output without a row."""
        limit = asyncio.Semaphore(PARALLEL_DELETES)

        async def bounded(work: Awaitable[None]) -> None:
            async with limit:
                await work

        outputs = [output.blob_name for job in jobs for output in output_files(job)]  # every file of each job
        await asyncio.gather(*(bounded(self.backend.blobs.delete(name)) for name in outputs))
        report.outputs += len(outputs)
        outcomes = await asyncio.gather(*(bounded(self.backend.jobs.delete(job.job_id)) for job in jobs),
                                        return_exceptions=True)
        removed = 0
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, ConcurrencyConflict):
                log.warning("job changed while being pruned; the next run retries", extra={"job_id": job.job_id})
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                report.add("job", job.job_id)
                removed += 1
        return removed

    async def _prune_records(
        self, report: PruneReport, kind: str, now: datetime, before_delete: BeforeDelete | None
    ) -> None:
        batch = DRY_RUN_LIMIT if report.dry_run else self.app.settings.prune_batch_size
        limit = asyncio.Semaphore(PARALLEL_DELETES)
        while True:
            started = time.monotonic()
            records = await self.backend.records.expired(kind, before=now, limit=batch)
            if report.dry_run:
                for record in records:
                    report.add(kind, record.id)
                return

            async def remove(record: Record) -> bool:
                async with limit:
                    return await self._remove_record(record, report, before_delete)

            removed = sum(await asyncio.gather(*(remove(record) for record in records)))
            if len(records) < batch or not removed:
                return
            await pace(started)

    async def _remove_record(self, record: Record, report: PruneReport, before_delete: BeforeDelete | None) -> bool:
        if before_delete is not None:  # what the record owns first: never an orphan blob
            await before_delete(record, self.backend)
        try:
            await self.backend.records.delete(record.kind, record.id, etag=record.etag)
        except ConcurrencyConflict:
            return False  # changed meanwhile (perhaps given a new expiry): looked at again next run
        report.add(record.kind, record.id)
        return True
