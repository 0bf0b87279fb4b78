"""The files feature's storage promises on every adapter (memory, local, Azurite), without a worker: an upload is
a record that expires after PRAISONAI_FILE_RETENTION, the pruner removes an expired file's blobs and then its
record, an extraction is queued once per file and run, ``triggered_workflows`` lists a workflow once, and a file
event that a crash left undelivered is listed (an indexed field) and delivered by the outbox sweep."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.events import Event
from praisonai_svc.files.content import content_blob_name
from praisonai_svc.files.models import KIND, StoredFile
from praisonai_svc.files.processing import EXTRACT_SERVICE, extraction_job_id
from praisonai_svc.files.repository import FileRepository
from praisonai_svc.files.service import FileService, Upload
from praisonai_svc.models.job import utcnow
from praisonai_svc.retention import Pruner
from praisonai_svc.settings import Settings


def make_app(settings_factory: Callable[..., Settings], **values: Any) -> ServiceApp:
    app = ServiceApp("files", settings=settings_factory(**values))

    @app.job("svc")
    def handler(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"x", "text/plain", "x.txt"

    return app


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def uploaded(service: FileService, name: str = "notes.txt", text: bytes = b"hello files") -> StoredFile:
    stored, _message = await service.upload(Upload(name, chunks(text)), tenant="acme", process=False)
    return stored


async def test_an_expired_file_loses_its_blobs_then_its_record(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory, file_retention="7d")
    service = FileService(app, backend)
    old, young = await uploaded(service, "old.txt"), await uploaded(service, "young.txt")
    record = await backend.records.get(KIND, young.id)
    assert record.expires_utc is not None
    assert abs(record.expires_utc - (young.created_at + timedelta(days=7))) < timedelta(seconds=1)
    extracted = content_blob_name(old.id)  # as a large extraction leaves it
    await backend.blobs.put(extracted, b'{"content": "", "metadata": {}}', content_type="application/json",
                            filename="extracted.json")
    await service.repo.change(old.id, lambda f: f.model_copy(update={
        "content_blob": extracted, "expires_at": utcnow() - timedelta(seconds=1)}))

    report = await Pruner(app, backend).run_once()

    assert report.removed.get(KIND) == 1 and report.examples[KIND] == [old.id]
    assert await backend.records.find(KIND, old.id) is None
    assert not await backend.blobs.exists(old.blob_name) and not await backend.blobs.exists(extracted)
    assert await backend.records.find(KIND, young.id) is not None and await backend.blobs.exists(young.blob_name)
    assert (await Pruner(app, backend).run_once()).removed.get(KIND) is None  # nothing twice


async def test_a_deleted_file_keeps_its_expiry_and_is_pruned_like_any(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory)
    service = FileService(app, backend)
    stored = await uploaded(service)
    await service.delete(stored.id, tenant="acme")
    assert (await backend.records.get(KIND, stored.id)).expires_utc is not None  # soft delete keeps the expiry
    await service.repo.change(stored.id, lambda f: f.model_copy(update={"expires_at": utcnow()}))
    assert (await Pruner(app, backend).run_once()).removed.get(KIND) == 1
    assert await backend.records.find(KIND, stored.id) is None


async def test_an_extraction_is_queued_once_per_file_and_run(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory)
    service = FileService(app, backend)
    stored = await uploaded(service)
    await service.queue_extraction(stored)
    await service.queue_extraction(stored)  # a retried call, or a workflow step and POST /process at once
    job = await backend.jobs.get(extraction_job_id(stored.id, 0))
    assert job.service == EXTRACT_SERVICE and job.tenant == "acme" and job.payload == {"file_id": stored.id, "run": 0}
    listing = await backend.jobs.list(service=EXTRACT_SERVICE, limit=10)
    assert [j.job_id for j in listing.jobs] == [job.job_id]


async def test_triggered_workflows_lists_each_workflow_once(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    service = FileService(make_app(settings_factory), backend)
    stored = await uploaded(service)
    for workflow_id in ("wf-a", "wf-b", "wf-a"):
        await service.mark_triggered(stored.id, workflow_id)
    assert (await service.get(stored.id, tenant="acme")).triggered_workflows == ["wf-a", "wf-b"]
    assert await service.mark_triggered("no-such-file", "wf-a") is None


class Crash(BaseException):
    """A kill -9 right after the upload was stored: nothing after it runs (the bus does not catch it)."""


async def test_pending_file_events_are_listed_until_delivered_and_delivered_once(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    """The files' outbox on every adapter: the upload's event is stored with the file (indexed while pending), the
    sweep of a "restarted" app delivers it and queues the extraction once, and the index forgets the file."""
    crashing = make_app(settings_factory)
    seen: list[str] = []

    async def crash(event: Event) -> None:
        seen.append(event.subject)
        raise Crash()

    stop = crashing.events.subscribe("file.uploaded", crash)
    service = FileService(crashing, backend)
    with contextlib.suppress(Crash):
        await service.upload(Upload("lost.txt", chunks(b"lost event")), tenant="acme")
    stop()
    [lost_id] = seen
    delivered = await uploaded(service, "fine.txt")  # delivered at once: never pending
    repo = FileRepository(backend.records)
    files, cursor = await repo.with_pending_events(cursor=None)
    assert [f.id for f in files] == [lost_id] and cursor is None
    assert [e.topic for e in files[0].pending_events] == ["file.uploaded"]

    restarted = make_app(settings_factory)
    got: list[Event] = []

    async def record(event: Event) -> None:
        got.append(event)

    restarted.events.subscribe("file.*", record)
    assert await restarted.events.outboxes.sweep(backend) == 1
    assert await restarted.events.outboxes.sweep(backend) == 0
    assert [(e.topic, e.subject, e.tenant, e.data["status"]) for e in got] == [
        ("file.uploaded", lost_id, "acme", "uploaded")]
    assert (await repo.with_pending_events(cursor=None))[0] == []
    assert (await backend.jobs.get(extraction_job_id(lost_id, 0))).payload == {"file_id": lost_id, "run": 0}
    assert (await repo.get(delivered.id, tenant="acme")).pending_events == []


async def test_a_change_from_a_stale_copy_reads_the_file_again(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    """FileRepository.change's one-write path (``current`` with its etag) falls back to read-and-retry when the
    file changed since that copy, on every adapter."""
    service = FileService(make_app(settings_factory), backend)
    stored = await uploaded(service)
    assert stored.etag is not None
    fresh = await service.repo.change(stored.id, lambda f: f.model_copy(update={"retry_count": 5}))
    assert fresh.etag not in (None, stored.etag)
    both = await service.repo.change(stored.id, lambda f: f.model_copy(update={"triggered_workflows": ["wf"]}),
                                     current=stored)  # stale: its etag lost
    assert both.retry_count == 5 and both.triggered_workflows == ["wf"]
    again = await service.repo.change(stored.id, lambda f: f.model_copy(update={"retry_count": 6}), current=both)
    assert again.retry_count == 6 and again.triggered_workflows == ["wf"]  # fresh: one conditional write
