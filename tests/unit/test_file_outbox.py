"""The files' outbox (issue 15): a file event is stored by the write that makes it true and removed once every
subscriber handled it, so a crash between the two (or a failing subscriber) loses nothing: a sweep, or the retried
extraction job, delivers it again, and a file trigger still starts its workflow exactly once.

A crash is injected as a subscriber that raises :class:`Crash`, a BaseException the bus does not catch: like a
kill -9, nothing after it runs in that "process" (no later subscriber, no extraction queued, no clean-up). A
second app on the same storage plays the restarted process.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from praisonai_svc import JobContext, ServiceApp
from praisonai_svc.backend import Backend, memory_backend
from praisonai_svc.errors import JobNotFound, StorageUnavailable
from praisonai_svc.events import Event, EventBus
from praisonai_svc.events.outbox import Outboxes
from praisonai_svc.files import events as file_events
from praisonai_svc.files.models import KIND, OUTBOX_FIELD, FileStatus, StoredFile
from praisonai_svc.files.outbox import MAX_FAILURES, FileOutbox, pending
from praisonai_svc.files.processing import ExtractFile, extraction_job_id
from praisonai_svc.files.service import NOT_QUEUED_MESSAGE, UPLOADED_MESSAGE, FileService, Upload
from praisonai_svc.logs import job_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record
from praisonai_svc.settings import Settings
from praisonai_svc.workflows.file_triggers import CLAIM, install_file_triggers
from praisonai_svc.workflows.models import Workflow
from praisonai_svc.workflows.repository import EXECUTION
from praisonai_svc.workflows.use_cases import WorkflowService

LOG_STEP = [{"id": "note", "type": "log", "message": "file {{ trigger.file_id }}"}]


class Crash(BaseException):
    """A kill -9 at this point: nothing after it runs in this process."""


def make_app(backend: Backend) -> ServiceApp:
    app = ServiceApp("Outbox", settings=Settings(_env_file=None), backend=backend)  # type: ignore[call-arg]

    @app.job("echo")
    def echo(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"x", "text/plain", "x.txt"

    return app


def cities_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([["city", "population"], ["Lisbon", 545923], ["Porto", 231800]])
    return buffer.getvalue().encode()


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def upload(app: ServiceApp, backend: Backend, *, process: bool = True) -> tuple[StoredFile, str]:
    return await FileService(app, backend).upload(Upload("cities.csv", chunks(cities_csv())), tenant=None,
                                                  process=process)


async def workflow(app: ServiceApp, backend: Backend, trigger_type: str) -> Workflow:
    return await WorkflowService(app, backend).create(
        {"name": trigger_type, "steps": LOG_STEP, "triggers": [{"type": trigger_type, "file_extensions": ["csv"]}]},
        tenant=None)


async def executions(backend: Backend, workflow_id: str) -> list[dict[str, Any]]:
    page = await backend.records.list(EXECUTION, where={"workflow_id": workflow_id}, limit=100)
    return [record.body for record in page.records]


async def stored_file(backend: Backend, file_id: str) -> tuple[StoredFile, Record]:
    record = await backend.records.get(KIND, file_id)
    return StoredFile.from_record(record), record


def crash_once_on(app: ServiceApp, topic: str) -> list[Event]:
    """Subscribe (before the file triggers) a handler that crashes the first delivery of ``topic``."""
    seen: list[Event] = []

    async def crash(event: Event) -> None:
        seen.append(event)
        if len(seen) == 1:
            raise Crash()

    app.events.subscribe(topic, crash)
    return seen


def extraction_context(backend: Backend, file_id: str, attempt: int) -> JobContext:
    job_id = extraction_job_id(file_id, 0)
    return JobContext(job_id=job_id, attempt=attempt, max_attempts=3, service="extract",
                      logger=job_logger("extract", job_id, attempt), _backend=backend)


async def test_an_upload_stores_its_event_with_the_file_and_removes_it_once_delivered() -> None:
    backend = memory_backend()
    app = make_app(backend)
    flow = await workflow(app, backend, "file_upload")
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    app.events.subscribe("file.*", record)
    install_file_triggers(app, backend)
    stored, message = await upload(app, backend)
    assert message == UPLOADED_MESSAGE
    after, record_ = await stored_file(backend, stored.id)
    assert after.pending_events == [] and OUTBOX_FIELD not in record_.fields
    assert [(e.topic, e.data["status"]) for e in seen] == [("file.uploaded", "uploaded")]
    assert seen[0].at == stored.created_at  # the event's time is the change's
    assert len(await executions(backend, flow.id)) == 1
    assert (await backend.jobs.get(extraction_job_id(stored.id, 0))).payload == {"file_id": stored.id, "run": 0}
    assert await app.events.outboxes.sweep(backend) == 0  # nothing pending: nothing delivered twice


async def test_a_crash_between_the_stored_upload_and_its_delivery_is_delivered_by_the_next_process() -> None:
    backend = memory_backend()
    first = make_app(backend)
    flow = await workflow(first, backend, "file_upload")
    crash_once_on(first, "file.uploaded")
    install_file_triggers(first, backend)
    with pytest.raises(Crash):
        await upload(first, backend)
    [record] = (await backend.records.list(KIND, limit=10)).records
    crashed = StoredFile.from_record(record)
    assert [(e.topic, e.extract) for e in crashed.pending_events] == [("file.uploaded", True)]
    assert record.fields[OUTBOX_FIELD] == "1"
    assert await executions(backend, flow.id) == []  # the trigger never ran
    with pytest.raises(JobNotFound):
        await backend.jobs.get(extraction_job_id(crashed.id, 0))  # nor was the extraction queued

    restarted = make_app(backend)
    install_file_triggers(restarted, backend)
    assert await restarted.events.outboxes.sweep(backend) == 1  # what each process does once it has started

    [execution] = await executions(backend, flow.id)
    assert execution["trigger_type"] == "file_upload" and execution["input_file_ids"] == [crashed.id]
    assert execution["trigger_data"]["status"] == "uploaded"
    assert (await backend.jobs.get(extraction_job_id(crashed.id, 0))).status.value == "queued"
    after, record = await stored_file(backend, crashed.id)
    assert after.pending_events == [] and OUTBOX_FIELD not in record.fields
    assert after.triggered_workflows == [flow.id]
    await FileOutbox(restarted, backend).deliver(after, crashed.pending_events[0])  # a duplicate delivery
    assert await restarted.events.outboxes.sweep(backend) == 0
    assert len(await executions(backend, flow.id)) == 1  # exactly once per (workflow, file, event)


async def test_a_worker_killed_after_storing_the_extraction_is_followed_by_an_attempt_that_delivers_it() -> None:
    backend = memory_backend()
    first = make_app(backend)
    flow = await workflow(first, backend, "file_processed")
    crash_once_on(first, "file.processed")
    install_file_triggers(first, backend)
    stored, _ = await upload(first, backend, process=False)
    payload = {"file_id": stored.id, "run": 0}
    with pytest.raises(Crash):
        await ExtractFile(first)(payload, extraction_context(backend, stored.id, attempt=1))
    crashed, _record = await stored_file(backend, stored.id)
    assert crashed.status is FileStatus.PROCESSED and [e.topic for e in crashed.pending_events] == ["file.processed"]
    assert await executions(backend, flow.id) == []

    restarted = make_app(backend)  # the job's message comes back to a worker after the lease
    install_file_triggers(restarted, backend)
    output, _type, _name = await ExtractFile(restarted)(payload, extraction_context(backend, stored.id, attempt=2))
    assert b'"skipped"' in output  # the file is finished: not extracted again
    [execution] = await executions(backend, flow.id)
    assert execution["trigger_type"] == "file_processed"
    assert execution["trigger_data"]["extraction_metadata"]["columns"] == ["city", "population"]
    assert (await stored_file(backend, stored.id))[0].pending_events == []
    assert await restarted.events.outboxes.sweep(backend) == 0


async def test_a_failing_subscriber_gets_the_event_again_until_it_succeeds_or_max_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = memory_backend()
    app = make_app(backend)
    failures_left = {"count": 2}
    seen: list[str] = []

    async def flaky(event: Event) -> None:
        seen.append(event.subject)
        if failures_left["count"]:
            failures_left["count"] -= 1
            raise RuntimeError("subscriber down")

    app.events.subscribe("file.uploaded", flaky)
    stored, _ = await upload(app, backend, process=False)
    assert [e.failures for e in (await stored_file(backend, stored.id))[0].pending_events] == [1]
    assert await app.events.outboxes.sweep(backend) == 1
    assert [e.failures for e in (await stored_file(backend, stored.id))[0].pending_events] == [2]
    assert await app.events.outboxes.sweep(backend) == 1  # succeeds this time
    assert (await stored_file(backend, stored.id))[0].pending_events == []
    assert seen == [stored.id] * 3

    failures_left["count"] = 10 * MAX_FAILURES  # a subscriber that never recovers
    other, _ = await upload(app, backend, process=False)
    caplog.set_level(logging.ERROR, logger="praisonai_svc")
    for _ in range(MAX_FAILURES):
        await app.events.outboxes.sweep(backend)
    assert (await stored_file(backend, other.id))[0].pending_events == []
    assert any("file event dropped" in r.getMessage() for r in caplog.records)
    assert await app.events.outboxes.sweep(backend) == 0


async def test_a_trigger_that_storage_fails_keeps_the_event_and_each_workflow_starts_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = memory_backend()
    app = make_app(backend)
    flows = [await workflow(app, backend, "file_upload") for _ in range(2)]
    install_file_triggers(app, backend)
    create = backend.records.create
    failed: list[str] = []

    async def create_failing_once(record: Record) -> Record:
        if record.kind == CLAIM and not failed:
            failed.append(record.id)
            raise StorageUnavailable("table down for a moment")
        return await create(record)

    monkeypatch.setattr(backend.records, "create", create_failing_once)
    stored, _ = await upload(app, backend)
    assert failed and [e.failures for e in (await stored_file(backend, stored.id))[0].pending_events] == [1]
    counts = [len(await executions(backend, flow.id)) for flow in flows]
    assert sorted(counts) == [0, 1]  # one started, the other's claim failed
    assert await app.events.outboxes.sweep(backend) == 1
    assert [len(await executions(backend, flow.id)) for flow in flows] == [1, 1]
    assert (await stored_file(backend, stored.id))[0].pending_events == []


async def test_an_extraction_that_could_not_be_queued_is_queued_by_the_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = memory_backend()
    app = make_app(backend)
    enqueue = backend.create_and_enqueue

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable("queue down")

    monkeypatch.setattr(backend, "create_and_enqueue", down)
    stored, message = await upload(app, backend)
    assert message == NOT_QUEUED_MESSAGE
    monkeypatch.setattr(backend, "create_and_enqueue", enqueue)
    assert await app.events.outboxes.sweep(backend) == 1
    assert (await backend.jobs.get(extraction_job_id(stored.id, 0))).payload["file_id"] == stored.id
    assert (await stored_file(backend, stored.id))[0].pending_events == []


async def test_a_sweep_with_a_minimum_age_leaves_young_events_to_their_publisher() -> None:
    backend = memory_backend()
    app = make_app(backend)
    crash_once_on(app, "file.uploaded")
    with pytest.raises(Crash):
        await upload(app, backend, process=False)
    assert await app.events.outboxes.sweep(backend, min_age=timedelta(minutes=1)) == 0
    assert await app.events.outboxes.sweep(backend) == 1


async def test_deletes_and_failures_go_through_the_outbox_too() -> None:
    backend = memory_backend()
    app = make_app(backend)
    seen: list[tuple[str, str]] = []

    async def record(event: Event) -> None:
        seen.append((event.topic, event.data["status"]))

    app.events.subscribe("file.*", record)
    stored, _ = await upload(app, backend, process=False)
    service = FileService(app, backend)
    await service.delete(stored.id, tenant=None)
    await service.delete(stored.id, tenant=None)  # already deleted: no second event
    assert seen == [("file.uploaded", "uploaded"), ("file.deleted", "deleted")]
    assert (await stored_file(backend, stored.id))[0].pending_events == []


def test_a_late_event_announces_what_happened_then_not_what_came_after() -> None:
    now = utcnow()
    processed = StoredFile(id="f", filename="f.csv", original_filename="a.csv", extension="csv", mime_type="text/csv",
                           file_size=3, file_hash="h", status=FileStatus.PROCESSED, created_at=now, updated_at=now,
                           blob_name="b", extraction_metadata={"columns": ["a"], "rows": [[1]]})
    uploaded = file_events.file_event(file_events.UPLOADED, processed, at=now)
    assert uploaded.data["status"] == "uploaded" and uploaded.data["extraction_metadata"] == {}
    done = file_events.file_event(file_events.PROCESSED, processed, at=now)
    assert done.data["status"] == "processed" and done.data["extraction_metadata"] == {"columns": ["a"]}
    assert pending(file_events.FAILED, now).same(pending(file_events.FAILED, now))
    assert not pending(file_events.FAILED, now).same(pending(file_events.DELETED, now))


async def test_deliver_says_whether_every_handler_succeeded_and_sweeps_survive_a_broken_outbox() -> None:
    bus = EventBus()

    async def fine(event: Event) -> None:
        return None

    async def broken(event: Event) -> None:
        raise RuntimeError("bug")

    bus.subscribe("file.*", fine)
    assert await bus.deliver(Event("file.uploaded", "f")) is True
    assert await bus.deliver(Event("job.done", "j")) is True  # no handler: nothing failed
    bus.subscribe("file.*", broken)
    assert await bus.deliver(Event("file.uploaded", "f")) is False
    assert await bus.publish(Event("file.uploaded", "f")) == 1

    outboxes = Outboxes()

    async def failing(backend: Backend, min_age: timedelta) -> int:
        raise StorageUnavailable("down")

    async def working(backend: Backend, min_age: timedelta) -> int:
        return 2

    outboxes.register("a", failing)
    outboxes.register("b", working)
    assert await outboxes.sweep(memory_backend()) == 2 and outboxes.names == ["a", "b"]
