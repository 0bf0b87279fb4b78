"""One watcher per API process: every stream, WebSocket and long-poll of that process is fed by it.

Each tick it lists the event feed once (one range scan whatever the number of watched jobs) and hands each new
event to the subscriptions of its job. Most ticks read only what follows the newest feed record seen; once every
:data:`FULL_READ_SECONDS` a tick reads the whole look-back window again, for records that a slow writer (or one
whose clock is behind) added below that point. A subscription that sees a gap
in ``seq`` (an event older than the look-back window, or one whose feed record was never written) gets the job's
ring read, once per job and tick, batched. A job whose stream has been quiet for :data:`SWEEP_SECONDS` gets the
same read as a safety net. So storage reads grow with the jobs that change, not with clients: 1,000 clients of
one job cost what one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

from praisonai_svc.errors import StorageError
from praisonai_svc.events.job_events import ENDING_OF, JobEvent, event_data
from praisonai_svc.events.log import EventLog, feed_cursor, since
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import Job

SWEEP_SECONDS = 10.0
FULL_READ_SECONDS = 1.0
BACKLOG_LIMIT = 256  # events a slow client may fall behind by before its progress events are coalesced
log = get_logger("events")


class Subscription:
    """The events of one job for one client, in ``seq`` order, starting after ``last_seq``."""

    def __init__(self, job_id: str, last_seq: int) -> None:
        self.job_id = job_id
        self.last_seq = last_seq
        self.gap = False
        self.ended = False
        self.logged = False  # the job had an event log when subscribed (a short finished job may have none)
        self._pending: list[JobEvent] = []
        self._wake = asyncio.Event()
        self.touched = time.monotonic()

    def offer(self, events: list[JobEvent]) -> None:
        """Take the events that come next (in seq order); note a gap when one is missing."""
        for event in sorted(events, key=lambda e: e.seq):
            if event.seq <= self.last_seq or self.ended:
                continue
            if event.seq != self.last_seq + 1 and not self.gap:
                self.gap = True  # wait for the ring read, which has every event in order
                continue
            if event.seq != self.last_seq + 1:
                continue
            self._push(event)

    def fill(self, events: list[JobEvent]) -> None:
        """Events from the ring (complete, in order): deliver whatever follows last_seq, trimmed history included."""
        self.gap = False
        for event in events:
            if event.seq > self.last_seq and not self.ended:
                self._push(event)

    def _push(self, event: JobEvent) -> None:
        self.last_seq = event.seq
        self.touched = time.monotonic()
        if (len(self._pending) >= BACKLOG_LIMIT and event.type == "progress" and self._pending
                and self._pending[-1].type == "progress"):
            self._pending[-1] = event  # a slow client gets the newest progress, not every one
        else:
            self._pending.append(event)
        self.ended = event.is_terminal
        self._wake.set()

    async def next_batch(self, timeout: float | None = None) -> list[JobEvent]:
        """The events delivered since the last call ([] after ``timeout`` seconds without any)."""
        if not self._pending:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        batch, self._pending = self._pending, []
        return batch

    async def __aiter__(self) -> AsyncIterator[JobEvent]:
        while True:
            for event in await self.next_batch():
                yield event
                if event.is_terminal:
                    return


class EventWatcher:
    """Feeds :class:`Subscription` objects from the event log (see the module docstring)."""

    def __init__(self, event_log: EventLog, *, interval: float = 0.1, lookback: float = 3.0,
                 autostart: bool = True, on_read: Callable[[int], None] | None = None) -> None:
        self.log = event_log
        self._on_read = on_read
        self.autostart = autostart  # False: the caller drives tick() itself (tests, benchmarks)
        self.interval = interval
        self.lookback = lookback
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._active = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reads = 0  # storage reads made (feed pages and ring reads), also counted on /metrics
        self._high: str | None = None  # the newest feed id seen
        self._last_full = 0.0

    @property
    def watched_jobs(self) -> int:
        return len(self._subs)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def subscribe(self, job_id: str, after_seq: int | None = 0) -> Subscription:
        """A subscription to ``job_id`` from ``after_seq`` on (None: only events from now on), filled at once
        from the job's ring."""
        if self.autostart:
            self.start()
        sub = Subscription(job_id, after_seq or 0)
        self._subs[job_id].add(sub)
        self._active.set()
        try:
            history = await self.log.history(job_id)  # after registering, so nothing falls in between
        except BaseException:
            self.unsubscribe(sub)
            raise
        self._count(1)
        sub.logged = bool(history)
        if after_seq is None:
            sub.last_seq = history[-1].seq if history else 0
        else:
            sub.fill(history)
        return sub

    async def heal(self, job: Job) -> None:
        """The job has ended but its log does not say so (its writer died in between): append the ending."""
        await self.log.append(event_data(job, ENDING_OF.get(job.status, "error")), job.tenant)
        await self._fill([job.job_id])

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.job_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.job_id]

    def _count(self, reads: int) -> None:
        self.reads += reads
        if self._on_read is not None:
            self._on_read(reads)

    async def _run(self) -> None:
        while True:
            if not self._subs:
                self._active.clear()
                await self._active.wait()
            started = time.monotonic()
            try:
                await self.tick()
            except StorageError as exc:
                log.warning("event feed read failed; retrying", extra={"error": str(exc)})
            await asyncio.sleep(max(self.interval - (time.monotonic() - started), 0.005))

    async def tick(self) -> None:
        """One round: read the feed, hand out its events, then read the rings of jobs with gaps or gone quiet."""
        now = time.monotonic()
        full = self._high is None or now - self._last_full >= FULL_READ_SECONDS
        cursor = feed_cursor(since(self.lookback)) if full else self._high
        assert cursor is not None
        events, last = await self.log.read_feed(cursor)
        self._count(1)
        if full:
            self._last_full = now
        if last is not None and (self._high is None or last > self._high):
            self._high = last
        by_job: dict[str, list[JobEvent]] = defaultdict(list)
        for event in events:
            if event.job_id in self._subs:
                by_job[event.job_id].append(event)
        for job_id, job_events in by_job.items():
            for sub in list(self._subs.get(job_id, ())):
                sub.offer(job_events)
        now = time.monotonic()  # after the read: it may have taken a while
        stale = [job_id for job_id, subs in self._subs.items()
                 if any(sub.gap or now - sub.touched > SWEEP_SECONDS for sub in subs)]
        if stale:
            await self._fill(stale)

    async def _fill(self, job_ids: list[str]) -> None:
        histories = await asyncio.gather(*(self.log.history(job_id) for job_id in job_ids), return_exceptions=True)
        self._count(len(job_ids))
        for job_id, history in zip(job_ids, histories, strict=True):
            if isinstance(history, BaseException):
                continue
            for sub in list(self._subs.get(job_id, ())):
                sub.touched = time.monotonic()
                sub.fill(history)
