"""How a worker learns that one of its running jobs was cancelled, whichever API replica took the request.

``POST /jobs/{id}/cancel`` on a running job marks the job record and writes a ``job_cancel`` record whose id
starts with the time in hex nanoseconds. While it runs jobs, each worker process lists the ``job_cancel``
records of the last few seconds once per :attr:`CancelWatcher.interval` (one range scan for all its jobs) and
sets the cancel event of those it runs. A request the scan missed (a long storage outage) is still honoured
when the job's message is next received, from the job record's ``cancel_requested_utc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta

from praisonai_svc.errors import StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, RecordStore
from praisonai_svc.worker.execution import CancelSignal

CANCEL_KIND = "job_cancel"
LOOKBACK_SECONDS = 30.0
RETENTION = timedelta(hours=1)
log = get_logger("worker")


def cancel_record(job_id: str) -> Record:
    """The record POST /jobs/{id}/cancel writes for a running job."""
    return Record(CANCEL_KIND, f"{time.time_ns():016x}{job_id}", {"job_id": job_id},
                  expires_utc=utcnow() + RETENTION)


class CancelWatcher:
    """Cancel events of the jobs this process runs, set from ``job_cancel`` records (one scan per interval)."""

    def __init__(self, records: RecordStore, interval: float = 0.5) -> None:
        self.records = records
        self.interval = interval
        self._running: dict[str, CancelSignal] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[CancelSignal]:
        """The event that is set when ``job_id`` is cancelled, while the ``with`` block runs."""
        event = self._running.get(job_id)
        if event is None:
            event = self._running[job_id] = CancelSignal()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cancel-watcher")
        try:
            yield event
        finally:
            self._running.pop(job_id, None)

    async def _run(self) -> None:
        while self._running:
            try:
                await self.scan()
            except StorageError as exc:
                log.warning("cancel scan failed; retrying", extra={"error": str(exc)})
            await asyncio.sleep(self.interval)

    async def scan(self) -> None:
        cursor: str | None = f"{time.time_ns() - int(LOOKBACK_SECONDS * 1e9):016x}"
        while cursor is not None:
            page = await self.records.list(CANCEL_KIND, limit=1000, cursor=cursor)
            for record in page.records:
                event = self._running.get(str(record.body.get("job_id")))
                if event is not None and not event.is_set():
                    log.info("cancel requested", extra={"job_id": record.body.get("job_id")})
                    event.set()
            cursor = page.next_cursor
