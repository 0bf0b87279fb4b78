"""Retention over every adapter (memory, local, Azurite): the JobStore primitives the pruner and the idempotency
window rely on, and the pruner's end-to-end promise — a job past retention is gone with its output, list entry
and hash claim; a payload submitted again after the window (or after its output vanished) makes a new job."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import Job, JobRequest, JobResult, JobStatus, utcnow
from praisonai_svc.records import Record
from praisonai_svc.retention import Pruner
from praisonai_svc.settings import Settings

JobFactory = Callable[..., Job]


def make_app(settings_factory: Callable[..., Settings], **values: Any) -> ServiceApp:
    app = ServiceApp("retention", settings=settings_factory(**values))

    @app.job("svc")
    def handler(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"x", "text/plain", "x.txt"

    return app


async def finish(backend: Backend, job: Job, *, status: JobStatus = JobStatus.DONE, output: bool = True) -> Job:
    """Mark ``job`` terminal as a worker would, with an output blob when ``output``."""
    current = await backend.jobs.get(job.job_id)
    result = None
    if output and status is JobStatus.DONE:
        name = f"svc/{job.job_id}/out file.txt"
        await backend.blobs.put(name, b"result", content_type="text/plain", filename="out file.txt")
        result = JobResult(blob_name=name, content_type="text/plain", filename="out file.txt", size=6)
    return await backend.jobs.update(current.model_copy(update={"status": status, "result": result,
                                                                "finished_utc": utcnow()}))


async def test_prunable_lists_only_terminal_jobs_created_before_the_cutoff(
    backend: Backend, new_job: JobFactory
) -> None:
    old = utcnow() - timedelta(days=40)
    done_old = await backend.jobs.create(new_job(created=old))
    error_old = await backend.jobs.create(new_job(created=old + timedelta(seconds=1)))
    queued_old = await backend.jobs.create(new_job(created=old))
    done_new = await backend.jobs.create(new_job())
    await finish(backend, done_old)
    await finish(backend, error_old, status=JobStatus.ERROR)
    await finish(backend, done_new)
    found = await backend.jobs.prunable(before=utcnow() - timedelta(days=30))
    assert sorted(j.job_id for j in found) == sorted([done_old.job_id, error_old.job_id])
    assert queued_old.job_id not in {j.job_id for j in found}
    assert len(await backend.jobs.prunable(before=utcnow() - timedelta(days=30), limit=1)) == 1
    assert await backend.jobs.prunable(before=old - timedelta(days=1)) == []


async def test_release_claim_only_releases_a_claim_the_job_still_holds(backend: Backend, new_job: JobFactory) -> None:
    first = await backend.jobs.create(new_job({"same": 1}))
    await backend.jobs.release_claim(first.payload_hash, "someone-else")
    assert (await backend.jobs.find_by_hash(first.payload_hash)) is not None
    await backend.jobs.release_claim(first.payload_hash, first.job_id)
    assert await backend.jobs.find_by_hash(first.payload_hash) is None
    assert (await backend.jobs.get(first.job_id)).job_id == first.job_id  # the job itself stays
    second = await backend.jobs.create(new_job({"same": 1}))
    assert (await backend.jobs.find_by_hash(second.payload_hash)).job_id == second.job_id  # type: ignore[union-attr]


async def test_pruner_removes_old_jobs_with_output_list_entry_and_claim(
    backend: Backend, new_job: JobFactory, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory, job_retention="30d")
    old = await backend.jobs.create(new_job({"old": 1}, created=utcnow() - timedelta(days=31)))
    young = await backend.jobs.create(new_job({"young": 1}, created=utcnow() - timedelta(days=1)))
    old, young = await finish(backend, old), await finish(backend, young)
    assert old.result is not None and young.result is not None

    dry = await Pruner(app, backend).run_once(dry_run=True)
    assert dry.removed == {"job": 1} and dry.outputs == 1
    assert await backend.blobs.exists(old.result.blob_name)

    report = await Pruner(app, backend).run_once()
    assert report.removed == {"job": 1} and report.examples["job"] == [old.job_id]
    assert not await backend.blobs.exists(old.result.blob_name)
    assert await backend.jobs.find_by_hash(old.payload_hash) is None
    listed = {j.job_id for j in (await backend.jobs.list(limit=100)).jobs}
    assert old.job_id not in listed and young.job_id in listed
    assert await backend.blobs.exists(young.result.blob_name)
    again = await Pruner(app, backend).run_once()
    assert again.removed == {}  # nothing twice


async def test_pruner_works_in_batches_and_honours_older_than(
    backend: Backend, new_job: JobFactory, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory, prune_batch_size=2)
    jobs = [await backend.jobs.create(new_job(created=utcnow() - timedelta(hours=3))) for _ in range(5)]
    for job in jobs:
        await finish(backend, job, output=False)
    assert (await Pruner(app, backend).run_once()).removed == {}  # within the 30-day default
    report = await Pruner(app, backend).run_once(older_than=timedelta(hours=2))
    assert report.removed == {"job": 5}
    assert (await backend.jobs.list(limit=10)).jobs == []


async def test_expired_records_of_tracked_kinds_are_pruned_after_their_hook(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory)
    removed_blobs: list[str] = []

    async def drop_blob(record: Record, storage: Backend) -> None:
        assert storage is backend  # the hook gets the pruner's storage
        await storage.blobs.delete(record.body["blob"])
        removed_blobs.append(record.body["blob"])

    app.retention.track("upload", drop_blob)
    await backend.blobs.put("files/a.txt", b"a", content_type="text/plain", filename="a.txt")
    await backend.records.create(Record("upload", "old", {"blob": "files/a.txt"},
                                        expires_utc=utcnow() - timedelta(minutes=1)))
    await backend.records.create(Record("upload", "new", {"blob": "files/b.txt"},
                                        expires_utc=utcnow() + timedelta(days=1)))
    await backend.records.create(Record("untracked", "old", {}, expires_utc=utcnow() - timedelta(days=1)))
    report = await Pruner(app, backend).run_once()
    assert report.removed == {"upload": 1} and removed_blobs == ["files/a.txt"]
    assert not await backend.blobs.exists("files/a.txt")
    assert await backend.records.find("upload", "new") is not None
    assert await backend.records.find("untracked", "old") is not None


async def test_same_payload_within_the_window_is_the_same_job_and_after_it_a_new_one(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory, idempotency_window="5s")
    service = JobService(app, backend)
    first = await service.submit(JobRequest(payload={"deck": "q3"}))
    await finish(backend, first.job)
    within = await service.submit(JobRequest(payload={"deck": "q3"}))
    assert not within.created and within.job.job_id == first.job.job_id
    await asyncio.sleep(5.2)  # let the 5-second window pass (no timing is asserted)
    after = await service.submit(JobRequest(payload={"deck": "q3"}))
    assert after.created and after.job.job_id != first.job.job_id
    again = await service.submit(JobRequest(payload={"deck": "q3"}))
    assert not again.created and again.job.job_id == after.job.job_id


async def test_a_done_job_whose_output_is_gone_is_never_an_idempotent_hit(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory)
    service = JobService(app, backend)
    first = await service.submit(JobRequest(payload={"deck": "lost"}))
    done = await finish(backend, first.job)
    assert done.result is not None
    await backend.blobs.delete(done.result.blob_name)  # e.g. the blob lifecycle rule, or an operator
    second = await service.submit(JobRequest(payload={"deck": "lost"}))
    assert second.created and second.job.job_id != first.job.job_id


async def test_concurrent_resubmits_after_the_window_make_exactly_one_new_job(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    app = make_app(settings_factory, idempotency_window="5s")
    service = JobService(app, backend)
    first = await service.submit(JobRequest(payload={"deck": "race"}))
    await finish(backend, first.job)
    await asyncio.sleep(5.2)
    outcomes = await asyncio.gather(*(service.submit(JobRequest(payload={"deck": "race"})) for _ in range(10)))
    new_ids = {o.job.job_id for o in outcomes}
    assert len(new_ids) == 1 and first.job.job_id not in new_ids
    assert sum(o.created for o in outcomes) == 1


async def test_pruner_removes_every_output_of_a_multi_file_job(
    backend: Backend, new_job: JobFactory, settings_factory: Callable[..., Settings]
) -> None:
    from praisonai_svc.outputs import coerce_outputs
    from praisonai_svc.outputs.store import store_outputs

    app = make_app(settings_factory, job_retention="30d")
    old = await backend.jobs.create(new_job({"multi": 1}, created=utcnow() - timedelta(days=31)))
    stored = await store_outputs(backend.blobs, f"svc/{old.job_id}", coerce_outputs(
        [(b"a", "text/plain", "a.txt"), (b"b", "text/plain", "b.txt"), (b"c", "text/plain", "c.txt")]))
    current = await backend.jobs.get(old.job_id)
    await backend.jobs.update(current.model_copy(update={"status": JobStatus.DONE, "outputs": stored,
                                                         "finished_utc": utcnow()}))
    assert (await Pruner(app, backend).run_once(dry_run=True)).outputs == 3
    report = await Pruner(app, backend).run_once()
    assert report.removed == {"job": 1} and report.outputs == 3
    assert [await backend.blobs.exists(output.blob_name) for output in stored] == [False, False, False]


async def test_pruner_removes_usage_buckets_past_their_own_retention(
    backend: Backend, settings_factory: Callable[..., Settings]
) -> None:
    """Hourly buckets follow PRAISONAI_USAGE_HOURLY_RETENTION, daily rollups the (longer) DAILY one."""
    from praisonai_svc.usage.buckets import KIND_DAY, KIND_HOUR
    from praisonai_svc.usage.runtime import metering

    app = make_app(settings_factory, usage_hourly_retention="2d", usage_daily_retention="10d")
    async with metering(app.settings, backend) as meter:
        for days_ago in (1, 5, 20):  # kept both / hourly gone, daily kept / both gone
            meter.record("acme", "svc", at=utcnow() - timedelta(days=days_ago), jobs_done=1)
        assert await meter.flush() == 6
    report = await Pruner(app, backend).run_once()
    assert report.removed == {KIND_HOUR: 2, KIND_DAY: 1}
    hours = await backend.records.list(KIND_HOUR, where={"tenant": "acme"})
    days = await backend.records.list(KIND_DAY, where={"tenant": "acme"})
    assert len(hours.records) == 1 and len(days.records) == 2
