"""The worker's per-job costs (issue 18) keep their guarantees: events, hand-off, leases, slots, group commit."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from praisonai_svc import JobContext, ServiceApp
from praisonai_svc.adapters.local.db import Database
from praisonai_svc.adapters.memory_records import MemoryRecordStore
from praisonai_svc.errors import JobCancelled, LeaseLost, StorageUnavailable
from praisonai_svc.events.bus import Event, EventBus
from praisonai_svc.events.job_events import event_data, implied_events
from praisonai_svc.events.log import FEED_KIND, RING_KIND, EventLog
from praisonai_svc.models.job import Job, JobStatus, utcnow
from praisonai_svc.ports import QueueMessage
from praisonai_svc.records import Record
from praisonai_svc.registry import make_spec
from praisonai_svc.settings import Settings
from praisonai_svc.worker.defaults import SHORT_JOB_SLOTS, Slots
from praisonai_svc.worker.execution import CancelSignal, execute
from praisonai_svc.worker.lease import LeaseKeeper


def _job(status: JobStatus = JobStatus.DONE, attempts: int = 1, **changes: Any) -> Job:
    now = utcnow()
    job = Job(job_id="0123456789abcdef0123456789abcdef", service="s", payload={}, payload_hash="h", created_utc=now,
              updated_utc=now, status=status, attempts=attempts, started_utc=now, finished_utc=now)
    return job.model_copy(update=changes)


class FailingFeed(MemoryRecordStore):
    """A record store whose feed writes fail (storage trouble), everything else works."""

    async def create(self, record: Record) -> Record:
        if record.kind == FEED_KIND:
            raise StorageUnavailable("feed down")
        return await super().create(record)


# --- events -----------------------------------------------------------------------------------------------------


async def test_a_short_first_attempt_writes_its_events_to_the_feed_only_and_its_record_implies_them() -> None:
    records = MemoryRecordStore()
    log = EventLog(records)
    job = _job()
    written = await log.append_many([event_data(job, "started"), event_data(job, "done")])
    assert [(e.type, e.seq) for e in written if e] == [("started", 2), ("done", 3)]
    assert await log.history(job.job_id) == []  # no event log of its own
    assert await records.find(RING_KIND, job.job_id) is None
    fed = await log.recent(0)
    assert [(e.type, e.seq) for e in fed] == [("started", 2), ("done", 3)]
    implied = implied_events(job)
    assert [e.model_dump() for e in implied[1:]] == [e.model_dump() for e in fed]  # the very same events
    assert [(e.type, e.seq) for e in implied] == [("queued", 1), ("started", 2), ("done", 3)]


async def test_when_the_feed_cannot_be_written_the_events_go_to_the_jobs_log_after_all() -> None:
    log = EventLog(FailingFeed())
    job = _job(JobStatus.ERROR, error_msg="boom")
    with pytest.raises(StorageUnavailable):  # the log is written, then its feed record fails as before
        await log.append_many([event_data(job, "started"), event_data(job, "error")])
    assert [(e.type, e.seq) for e in await log.history(job.job_id)] == [("queued", 1), ("started", 2), ("error", 3)]


async def test_a_later_attempt_or_a_retry_keeps_writing_the_jobs_log() -> None:
    records = MemoryRecordStore()
    log = EventLog(records)
    first = _job(JobStatus.QUEUED, error_msg="Attempt 1 failed")
    await log.append_many([event_data(first, "started"), event_data(first, "retrying")])
    second = _job(attempts=2)
    await log.append_many([event_data(second, "started"), event_data(second, "done")])
    assert [(e.type, e.seq) for e in await log.history(second.job_id)] == [
        ("queued", 1), ("started", 2), ("retrying", 3), ("started", 4), ("done", 5)]


async def test_a_log_begun_by_another_process_after_an_implied_started_never_reuses_its_seq() -> None:
    """Attempt 1's ``started`` went to the feed only (seq 2), then its worker was killed. Attempt 2, on another
    worker, and the reaper's ending, from another process, start the job's log from seq 3: a watcher that saw
    seq 2 would otherwise skip a different event numbered 2."""
    records = MemoryRecordStore()
    first = _job(JobStatus.PROCESSING, finished_utc=None)
    [implied] = await EventLog(records).append_many([event_data(first, "started")])
    assert implied is not None and implied.seq == 2

    second = _job(JobStatus.PROCESSING, attempts=2, finished_utc=None)
    assert [e.type for e in implied_events(second)] == ["queued"]  # a later attempt's started is in the log
    [restarted] = await EventLog(records).append_many([event_data(second, "started")])  # another process
    assert restarted is not None and (restarted.seq, restarted.attempt) == (3, 2)
    assert [(e.type, e.seq) for e in await EventLog(records).history(first.job_id)] == [("queued", 1), ("started", 3)]

    reaped = _job(JobStatus.ERROR, job_id="f" * 32, finished_utc=utcnow(), error_msg="worker died")
    [ok] = await EventLog(records).append_many([event_data(reaped.model_copy(update={
        "status": JobStatus.PROCESSING}), "started")])
    [ending] = await EventLog(records).append_many([event_data(reaped, "error")])  # the reaper's process
    assert ok is not None and ok.seq == 2 and ending is not None and ending.seq == 3
    fed = [(e.job_id[:1], e.type, e.seq) for e in await EventLog(records).recent(0)]
    assert sorted(fed) == [("0", "started", 2), ("0", "started", 3), ("f", "error", 3), ("f", "started", 2)]


def test_a_running_job_implies_queued_and_started_and_a_never_started_one_only_queued() -> None:
    assert [(e.type, e.seq) for e in implied_events(_job(JobStatus.PROCESSING))] == [("queued", 1), ("started", 2)]
    assert [e.type for e in implied_events(_job(JobStatus.CANCELLED, started_utc=None))] == ["queued"]
    assert [e.type for e in implied_events(_job(JobStatus.QUEUED, finished_utc=None))] == ["queued"]


async def test_a_long_first_attempt_writes_started_then_its_ending_to_the_feed_only() -> None:
    records = MemoryRecordStore()
    log = EventLog(records)
    running = _job(JobStatus.PROCESSING, finished_utc=None)
    [started] = await log.append_many([event_data(running, "started")])
    assert started is not None and started.seq == 2
    assert await records.find(RING_KIND, running.job_id) is None
    assert implied_events(running)[1].model_dump() == started.model_dump()  # what a reader takes meanwhile
    done = running.model_copy(update={"status": JobStatus.DONE, "finished_utc": utcnow()})
    [ending] = await log.append_many([event_data(done, "done")])
    assert ending is not None and (ending.type, ending.seq) == ("done", 3)
    assert await records.find(RING_KIND, running.job_id) is None
    assert [e.model_dump() for e in implied_events(done)[1:]] == [e.model_dump() for e in await log.recent(0)]


async def test_the_first_progress_event_creates_the_log_with_the_implied_started_at_its_seq() -> None:
    records = MemoryRecordStore()
    log = EventLog(records)
    running = _job(JobStatus.PROCESSING, finished_utc=None)
    [started] = await log.append_many([event_data(running, "started")])
    [progress] = await log.append_many([event_data(running, "progress", progress=0.5, message="half")])
    assert progress is not None and progress.seq == 3
    history = await log.history(running.job_id)
    assert [(e.type, e.seq) for e in history] == [("queued", 1), ("started", 2), ("progress", 3)]
    assert started is not None and history[1].model_dump() == started.model_dump()
    done = running.model_copy(update={"status": JobStatus.DONE, "finished_utc": utcnow()})
    await log.append_many([event_data(done, "done")])
    assert [e.type for e in await log.history(running.job_id)] == ["queued", "started", "progress", "done"]
    assert [(e.type, e.seq) for e in await log.recent(0)] == [("started", 2), ("progress", 3), ("done", 4)]


async def test_publish_many_gives_a_batch_handler_one_list_and_others_one_event_at_a_time() -> None:
    bus = EventBus()
    batches: list[list[str]] = []
    singles: list[str] = []

    async def batch(events: list[Event]) -> None:
        batches.append([event.topic for event in events])

    async def single(event: Event) -> None:
        singles.append(event.topic)

    async def broken(event: Event) -> None:
        raise RuntimeError("a broken consumer")

    bus.subscribe_batches("job.*", batch)
    bus.subscribe("job.*", single)
    bus.subscribe("job.done", broken)
    delivered = await bus.publish_many([Event("job.started", "j"), Event("file.x", "f"), Event("job.done", "j")])
    assert batches == [["job.started", "job.done"]]
    assert singles == ["job.started", "job.done"]
    assert delivered == 3  # the batch call and two single calls; the broken one is logged, not counted
    assert await bus.publish(Event("job.progress", "j")) == 2
    assert batches[-1] == ["job.progress"]


# --- the hand-off to handler threads ----------------------------------------------------------------------------


def _context() -> JobContext:
    return JobContext(job_id="0123456789abcdef", attempt=1, max_attempts=1, service="s",
                      logger=logging.getLogger("test"))  # type: ignore[arg-type]


async def test_many_calls_at_once_each_get_their_own_result_or_error() -> None:
    def echo(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        if payload["i"] % 7 == 0:
            raise ValueError(f"bad {payload['i']}")
        return str(payload["i"]).encode(), "text/plain", "x.txt"

    spec = make_spec(echo, "echo", "q")
    outcomes = await asyncio.gather(*(execute(spec, {"i": i}, _context(), timeout=30) for i in range(200)),
                                    return_exceptions=True)
    for i, outcome in enumerate(outcomes):
        if i % 7 == 0:
            assert isinstance(outcome, ValueError) and str(outcome) == f"bad {i}"
        else:
            assert not isinstance(outcome, BaseException)
            assert outcome[0].source == str(i).encode()


async def test_a_cancel_signal_ends_a_sync_handler_that_ignores_it_after_the_grace() -> None:
    def stubborn(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        time.sleep(3)
        return b"", "text/plain", "x"

    cancel = CancelSignal()
    task = asyncio.ensure_future(execute(make_spec(stubborn, "stubborn", "q"), {}, _context(), 60, cancel))
    await asyncio.sleep(0.1)
    cancel.set()
    began = time.monotonic()
    with pytest.raises(JobCancelled):
        await task
    assert time.monotonic() - began < 2.5  # the grace (1 s), not the handler's 3 s


async def test_a_handler_that_returned_before_the_cancel_was_seen_still_ends_cancelled() -> None:
    def quick(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"ok", "text/plain", "x"

    cancel = CancelSignal()
    cancel.set()
    with pytest.raises(JobCancelled):
        await execute(make_spec(quick, "quick", "q"), {}, _context(), 60, cancel)


def test_a_cancel_signal_calls_back_once_and_forgets_on_request() -> None:
    calls: list[str] = []
    signal = CancelSignal()
    forget = signal.on_set(lambda: calls.append("a"))
    signal.on_set(lambda: calls.append("b"))
    forget()
    signal.set()
    signal.set()
    signal.on_set(lambda: calls.append("late"))  # already set: called at once
    assert calls == ["b", "late"]


# --- leases -----------------------------------------------------------------------------------------------------


class SlowRenewals:
    """A queue whose renewals take a while and hand out a new receipt each time."""

    def __init__(self, delay: float, lose_after: int | None = None) -> None:
        self.delay = delay
        self.renewals = 0
        self.lose_after = lose_after

    async def renew(self, message: QueueMessage, visibility: float) -> QueueMessage:
        await asyncio.sleep(self.delay)
        self.renewals += 1
        if self.lose_after is not None and self.renewals > self.lose_after:
            raise LeaseLost()
        return QueueMessage(message.message_id, message.job_id, f"receipt-{self.renewals}", message.dequeue_count,
                            message.inserted_utc)


def _message() -> QueueMessage:
    return QueueMessage("1", "job", "receipt-0", 1, utcnow())


async def test_a_short_job_costs_no_renewal_and_a_long_one_keeps_the_newest_receipt() -> None:
    queue = SlowRenewals(0.0)
    short = LeaseKeeper(queue, _message(), 3.0, logging.getLogger("t"))  # type: ignore[arg-type]
    short.start()
    assert (await short.stop()).pop_receipt == "receipt-0" and queue.renewals == 0
    long = LeaseKeeper(queue, _message(), 0.6, logging.getLogger("t"))  # type: ignore[arg-type]
    long.start()
    await asyncio.sleep(0.75)  # renewals every 0.2 s
    message = await long.stop()
    assert queue.renewals >= 2 and message.pop_receipt == f"receipt-{queue.renewals}"
    await asyncio.sleep(0.5)
    assert message.pop_receipt == f"receipt-{queue.renewals}"  # stopped means stopped


async def test_stopping_waits_for_a_renewal_in_flight_and_returns_its_receipt() -> None:
    queue = SlowRenewals(0.3)
    keeper = LeaseKeeper(queue, _message(), 0.6, logging.getLogger("t"))  # type: ignore[arg-type]
    keeper.start()
    await asyncio.sleep(0.3)  # the first renewal (due at 0.2 s) is under way
    assert (await keeper.stop()).pop_receipt == "receipt-1"


async def test_a_lost_lease_is_reported_and_renewal_stops() -> None:
    queue = SlowRenewals(0.0, lose_after=1)
    keeper = LeaseKeeper(queue, _message(), 0.6, logging.getLogger("t"))  # type: ignore[arg-type]
    keeper.start()
    await asyncio.sleep(0.7)
    assert keeper.lost and queue.renewals == 2
    await keeper.stop()


# --- slots ------------------------------------------------------------------------------------------------------


def _app(**settings: Any) -> ServiceApp:
    app = ServiceApp("Slots", settings=Settings(**settings))

    @app.job("sync")
    def sync(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"", "text/plain", "x"

    return app


def test_unconfigured_slots_open_for_short_jobs_and_close_for_long_ones() -> None:
    slots = Slots(_app())
    base = slots.limit
    assert base == slots.base  # before any job has run
    for _ in range(5):
        slots.ran(0.001)
    assert slots.limit == max(base, SHORT_JOB_SLOTS)
    for _ in range(40):
        slots.ran(0.5)
    assert slots.limit == base


def test_configured_concurrency_is_kept_whatever_the_job_length() -> None:
    for slots in (Slots(_app(worker_concurrency=3)), Slots(_app(), concurrency=5)):
        base = slots.limit
        for _ in range(10):
            slots.ran(0.001)
        assert slots.limit == base


# --- group commit (local backend) -------------------------------------------------------------------------------


async def test_a_failing_write_in_a_group_commit_is_rolled_back_alone(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite3")
    try:
        await db.write(lambda conn: conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"))

        def insert(key: str, value: int) -> Any:
            def run(conn: sqlite3.Connection) -> int:
                conn.execute("INSERT INTO t VALUES (?, ?)", (key + "-a", value))
                conn.execute("INSERT INTO t VALUES (?, ?)", (key, value))  # a key taken fails after the first
                return value

            return run

        await db.write(lambda conn: conn.execute("INSERT INTO t VALUES ('taken', 0)"))
        outcomes = await asyncio.gather(*(db.write(insert(key, i)) for i, key in enumerate(["x", "taken", "y"])),
                                        return_exceptions=True)
        assert outcomes[0] == 0 and outcomes[2] == 2 and isinstance(outcomes[1], sqlite3.IntegrityError)
        rows = await db.call(lambda conn: conn.execute("SELECT k FROM t ORDER BY k").fetchall())
        assert [row[0] for row in rows] == ["taken", "x", "x-a", "y", "y-a"]  # no "taken-a": rolled back alone
        commits = db.commits
        many = await asyncio.gather(*(db.write(insert(f"k{i}", i)) for i in range(50)))
        assert many == list(range(50)) and db.commits - commits == 1  # one transaction for one turn's writes
    finally:
        await db.close()
