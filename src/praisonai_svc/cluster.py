"""The cluster partition: the few small records every process of a deployment watches, read in one request.

An idle process must cost at most a few storage requests a minute (issue 12), yet it has to follow several
things that other processes change: the desired state of each service, the leader lease, the heartbeats of its
peers and whether new jobs were submitted. They all live in one record kind, ``cluster`` (one Azure Table
partition, one range of the SQLite index), so that **one** ``list`` reads them all:

==================  ==================================================================================
id                  record
==================  ==================================================================================
``control:<svc>``   what operators asked of a service (:mod:`praisonai_svc.services.control`)
``lease:<name>``    the leader lease, with the leader's heartbeat in it (:mod:`praisonai_svc.services.leader`)
``instance:<id>``   a process's heartbeat (:mod:`praisonai_svc.services.heartbeat`)
``worker:<id>``     a busy worker's crash-recovery heartbeat (:mod:`praisonai_svc.worker.instances`)
``hint:<queue>``    a submit hint, the doorbell of one queue (:class:`SubmitHints`)
==================  ==================================================================================

Each process keeps one :class:`ClusterView` (``Backend.cluster``): the last listing and when it was read. Every
consumer asks it for a copy no older than it needs (:meth:`ClusterView.refresh`), so a worker's idle poll cycle,
its control-state check, its lease look and its dead-peer sweep share one request. The partition holds one
record per process plus a few per service and queue, so one request reads it for deployments of hundreds of
processes (a page holds 1,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, RecordStore

KIND = "cluster"
CONTROL = "control"
LEASE = "lease"
INSTANCE = "instance"
WORKER = "worker"
HINT = "hint"
HINT_MIN_GAP_SECONDS = 2.0  # one process writes a queue's hint at most this often (the last submit is never missed)
HINT_KEEP = timedelta(days=7)  # a queue nobody submitted to for this long loses its hint record (pruner)
log = get_logger("cluster")


def record_id(prefix: str, name: str) -> str:
    """The id of a cluster record: ``<prefix>:<name>``."""
    return f"{prefix}:{name}"


def name_of(record: Record) -> str:
    """The name part of a cluster record's id (after the first ``:``)."""
    return record.id.partition(":")[2]


@dataclass(frozen=True)
class ClusterSnapshot:
    """One read of the partition: the records by id, and when the read was sent (monotonic and wall clock)."""

    records: dict[str, Record] = field(default_factory=dict)
    read_at: float = float("-inf")
    read_wall: float = 0.0

    def of(self, prefix: str) -> dict[str, Record]:
        """The records of one sort, by name (``of("control")`` → ``{"ppt": record}``)."""
        start = prefix + ":"
        return {rid[len(start):]: record for rid, record in self.records.items() if rid.startswith(start)}

    def get(self, prefix: str, name: str) -> Record | None:
        return self.records.get(record_id(prefix, name))

    def hint_tag(self, queue: str) -> str | None:
        """What changes whenever someone hints ``queue`` (the hint record's etag; None without a hint)."""
        hint = self.get(HINT, queue)
        return hint.etag if hint is not None else None


async def read_partition(records: RecordStore) -> ClusterSnapshot:
    """Read every cluster record (one request per 1,000 records)."""
    read_at, read_wall = time.monotonic(), time.time()
    found: dict[str, Record] = {}
    cursor: str | None = None
    while True:
        page = await records.list(KIND, limit=1000, cursor=cursor)
        found.update((record.id, record) for record in page.records)
        cursor = page.next_cursor
        if cursor is None:
            return ClusterSnapshot(found, read_at, read_wall)


class ClusterView:
    """This process's copy of the cluster partition, shared by everything in the process that watches it."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records
        self.snapshot = ClusterSnapshot()
        self.reads = 0
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[ClusterSnapshot], None]] = []

    @property
    def age(self) -> float:
        """Seconds since the current copy was read (infinite before the first read)."""
        return time.monotonic() - self.snapshot.read_at

    def subscribe(self, listener: Callable[[ClusterSnapshot], None]) -> None:
        """Call ``listener`` with every new copy (and at once with the current one, if any)."""
        self._listeners.append(listener)
        if self.snapshot.read_wall:
            listener(self.snapshot)

    def unsubscribe(self, listener: Callable[[ClusterSnapshot], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def refresh(self, max_age: float, *, newer_than: float | None = None) -> ClusterSnapshot:
        """The copy, read again first if it is older than ``max_age`` seconds or was read before the wall-clock
        time ``newer_than``. Concurrent callers share one read. Raises StorageError (the old copy stays)."""
        if self._fresh(max_age, newer_than):
            return self.snapshot
        async with self._lock:
            if self._fresh(max_age, newer_than):
                return self.snapshot
            snapshot = await read_partition(self.records)
            self.reads += 1
            self.snapshot = snapshot
            for listener in list(self._listeners):
                listener(snapshot)
            return snapshot

    def _fresh(self, max_age: float, newer_than: float | None) -> bool:
        if newer_than is not None and self.snapshot.read_wall < newer_than:
            return False
        return self.age <= max_age

    def put(self, record: Record) -> None:
        """Take a record this process just wrote into the copy (without reading it back)."""
        self.snapshot = ClusterSnapshot({**self.snapshot.records, record.id: record}, self.snapshot.read_at,
                                        self.snapshot.read_wall)


class SubmitHints:
    """Rings a queue's doorbell after a submit: an upsert of ``hint:<queue>`` that idle workers see in their
    one read per poll cycle, so that they poll a queue only when something was sent to it.

    Rate-limited per queue in this process to one write per :data:`HINT_MIN_GAP_SECONDS`, and never dropped:
    a submit during the gap (or during a write) is covered by one more write at the gap's end. The writes run
    beside the submit, not in its path; :meth:`close` writes the pending ones at once.
    """

    def __init__(self, records: RecordStore, min_gap: float = HINT_MIN_GAP_SECONDS) -> None:
        self.records = records
        self.min_gap = min_gap
        self.writes = 0
        self.rung: dict[str, int] = {}  # rings per queue in this process (its own listeners need no read)
        self._last: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}

    def ring(self, queue: str) -> None:
        """Note that a message was just sent to ``queue`` (call after the send succeeded)."""
        self.rung[queue] = self.rung.get(queue, 0) + 1
        if queue in self._pending:
            return  # a write not yet sent covers this submit too
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        wait = max(self._last.get(queue, float("-inf")) + self.min_gap - time.monotonic(), 0.0)
        self._pending[queue] = loop.create_task(self._write_after(queue, wait), name=f"hint-{queue}")

    async def _write_after(self, queue: str, wait: float) -> None:
        if wait:
            await asyncio.sleep(wait)
        await self._write(queue)

    async def _write(self, queue: str) -> None:
        self._pending.pop(queue, None)  # a submit from now on needs a write after this one
        self._last[queue] = time.monotonic()
        try:
            await self.records.replace(Record(KIND, record_id(HINT, queue), {"at": time.time()},
                                              expires_utc=utcnow() + HINT_KEEP))
            self.writes += 1
        except Exception as exc:  # best effort (storage down, or closed under us): the safety poll finds the job
            log.warning("submit hint not written", extra={"queue": queue, "error": str(exc) or type(exc).__name__})

    async def close(self) -> None:
        """Write every pending hint now (a process that exits right after a submit still rings)."""
        pending = list(self._pending.items())
        for _queue, task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*(task for _queue, task in pending), return_exceptions=True)
        await asyncio.gather(*(self._write(queue) for queue, _task in pending), return_exceptions=True)
