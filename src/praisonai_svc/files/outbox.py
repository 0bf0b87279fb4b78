"""The files' outbox: file events that survive a crash between the change they announce and their delivery.

Every file event is appended to the file record's ``pending_events`` **by the write that makes it true** (the
upload's create, the extraction's final write, the delete), so no stored change lacks its event. The writer then
delivers it (:meth:`FileOutbox.deliver`): every subscriber on the bus, then, for an upload that asked for it, the
extraction's job; and only when all of that worked is the event removed from the record. A subscriber that
raised leaves it there (``failures`` counted; dropped with an error log after :data:`MAX_FAILURES`).

What a kill -9 (or a failing subscriber) leaves pending is delivered again by :meth:`FileOutbox.sweep`, which the
app registers as the ``files`` outbox (praisonai_svc.events.outbox): every API and worker process sweeps when it
starts, the elected pruner after each run, and an extraction job that finds its file already finished delivers
that file's pending events (the retry that follows a worker killed after the final write). The file record
carries an indexed ``outbox`` field while events are pending, so a sweep with nothing to do is one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from praisonai_svc.errors import StorageError
from praisonai_svc.files.errors import FileNotFound
from praisonai_svc.files.events import file_event
from praisonai_svc.files.extraction_queue import queue_extraction
from praisonai_svc.files.models import FileStatus, PendingEvent, StoredFile
from praisonai_svc.files.repository import FileRepository
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

MAX_FAILURES = 8  # deliveries a subscriber may fail before the event is dropped (logged as an error)
SWEEP_LIMIT = 500  # events one sweep delivers at most (the next sweep takes the rest)
OUTBOX_NAME = "files"
log = get_logger("files")


def pending(topic: str, at: datetime | None = None, *, extract: bool = False) -> PendingEvent:
    """A new pending event, to append to ``pending_events`` in the write that makes it true."""
    return PendingEvent(topic=topic, at=at or utcnow(), extract=extract)


def with_event(stored: StoredFile, event: PendingEvent) -> list[PendingEvent]:
    """``stored``'s pending events plus ``event`` (for a change's ``model_copy(update=...)``)."""
    return [*stored.pending_events, event]


@dataclass(frozen=True)
class Delivery:
    """How delivering one pending event went."""

    published: bool  # every subscriber handled it
    extraction_queued: bool  # the upload's extraction is queued (True when none was asked for)

    @property
    def complete(self) -> bool:
        return self.published and self.extraction_queued


class FileOutbox:
    def __init__(self, app: ServiceApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend
        self.repo = FileRepository(backend.records)

    async def deliver(self, stored: StoredFile, event: PendingEvent) -> Delivery:
        """Publish ``event`` of ``stored`` and do what it asks of files; remove it from the record when all worked.

        ``stored`` is the file as the write that recorded ``event`` (or a later read) returned it. Never raises
        for storage trouble: the event then stays pending, and a sweep delivers it again.
        """
        published = await self.app.events.deliver(file_event(event.topic, stored, at=event.at))
        queued = True
        if event.extract and stored.status is FileStatus.UPLOADED:
            try:
                await queue_extraction(self.app, self.backend, stored)
            except StorageError as exc:
                queued = False
                log.warning("extraction not queued; the outbox retries", extra={"file_id": stored.id,
                                                                                "error": str(exc)})
        delivery = Delivery(published, queued)
        try:
            if delivery.complete:
                await self.repo.change(stored.id, lambda current: _without(current, event), current=stored)
            else:
                await self.repo.change(stored.id, lambda current: _failed_once(current, event), current=stored)
        except FileNotFound:
            pass  # pruned meanwhile: its events went with it
        except StorageError as exc:
            log.warning("file event stays pending; a sweep delivers it again",
                        extra={"file_id": stored.id, "event": event.topic, "error": str(exc)})
        return delivery

    async def deliver_pending(self, stored: StoredFile, *, older_than: datetime | None = None) -> int:
        """Deliver every pending event of ``stored`` (those recorded before ``older_than``); how many."""
        due = [event for event in stored.pending_events if older_than is None or event.at <= older_than]
        for event in due:
            log.info("delivering a pending file event", extra={"file_id": stored.id, "event": event.topic,
                                                               "failures": event.failures})
            await self.deliver(stored, event)  # a stale etag after the first costs a re-read, nothing more
        return len(due)

    async def sweep(self, *, min_age: timedelta = timedelta(0), limit: int = SWEEP_LIMIT) -> int:
        """Deliver the pending events of every file (those at least ``min_age`` old); how many were delivered."""
        older_than = utcnow() - min_age
        delivered = 0
        cursor: str | None = None
        while delivered < limit:
            files, cursor = await self.repo.with_pending_events(cursor=cursor)
            for stored in files:
                delivered += await self.deliver_pending(stored, older_than=older_than)
            if cursor is None:
                break
        return delivered


def _without(current: StoredFile, event: PendingEvent) -> StoredFile | None:
    if not any(event.same(entry) for entry in current.pending_events):
        return None
    return current.model_copy(update={"pending_events": [e for e in current.pending_events if not event.same(e)]})


def _failed_once(current: StoredFile, event: PendingEvent) -> StoredFile | None:
    entries: list[PendingEvent] = []
    for entry in current.pending_events:
        if not event.same(entry):
            entries.append(entry)
        elif entry.failures + 1 < MAX_FAILURES:
            entries.append(entry.model_copy(update={"failures": entry.failures + 1}))
        else:
            log.error("file event dropped: its subscribers failed it every time",
                      extra={"file_id": current.id, "event": entry.topic, "failures": MAX_FAILURES})
    if entries == current.pending_events:
        return None
    return current.model_copy(update={"pending_events": entries})


def register_file_outbox(app: ServiceApp) -> None:
    """Make the files' pending events part of the app's outbox sweeps."""

    async def sweep(backend: Backend, min_age: timedelta) -> int:
        return await FileOutbox(app, backend).sweep(min_age=min_age)

    app.events.outboxes.register(OUTBOX_NAME, sweep)
