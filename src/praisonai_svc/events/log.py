"""The durable job event log, in the record store, readable from every process on the same backend.

Two kinds of records (DESIGN.md §8: no adapter code of its own):

* ``job_events`` — one record per job (id = job id) holding its newest :data:`RING_SIZE` events and its last
  ``seq``. Appending is a conditional write of that record, which is what numbers events without gaps or
  duplicates whichever process appends (API for cancel, worker for the rest). Replay (``Last-Event-ID``, a new
  stream, long-poll) is one point read.
* ``job_feed`` — small records whose id starts with the writer's clock in hex nanoseconds, so that listing ids
  from "a few seconds ago" returns every job's recent events in one range scan. The events one process appends
  in the same turn of its event loop, or while its previous feed write is in flight, share one feed record
  (``{"events": [...]}``, at most :data:`FEED_BATCH_EVENTS`): a worker finishing 32 jobs at once writes one,
  not 32. Where requests are costly (Azure: ``Backend.batch_write_gap``) feed writes also start at least that
  far apart, so that each record gathers more events. Each API process reads the
  feed once per tick (:mod:`~praisonai_svc.events.watcher`): the cost grows with events, not with watchers.

Both expire no later than their job (its creation + its service's job retention), so a short job retention
does not leave event logs behind for PRAISONAI_EVENTS_RETENTION_HOURS; ``job_feed`` records live at most
:data:`FEED_RETENTION`, long enough for every watcher's look-back.

Cost per event: the ring write (1 request; the writer keeps the record's ETag, so no read unless another process
wrote in between), and a share of one feed create (at most one in flight per writer) and of its later delete by
the pruner.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from praisonai_svc.errors import ConcurrencyConflict, RecordExists, StorageError
from praisonai_svc.events.bus import Event, EventBus
from praisonai_svc.events.job_events import TERMINAL_TYPES, JobEvent
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import JobStatus, utcnow
from praisonai_svc.records import Record, RecordStore

RING_KIND = "job_events"
FEED_KIND = "job_feed"
RING_SIZE = 200
FEED_RETENTION = timedelta(hours=1)
FEED_BATCH_EVENTS = 64  # events per feed record at most (records hold 256 KiB; a progress message is short)
_CACHE_SIZE = 256  # rings kept per process: enough for every job a worker runs at once
_IMPLIED_CACHE_SIZE = 4096  # running jobs whose started event went to the feed only (a few hundred bytes each)
_WRITE_ATTEMPTS = 20
log = get_logger("events")


_FEED_WRITES: set[asyncio.Future[None]] = set()  # feed writes in flight (kept referenced until they end)


def feed_cursor(since_ns: int) -> str:
    """The ``job_feed`` list cursor that starts at wall-clock time ``since_ns`` (ns since the epoch)."""
    return f"{max(since_ns, 0):016x}"


class EventLog:
    """Numbers, stores and reads job events (see the module docstring for the storage layout)."""

    def __init__(self, records: RecordStore, *, retention: timedelta = timedelta(hours=24),
                 job_retention: Callable[[str], timedelta] | None = None,
                 clock_ns: Callable[[], int] = time.time_ns, feed_gap: float = 0.0) -> None:
        self.records = records
        self.retention = retention
        self._job_retention = job_retention  # service -> how long its terminal jobs are kept
        self._clock_ns = clock_ns
        self._rings: OrderedDict[str, Record] = OrderedDict()  # the newest ring this process wrote, per job
        # Events this process published to the feed only (implied by the job record), per job without a ring
        self._implied: OrderedDict[str, list[JobEvent]] = OrderedDict()
        self._feed_batch: list[tuple[JobEvent, datetime]] = []  # events of this loop turn, not yet in a feed record
        self._feed_done: asyncio.Future[None] | None = None  # the open batch's, until its write starts
        self._feed_last: asyncio.Future[None] | None = None  # the newest batch's: the next one waits for it
        self._feed_gap = feed_gap  # seconds from one feed write's start to the next one's, at least
        self._feed_started = 0.0  # loop time the last feed write started

    # --- writing --------------------------------------------------------------------------------------------
    async def append(self, data: dict[str, Any], tenant: str | None = None) -> JobEvent | None:
        """Number and store one event (``data`` as :func:`~.job_events.event_data` makes it); return it.

        Returns None when the job's log already ends with a terminal event and this one is terminal too (a
        job ends once, whoever notices first). Raises StorageError when storage fails.
        """
        return (await self.append_many([data], tenant))[0]

    async def append_many(self, datas: list[dict[str, Any]], tenant: str | None = None) -> list[JobEvent | None]:
        """Number and store several events of one job in one write (a job's deferred ``started`` with the
        event that followed it); one result per event, as :meth:`append` returns it."""
        job_id = str(datas[0]["job_id"])
        if any(str(data["job_id"]) != job_id for data in datas):
            raise ValueError("append_many takes the events of one job")
        queued_at = datas[0].get("queued_at")
        datas = [{key: value for key, value in data.items() if key != "queued_at"} for data in datas]
        # ``queued`` is published on submission: event 1 of every job, written with the job's next event, so
        # that POST /jobs (the hot path) costs no storage request for it.
        results: list[JobEvent | None] = [
            JobEvent.model_validate(self._queued(job_id, queued_at)) if data["type"] == "queued" else None
            for data in datas]
        todo = [index for index, data in enumerate(datas) if data["type"] != "queued"]
        if not todo:
            return results
        expires = self._expiry(datas[todo[0]], queued_at)
        prior = self._implied.get(job_id, [])
        news = [datas[index] for index in todo]
        if job_id not in self._rings and _still_implied(prior, news):
            implied = await self._append_implied(job_id, prior, news, expires)
            if implied is not None:
                for index, event in zip(todo, implied, strict=True):
                    results[index] = event
                return results
        written = await self._append_ring(job_id, datas, todo, prior, queued_at, tenant, expires)
        for index, event in written:
            results[index] = event
        return results

    async def _append_ring(self, job_id: str, datas: list[dict[str, Any]], todo: list[int], prior: list[JobEvent],
                           queued_at: Any, tenant: str | None, expires: datetime) -> list[tuple[int, JobEvent]]:
        """Append ``datas[todo]`` to the job's event log (created with ``prior`` when new); (index, event) of
        those written."""
        # A job's first attempt starts its log: nobody else has written it yet (the API writes only for cancels
        # of queued jobs, which never start), so create it without reading first; a conflict reads and retries.
        # Events this process published as implied come first, with the seqs they were published with.
        first = datas[todo[0]]
        fresh = bool(prior) or (first["type"] == "started" and first.get("attempt") == 1)
        for _ in range(_WRITE_ATTEMPTS):
            ring = self._rings.get(job_id)
            if ring is None and not fresh:
                ring = await self.records.find(RING_KIND, job_id)
            seeded = prior if fresh and ring is None else []
            fresh = False
            events = (list(ring.body["events"]) if ring is not None else
                      [self._queued(job_id, queued_at), *(e.model_dump(mode="json", exclude_none=True)
                                                           for e in seeded)])
            # A new log whose job had started before, in a process that published nothing of it as implied (a
            # worker killed mid-job, the reaper, another API): its first attempt may have published an implied
            # ``started`` as seq 2 to the feed, so numbering goes on from 3 (readers take a gap in a log in their
            # stride; two different events with one seq they could not tell apart).
            reserved = 1 if ring is None and not seeded and _may_follow_implied(first) else 0
            last = int(ring.body["seq"]) if ring is not None else 1 + len(seeded) + reserved
            written = _number(events, last, [(index, datas[index]) for index in todo])
            if not written:
                return []
            last = written[-1][1].seq
            record = Record(RING_KIND, job_id, {"seq": last, "tenant": tenant, "events": events[-RING_SIZE:]},
                            expires_utc=expires)
            try:
                stored = await (self.records.create(record) if ring is None
                                else self.records.replace(record.evolve(etag=ring.etag)))
            except (ConcurrencyConflict, RecordExists):
                self._rings.pop(job_id, None)  # another process wrote: read its version and try again
                continue
            self._implied.pop(job_id, None)
            self._remember(stored, written[-1][1])
            await self._feed([event for _, event in written], expires)
            return written
        raise ConcurrencyConflict(f"job {job_id}: its event log kept changing under us.")

    async def _append_implied(self, job_id: str, prior: list[JobEvent], news: list[dict[str, Any]],
                              expires: datetime) -> list[JobEvent] | None:
        """Number ``news`` after ``prior`` and write them to the feed only; None if the feed write failed (then
        the job's log must hold them after all)."""
        implied = [JobEvent.model_validate({**data, "seq": seq}) for seq, data in enumerate(news, 2 + len(prior))]
        try:
            await self._feed(implied, expires)
        except StorageError as exc:
            log.warning("event feed write failed; writing the job's event log", extra={"error": str(exc)})
            return None
        self._imply(job_id, [*prior, *implied])
        return implied

    def _expiry(self, data: dict[str, Any], queued_at: Any) -> datetime:
        """Now + the events retention, but no later than the job itself expires."""
        expires = utcnow() + self.retention
        service = data.get("service")
        if self._job_retention is not None and isinstance(service, str) and isinstance(queued_at, str):
            with contextlib.suppress(ValueError, TypeError):  # an unreadable time keeps the default
                expires = min(expires, datetime.fromisoformat(queued_at) + self._job_retention(service))
        return expires

    def _queued(self, job_id: str, queued_at: Any) -> dict[str, Any]:
        at = queued_at or utcnow().isoformat()
        return {"job_id": job_id, "seq": 1, "type": "queued", "status": JobStatus.QUEUED.value, "at": at}

    def _remember(self, ring: Record, event: JobEvent) -> None:
        self._rings.pop(ring.id, None)
        if event.is_terminal:
            return
        self._rings[ring.id] = ring
        while len(self._rings) > _CACHE_SIZE:
            self._rings.popitem(last=False)

    def _imply(self, job_id: str, events: list[JobEvent]) -> None:
        self._implied.pop(job_id, None)
        if events[-1].is_terminal:
            return
        self._implied[job_id] = events
        while len(self._implied) > _IMPLIED_CACHE_SIZE:
            self._implied.popitem(last=False)

    async def _feed(self, events: list[JobEvent], ring_expires: datetime) -> None:
        """Add ``events`` to this loop turn's feed record; returns once that record is stored."""
        if self._feed_done is None or len(self._feed_batch) >= FEED_BATCH_EVENTS:
            loop = asyncio.get_running_loop()
            self._feed_batch, self._feed_done = [], loop.create_future()
            batch, done, previous = self._feed_batch, self._feed_done, self._feed_last
            self._feed_last = done
            if previous is None or previous.done():
                self._write_feed_after_gap(batch, done)
            else:  # one feed write at a time: what arrives meanwhile shares the next record
                previous.add_done_callback(lambda _: self._write_feed_after_gap(batch, done))
        self._feed_batch.extend((event, ring_expires) for event in events)
        await asyncio.shield(self._feed_done)  # a cancelled appender does not cancel the others' write

    def _write_feed_after_gap(self, batch: list[tuple[JobEvent, datetime]], done: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        wait = self._feed_started + self._feed_gap - loop.time()
        if wait > 0:
            loop.call_later(wait, self._write_feed, batch, done)
        else:
            loop.call_soon(self._write_feed, batch, done)

    def _write_feed(self, batch: list[tuple[JobEvent, datetime]], done: asyncio.Future[None]) -> None:
        self._feed_started = asyncio.get_running_loop().time()
        if self._feed_done is done:
            self._feed_done = None  # events appended from now on go to the next record
        first = batch[0][0]
        record_id = f"{self._clock_ns():016x}{first.job_id}{first.seq:08d}{uuid.uuid4().hex[:8]}"
        body = {"events": [event.model_dump(mode="json", exclude_none=True) for event, _ in batch]}
        expires = min([utcnow() + FEED_RETENTION, *(ring_expires for _, ring_expires in batch)])

        async def write() -> None:
            try:
                await self.records.create(Record(FEED_KIND, record_id, body, expires_utc=expires))
            except BaseException as exc:
                if not done.done():
                    done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                if not done.done():
                    done.set_result(None)

        task = asyncio.ensure_future(write())
        _FEED_WRITES.add(task)
        task.add_done_callback(_FEED_WRITES.discard)

    # --- reading --------------------------------------------------------------------------------------------
    async def history(self, job_id: str) -> list[JobEvent]:
        """The job's stored events, oldest first (the newest RING_SIZE); empty when none was written yet."""
        ring = await self.records.find(RING_KIND, job_id)
        if ring is None:
            return []
        return [JobEvent.model_validate(item) for item in ring.body["events"]]

    async def recent(self, since_ns: int, *, max_pages: int = 10) -> list[JobEvent]:
        """Every job's events written since ``since_ns`` by the writers' clocks (feed order, not seq order)."""
        events, _ = await self.read_feed(feed_cursor(since_ns), max_pages=max_pages)
        return events

    async def read_feed(self, cursor: str, *, max_pages: int = 10) -> tuple[list[JobEvent], str | None]:
        """The feed's events after ``cursor`` (a feed id, or :func:`feed_cursor` of a time), and the last id read
        (None when there was nothing)."""
        found: list[JobEvent] = []
        last: str | None = None
        next_cursor: str | None = cursor
        for _ in range(max_pages):
            page = await self.records.list(FEED_KIND, limit=1000, cursor=next_cursor)
            for record in page.records:
                items = record.body.get("events")
                found.extend(JobEvent.model_validate(item) for item in (items if isinstance(items, list)
                                                                        else [record.body]))  # one-event records too
            if page.records:
                last = page.records[-1].id
            next_cursor = page.next_cursor
            if next_cursor is None:
                break
        return found, last


def _still_implied(prior: list[JobEvent], news: list[dict[str, Any]]) -> bool:
    """Whether a job's events so far (``prior``, published as implied) plus ``news`` are still what its record
    implies (:func:`~.job_events.implied_events`): a first attempt's ``started``, then at most its ending.

    Such events go to the feed only: a job that neither reports progress nor retries costs no event-log write
    of its own. A reader that finds no log takes the implied events from the record (api/live.py). The first
    other event (progress, retrying) creates the log, holding the implied events with the seqs they had."""
    types = [event.type for event in prior] + [str(data["type"]) for data in news]
    first_attempt = prior[0].attempt if prior else news[0].get("attempt")
    return (types[0] == "started" and first_attempt == 1 and len(types) <= 2
            and all(type_ in TERMINAL_TYPES for type_ in types[1:]))


def _may_follow_implied(first: dict[str, Any]) -> bool:
    """Whether a job whose first event to be written is ``first`` may already have had an implied ``started``
    published: it has started (it has an attempt) and ``first`` is not that very first ``started``."""
    attempt = first.get("attempt")
    return bool(attempt) and not (first["type"] == "started" and attempt == 1)


def _number(events: list[dict[str, Any]], last: int, datas: list[tuple[int, dict[str, Any]]],
            ) -> list[tuple[int, JobEvent]]:
    """Number ``datas`` after seq ``last`` and append them to ``events`` (a ring's list); a terminal event after
    a terminal one is dropped (a job ends once). Returns (index, event) of those kept."""
    written: list[tuple[int, JobEvent]] = []
    for index, data in datas:
        if events and events[-1]["type"] in TERMINAL_TYPES and data["type"] in TERMINAL_TYPES:
            continue
        last += 1
        event = JobEvent.model_validate({**data, "seq": last})
        events.append(event.model_dump(mode="json", exclude_none=True))
        written.append((index, event))
    return written


def install_event_log(bus: EventBus, event_log: EventLog) -> Callable[[], None]:
    """Store every ``job.*`` event published on ``bus`` in ``event_log``; returns the unsubscribe function.

    The events of one :meth:`~EventBus.publish_many` (one job's) are stored in one write. ``job.queued`` is not
    subscribed to: a job's record implies it, and the log writes it with the job's next event."""

    async def record(events: list[Event]) -> None:
        by_job: dict[str, list[Event]] = {}
        for event in events:
            by_job.setdefault(event.subject, []).append(event)
        for of_job in by_job.values():
            await event_log.append_many([event.data for event in of_job], of_job[0].tenant)

    return bus.subscribe_batches("job.*", record, ignore=("job.queued",))


def since(seconds_ago: float, clock_ns: Callable[[], int] = time.time_ns) -> int:
    """Wall-clock ns ``seconds_ago`` seconds ago (for :meth:`EventLog.recent`)."""
    return clock_ns() - int(seconds_ago * 1e9)
