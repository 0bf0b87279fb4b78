"""Job events in memory: numbering across processes, the shared watcher's cost, gaps, cancellation, tickets."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr

from praisonai_svc import JobContext, ServiceApp
from praisonai_svc.adapters.memory_records import MemoryRecordStore
from praisonai_svc.api.ws_tickets import TicketInvalid, consume_ticket, mint_ticket
from praisonai_svc.backend import memory_backend
from praisonai_svc.errors import JobCancelled, PayloadError
from praisonai_svc.events.job_events import JobEvent, implied_events
from praisonai_svc.events.log import FEED_KIND, EventLog
from praisonai_svc.events.watcher import EventWatcher
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import JobRequest, JobStatus
from praisonai_svc.security.guard import Principal
from praisonai_svc.testing import FAST_TEST_SETTINGS
from praisonai_svc.worker import Worker


def data(job_id: str, type_: str, **extra: object) -> dict[str, object]:
    status = {"started": "processing", "progress": "processing", "done": "done", "cancelled": "cancelled"}[type_]
    return {"job_id": job_id, "type": type_, "status": status, "at": "2026-01-01T00:00:00+00:00", **extra}


async def test_two_writers_number_one_job_without_gaps_or_duplicates() -> None:
    records = MemoryRecordStore()
    api, worker = EventLog(records), EventLog(records)  # two processes on one store
    await worker.append(data("j1", "started"))
    written = await asyncio.gather(*(log.append(data("j1", "progress", progress=i / 20))
                                     for i, log in enumerate([api, worker] * 10)))
    assert sorted(e.seq for e in written if e) == list(range(3, 23))
    history = await api.history("j1")
    assert [e.seq for e in history] == list(range(1, 23)) and history[0].type == "queued"
    assert await api.append(data("j1", "done")) is not None
    assert await worker.append(data("j1", "cancelled")) is None  # a job ends once, whoever notices first
    assert (await api.history("j1"))[-1].type == "done"


async def test_one_watcher_reads_the_same_whatever_the_number_of_clients() -> None:
    records = MemoryRecordStore()
    writer, reader = EventLog(records), EventLog(records)
    watcher = EventWatcher(reader, lookback=2, autostart=False)
    one = await watcher.subscribe("j1", 0)
    await writer.append(data("j1", "started"))
    await watcher.tick()
    reads_for_one = watcher.reads
    await writer.append(data("j2", "started"))  # the ring exists: subscribers start from it
    many = [await watcher.subscribe("j2", 0) for _ in range(500)]
    before = watcher.reads
    await writer.append(data("j2", "progress", progress=0.5))
    await writer.append(data("j2", "progress", progress=0.6))
    await watcher.tick()
    assert watcher.reads - before == 1  # one feed read for 500 clients of a changing job
    # one: its subscription, one feed read, one ring read (its first event, seq 2, follows the unstored seq 1)
    assert [e.seq for e in await one.next_batch(0)] == [1, 2] and reads_for_one == 3
    assert all([e.type for e in sub._pending] == ["queued", "started", "progress", "progress"] for sub in many)


async def test_a_lost_feed_record_is_filled_from_the_ring_in_order() -> None:
    records = MemoryRecordStore()
    writer = EventLog(records)
    watcher = EventWatcher(EventLog(records), lookback=2, autostart=False)
    sub = await watcher.subscribe("j1", 0)
    await writer.append(data("j1", "started"))
    await writer.append(data("j1", "progress", progress=0.1))
    lost = (await records.list(FEED_KIND)).records[-1]
    await records.delete(FEED_KIND, lost.id)  # its writer died between the ring write and the feed write
    await writer.append(data("j1", "done"))
    await watcher.tick()
    delivered = [e async for e in sub]
    assert [(e.seq, e.type) for e in delivered] == [(1, "queued"), (2, "started"), (3, "progress"), (4, "done")]


async def test_a_slow_client_gets_the_newest_progress_and_always_the_end() -> None:
    watcher = EventWatcher(EventLog(MemoryRecordStore()), autostart=False)
    sub = await watcher.subscribe("j", 0)
    events = [JobEvent(job_id="j", seq=i, type="progress", status=JobStatus.PROCESSING, at="2026-01-01T00:00:00Z",
                       progress=i / 1000) for i in range(1, 1000)]
    sub.offer(events)
    sub.offer([JobEvent(job_id="j", seq=1000, type="done", status=JobStatus.DONE, at="2026-01-01T00:00:00Z")])
    batch = await sub.next_batch(0)
    assert len(batch) <= 257 and batch[-1].type == "done" and batch[-2].seq == 999


def app_with_handlers() -> ServiceApp:
    app = ServiceApp("cancel-unit")

    @app.job("coop")
    def coop(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
        while True:
            ctx.raise_if_cancelled()
            time.sleep(0.01)

    @app.job("sleeper")
    async def sleeper(payload: dict) -> tuple[bytes, str, str]:
        await asyncio.sleep(600)
        return b"", "text/plain", "x"

    return app


@pytest.mark.parametrize("service", ["coop", "sleeper"])
async def test_cancel_a_running_job_ends_it_cancelled_and_never_retried(service: str) -> None:
    app = app_with_handlers()
    app.settings = app.settings.model_copy(update={**FAST_TEST_SETTINGS, "cancel_poll_interval_seconds": 0.05})
    backend = memory_backend()
    worker = Worker(app, backend)
    runner = asyncio.create_task(worker.run())
    jobs = JobService(app, backend)
    try:
        job = (await jobs.submit(JobRequest(payload={"n": 1}, service=service))).job
        while (await backend.jobs.get(job.job_id)).status is not JobStatus.PROCESSING:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await jobs.cancel(job.job_id)
        async with asyncio.timeout(30):  # generous: a loaded machine is slow, and no timing is asserted here
            while not (await backend.jobs.get(job.job_id)).status.is_terminal:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        ended = await backend.jobs.get(job.job_id)
        assert ended.status is JobStatus.CANCELLED and ended.attempts == 1
        # A job cancelled within the started-event delay has its started and cancelled events in the feed only
        # (no event log of its own): a reader takes them from the record. Either way a reader sees all three.
        log = EventLog(backend.records)
        async with asyncio.timeout(30):  # the events are written just after the status change
            while not any(e.type == "cancelled" for e in await log.recent(0)):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        seen = await log.history(job.job_id) or implied_events(ended)
        assert [e.type for e in seen] == ["queued", "started", "cancelled"]
        assert [e.type for e in await log.recent(0) if e.job_id == job.job_id] == ["started", "cancelled"]
        again = await jobs.submit(JobRequest(payload={"n": 1}, service=service))
        assert again.created  # a cancelled job does not hold its payload's idempotency claim
    finally:
        worker.stop()
        await runner


def test_context_cancel_flag() -> None:
    ctx = JobContext(job_id="j", attempt=1, max_attempts=1, service="s", logger=None)  # type: ignore[arg-type]
    assert not ctx.cancelled
    ctx.raise_if_cancelled()
    ctx._stop.set()
    assert ctx.cancelled
    with pytest.raises(JobCancelled):
        ctx.raise_if_cancelled()


async def test_ws_tickets_are_single_use_and_bound_to_one_job() -> None:
    records = MemoryRecordStore()
    ticket, ttl = await mint_ticket(records, "job-a", Principal("api_key", "acme", "key-1"))
    assert ttl == 60
    with pytest.raises(TicketInvalid):
        await consume_ticket(records, ticket, "job-b")
    principal = await consume_ticket(records, ticket, "job-a")
    assert principal.tenant == "acme"
    with pytest.raises(TicketInvalid):
        await consume_ticket(records, ticket, "job-a")  # replayed
    with pytest.raises(TicketInvalid):
        await consume_ticket(records, "made-up", "job-a")


async def test_callback_url_needs_webhooks_on_and_a_plain_http_url() -> None:
    app = app_with_handlers()
    jobs = JobService(app, memory_backend())
    with pytest.raises(PayloadError, match="PRAISONAI_WEBHOOK_SECRET"):
        await jobs.submit(JobRequest(payload={}, service="coop", callback_url="https://example.com/h"))
    app.settings = app.settings.model_copy(update={"webhook_secret": SecretStr("s" * 32)})
    for bad in ("ftp://example.com/x", "https://user:pw@example.com/", "/relative", "https://"):
        with pytest.raises(PayloadError):
            await jobs.submit(JobRequest(payload={"u": bad}, service="coop", callback_url=bad))


async def test_a_running_jobs_writes_keep_working_after_a_cancel_request() -> None:
    import logging

    from praisonai_svc.worker.processor import JobRun

    app = app_with_handlers()
    backend = memory_backend()
    jobs = JobService(app, backend)
    job = (await jobs.submit(JobRequest(payload={"n": 2}, service="coop"))).job
    job = await backend.jobs.update(job.model_copy(update={"status": JobStatus.PROCESSING, "attempts": 1}))
    run = JobRun(job, app.job_spec("coop"), backend, logging.getLogger("t"))  # type: ignore[arg-type]
    await jobs.cancel(job.job_id)  # changes the record (and its etag) under the worker
    await run.save(progress=0.5, progress_msg="still going")
    stored = await backend.jobs.get(job.job_id)
    assert stored.progress == 0.5 and stored.cancel_requested_utc is not None


async def test_a_writer_whose_clock_is_behind_is_caught_by_the_next_full_read() -> None:
    import time as clock

    records = MemoryRecordStore()
    prompt = EventLog(records)
    behind = EventLog(records, clock_ns=lambda: clock.time_ns() - 2_000_000_000)  # 2 s slow, within the look-back
    watcher = EventWatcher(EventLog(records), lookback=3, autostart=False)
    fast = await watcher.subscribe("fast", 1)
    slow = await watcher.subscribe("slow", 1)
    await prompt.append(data("fast", "started"))
    await watcher.tick()  # a full read: remembers the newest feed id
    await behind.append(data("slow", "started"))  # its feed id sorts below that one
    await watcher.tick()  # an incremental read misses it
    assert [e.seq for e in await slow.next_batch(0)] == []
    watcher._last_full = 0.0  # a second later
    await watcher.tick()
    assert [e.seq for e in await slow.next_batch(0)] == [2]
    assert [e.seq for e in await fast.next_batch(0)] == [2]


async def test_submitting_a_job_costs_the_event_log_no_storage_request() -> None:
    class Counting(MemoryRecordStore):
        calls = 0

        async def get(self, kind: str, record_id: str):  # type: ignore[no-untyped-def]
            Counting.calls += 1
            return await super().get(kind, record_id)

        async def list(self, kind: str, **kwargs):  # type: ignore[no-untyped-def,override]
            Counting.calls += 1
            return await super().list(kind, **kwargs)

    records = Counting()
    at = "2026-01-01T00:00:00+00:00"
    event = await EventLog(records).append(
        {"job_id": "j", "type": "queued", "status": "queued", "at": at, "queued_at": at})
    assert event is not None and event.seq == 1 and Counting.calls == 0
    assert (await MemoryRecordStore.list(records, "job_events")).records == []  # and nothing was written


async def test_a_jobs_event_log_expires_no_later_than_the_job() -> None:
    from datetime import datetime, timedelta

    from praisonai_svc.events.log import RING_KIND

    records = MemoryRecordStore()
    retentions = {"short": timedelta(minutes=1)}
    log = EventLog(records, retention=timedelta(hours=24),
                   job_retention=lambda service: retentions.get(service, timedelta(days=30)))
    queued = datetime.now().astimezone()
    await log.append(data("brief", "started", service="short", queued_at=queued.isoformat()))
    await log.append(data("long", "started", service="other", queued_at=queued.isoformat()))
    brief, long = await records.get(RING_KIND, "brief"), await records.get(RING_KIND, "long")
    assert brief.expires_utc == queued + timedelta(minutes=1)  # the job's own expiry, not 24 h from now
    assert long.expires_utc is not None and long.expires_utc > queued + timedelta(hours=23)  # the events limit
    feeds = (await records.list(FEED_KIND)).records
    expiry = {event["job_id"]: record.expires_utc for record in feeds for event in record.body["events"]}
    assert expiry["brief"] == queued + timedelta(minutes=1)


async def test_events_appended_in_one_loop_turn_share_one_feed_record() -> None:
    records = MemoryRecordStore()
    writer, reader = EventLog(records), EventLog(records)
    since_ns = time.time_ns() - 1_000_000_000
    written = await asyncio.gather(*(writer.append(data(f"j{n}", "started")) for n in range(10)))
    assert all(event is not None for event in written)
    feeds = (await records.list(FEED_KIND)).records
    assert len(feeds) == 1 and len(feeds[0].body["events"]) == 10  # one storage write for ten events
    await writer.append(data("j0", "done"))
    assert len((await records.list(FEED_KIND)).records) == 2
    seen = await reader.recent(since_ns)
    assert [(e.job_id, e.type) for e in seen] == [*((f"j{n}", "started") for n in range(10)), ("j0", "done")]


async def test_a_feed_record_holds_at_most_feed_batch_events() -> None:
    from praisonai_svc.events.log import FEED_BATCH_EVENTS

    records = MemoryRecordStore()
    log = EventLog(records)
    await asyncio.gather(*(log.append(data(f"j{n}", "started")) for n in range(FEED_BATCH_EVENTS + 6)))
    sizes = sorted(len(record.body["events"]) for record in (await records.list(FEED_KIND)).records)
    assert sum(sizes) == FEED_BATCH_EVENTS + 6 and max(sizes) <= FEED_BATCH_EVENTS
