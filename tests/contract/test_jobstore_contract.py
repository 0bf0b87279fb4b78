"""JobStore contract (see ``praisonai_svc.ports.JobStore``), checked against every adapter."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConcurrencyConflict, JobNotFound, PayloadError
from praisonai_svc.hashing import canonical_json, payload_hash
from praisonai_svc.models.job import Job, JobResult, JobStatus, utcnow
from praisonai_svc.ports import DuplicateJob, JobStore

JobFactory = Callable[..., Job]  # the ``new_job`` fixture

T0 = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)

NESTED_PAYLOAD: dict[str, Any] = {
    "title": "Grüße aus Köln 🌍 — «test» 日本語",
    "slides": [
        {"n": 1, "bullets": ["straße", "naïve", "emoji 🚀"], "notes": None},
        {"n": 2, "bullets": [], "layout": {"cols": 2, "ratio": 0.5, "tags": ["a", "b"]}},
    ],
    "options": {"flag": True, "off": False, "none": None, "float": 1.5, "int": 3, "big": 2**53, "neg": -7},
    "empty_obj": {},
    "empty_list": [],
    "text": "line1\nline2\ttab \"quoted\" \\ backslash \u0000 nul",
}

DATETIME_FIELDS = ("created_utc", "updated_utc", "started_utc", "finished_utc")


def same_payload(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal as canonical JSON, so 1 vs 1.0 and key types count (plain == would let them pass)."""
    return canonical_json(a) == canonical_json(b)


def assert_same_job(got: Job, expected: Job) -> None:
    assert got.model_dump() == expected.model_dump()
    assert same_payload(got.payload, expected.payload)
    for name in DATETIME_FIELDS:
        value = getattr(got, name)
        if value is not None:
            assert value.tzinfo is not None, f"{name} lost its timezone"
            assert value.utcoffset() == timedelta(0), f"{name} is not UTC"


async def create_with_status(store: JobStore, job: Job, status: JobStatus) -> Job:
    created = await store.create(job)
    if status is JobStatus.QUEUED:
        return created
    return await store.update(created.model_copy(update={"status": status, "updated_utc": utcnow()}))


async def outcome(coro: Any) -> Job | BaseException:
    try:
        return await coro  # type: ignore[no-any-return]
    except (DuplicateJob, ConcurrencyConflict) as exc:
        return exc


# --- create / get --------------------------------------------------------------------------------------------


async def test_create_then_get_roundtrips_every_field(backend: Backend) -> None:
    store = backend.jobs
    job = Job(
        job_id="job-roundtrip-0001",
        service="slides",
        status=JobStatus.PROCESSING,
        payload=NESTED_PAYLOAD,
        payload_hash=payload_hash(NESTED_PAYLOAD, "slides"),
        created_utc=T0,
        updated_utc=T0 + timedelta(milliseconds=1),
        started_utc=T0 + timedelta(seconds=2, microseconds=7),
        finished_utc=T0 + timedelta(minutes=3),
        attempts=2,
        error_msg="Erreur: déjà vu ✗\nsecond line",
        progress=0.25,
        progress_msg="Halfway — 50 % ✓",
        result=JobResult(
            blob_name="slides/job-roundtrip-0001/out.pptx",
            content_type="application/vnd.openxmlformats-officedocument.presentationml.presentation",
            filename="Präsentation 2024.pptx",
            size=123_456,
        ),
        message_id="msg-42",
    )
    created = await store.create(job)
    assert created.etag, "create must return the job with its etag set"
    assert_same_job(created, job)

    got = await store.get(job.job_id)
    assert_same_job(got, job)
    assert got.etag == created.etag
    assert got.payload["options"]["big"] == 2**53 and isinstance(got.payload["options"]["big"], int)
    assert isinstance(got.payload["options"]["float"], float)


async def test_create_roundtrips_a_minimal_job(backend: Backend, new_job: JobFactory) -> None:
    job = new_job(created=T0)
    await backend.jobs.create(job)
    got = await backend.jobs.get(job.job_id)
    assert_same_job(got, job)
    assert got.started_utc is None and got.finished_utc is None and got.result is None and got.progress is None


async def test_get_missing_raises_job_not_found(backend: Backend) -> None:
    with pytest.raises(JobNotFound):
        await backend.jobs.get("no-such-job")


async def test_create_returns_a_copy_not_a_live_reference(backend: Backend, new_job: JobFactory) -> None:
    job = new_job(payload={"a": [1, 2]})
    created = await backend.jobs.create(job)
    created.payload["a"].append(3)
    created.status = JobStatus.DONE
    got = await backend.jobs.get(job.job_id)
    assert got.payload == {"a": [1, 2]}
    assert got.status is JobStatus.QUEUED


async def test_payload_of_about_900_kb_roundtrips(backend: Backend, new_job: JobFactory) -> None:
    payload: dict[str, Any] = {
        "ascii": "x" * 400_000,
        "unicode": "é✓日" * 40_000,  # multi-byte characters: 2, 3 and 3 bytes in UTF-8
        "rows": [{"i": i, "label": f"row {i}", "ok": i % 2 == 0} for i in range(4_000)],
    }
    size = len(canonical_json(payload).encode())
    assert 850_000 < size < 1_000_000, size
    job = new_job(payload)
    store = backend.jobs
    created = await store.create(job)
    got = await store.get(job.job_id)
    assert same_payload(got.payload, payload)

    # A status update must not lose or truncate the (large, immutable) payload.
    await store.update(got.model_copy(update={"status": JobStatus.DONE, "progress": 1.0}))
    again = await store.get(job.job_id)
    assert again.status is JobStatus.DONE and again.etag != created.etag
    assert same_payload(again.payload, payload)
    holder = await store.find_by_hash(job.payload_hash)
    assert holder is not None and same_payload(holder.payload, payload)
    listed = (await store.list(limit=5)).jobs
    assert [j.job_id for j in listed] == [job.job_id]
    assert same_payload(listed[0].payload, payload)


def payload_of_size(size: int, char: str = "x") -> dict[str, Any]:
    """A payload whose canonical JSON is exactly ``size`` UTF-8 bytes (``char`` must divide the filler)."""
    filler = size - len(canonical_json({"s": ""}).encode())
    width = len(char.encode())
    assert filler % width == 0
    payload = {"s": char * (filler // width)}
    assert len(canonical_json(payload).encode()) == size
    return payload


@pytest.mark.parametrize(
    ("size", "char"),
    [(32 * 1024 - 1, "x"), (32 * 1024, "x"), (32 * 1024 + 1, "x"), (64 * 1024 + 4, "🚀"), (8 + 3 * 32_768, "日")],
    ids=["32k-1", "32k", "32k+1", "64k-emoji", "96k-cjk"],
)
async def test_payloads_around_storage_limits_roundtrip(
    backend: Backend, new_job: JobFactory, size: int, char: str
) -> None:
    """Sizes around where an adapter may switch storage (inline property vs. side blob, 32/64 KiB limits)."""
    payload = payload_of_size(size, char)
    job = new_job(payload)
    store = backend.jobs
    created = await store.create(job)
    got = await store.get(job.job_id)
    assert same_payload(got.payload, payload)
    await store.update(got.model_copy(update={"status": JobStatus.DONE}))
    assert same_payload((await store.get(job.job_id)).payload, payload)
    await store.delete(created.job_id)
    assert await store.find_by_hash(job.payload_hash) is None


async def test_non_utc_offsets_keep_the_instant(backend: Backend, new_job: JobFactory) -> None:
    """Aware datetimes in another zone are stored as the same instant (adapters may normalise them to UTC)."""
    cest = timezone(timedelta(hours=2))
    started = datetime(2024, 5, 17, 11, 30, 15, 123456, tzinfo=cest)
    job = new_job(created=T0, started_utc=started)
    await backend.jobs.create(job)
    got = await backend.jobs.get(job.job_id)
    assert got.started_utc == started, f"{got.started_utc} is not the instant {started}"
    assert got.created_utc == T0


# --- update / etag -------------------------------------------------------------------------------------------


async def test_etag_changes_on_every_update_and_get_returns_the_latest(
    backend: Backend, new_job: JobFactory
) -> None:
    store = backend.jobs
    current = await store.create(new_job())
    seen = {current.etag}
    for attempt in range(1, 5):
        current = await store.update(
            current.model_copy(update={"status": JobStatus.PROCESSING, "attempts": attempt, "updated_utc": utcnow()})
        )
        assert current.etag and current.etag not in seen
        seen.add(current.etag)
        fetched = await store.get(current.job_id)
        assert fetched.etag == current.etag
        assert fetched.attempts == attempt and fetched.status is JobStatus.PROCESSING


async def test_update_persists_changed_fields(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    created = await store.create(new_job())
    finished = T0 + timedelta(hours=1, microseconds=654321)
    result = JobResult(blob_name="svc/x/out.txt", content_type="text/plain; charset=utf-8", filename="résumé.txt",
                       size=5)
    updated = await store.update(created.model_copy(update={
        "status": JobStatus.DONE, "finished_utc": finished, "result": result, "progress": 1.0,
        "progress_msg": "fertig ✓", "error_msg": None, "attempts": 1, "message_id": "m-7",
    }))
    got = await store.get(created.job_id)
    assert_same_job(got, updated)
    assert got.finished_utc == finished and got.result == result and got.status is JobStatus.DONE


async def test_update_persists_every_output_of_a_multi_file_job(backend: Backend, new_job: JobFactory) -> None:
    from praisonai_svc.models.job import StoredOutput
    from praisonai_svc.outputs import MAX_OUTPUTS
    from praisonai_svc.outputs.collect import MAX_CONTENT_TYPE

    store = backend.jobs
    created = await store.create(new_job())
    # The most a job may have, with the longest names and types: they fit its one record on every backend.
    names = [f"{'x' * 112}-{index:03d}.png" for index in range(MAX_OUTPUTS)]
    outputs = [StoredOutput(filename=name, content_type="application/" + "y" * (MAX_CONTENT_TYPE - 12),
                            size=5_000_000_000 + index, sha256=f"{index:064x}", crc32=0xFFFF_FFFF - index,
                            blob_name=f"{created.service}/{created.job_id}/{name}")
               for index, name in enumerate(names)]
    updated = await store.update(created.model_copy(update={"status": JobStatus.DONE, "outputs": outputs}))
    got = await store.get(created.job_id)
    assert got.outputs == outputs == updated.outputs
    assert got.result is None


async def test_update_with_stale_etag_conflicts_and_changes_nothing(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    first = await store.create(new_job())
    second = await store.update(first.model_copy(update={"status": JobStatus.PROCESSING, "attempts": 1}))
    with pytest.raises(ConcurrencyConflict):
        await store.update(first.model_copy(update={"status": JobStatus.ERROR, "error_msg": "stale writer"}))
    got = await store.get(first.job_id)
    assert got.status is JobStatus.PROCESSING and got.error_msg is None and got.attempts == 1
    assert got.etag == second.etag


async def test_update_without_etag_conflicts(backend: Backend, new_job: JobFactory) -> None:
    """``job.etag = None`` never equals the stored etag: an unconditional overwrite would lose updates."""
    store = backend.jobs
    created = await store.create(new_job())
    with pytest.raises(ConcurrencyConflict):
        await store.update(created.model_copy(update={"etag": None, "status": JobStatus.DONE}))
    assert (await store.get(created.job_id)).status is JobStatus.QUEUED


async def test_jobs_from_list_can_be_updated_with_their_etag(backend: Backend, new_job: JobFactory) -> None:
    """The reaper lists stuck jobs and updates them: a listed job's etag works like one from ``get``."""
    store = backend.jobs
    created = await store.create(new_job())
    (listed,) = (await store.list()).jobs
    assert listed.etag
    updated = await store.update(listed.model_copy(update={"status": JobStatus.ERROR, "error_msg": "reaped"}))
    got = await store.get(created.job_id)
    assert got.status is JobStatus.ERROR and got.error_msg == "reaped" and got.etag == updated.etag
    (relisted,) = (await store.list()).jobs
    assert relisted.status is JobStatus.ERROR

    with pytest.raises(ConcurrencyConflict):  # the listed copy is stale now
        await store.update(listed.model_copy(update={"status": JobStatus.DONE}))
    with pytest.raises(ConcurrencyConflict):  # and so is the etag create returned
        await store.update(created.model_copy(update={"status": JobStatus.DONE}))
    await store.update(relisted.model_copy(update={"status": JobStatus.QUEUED}))
    assert (await store.get(created.job_id)).status is JobStatus.QUEUED


async def test_update_ignoring_payload_changes_never_corrupts_the_job(backend: Backend, new_job: JobFactory) -> None:
    """``payload`` is immutable: an update carrying another payload may be ignored, but must not break the job."""
    store = backend.jobs
    small, big = {"size": "small"}, payload_of_size(100_000)
    for original, other in ((small, big), (big, small)):
        created = await store.create(new_job(original))
        await store.update(created.model_copy(update={"payload": other, "status": JobStatus.PROCESSING}))
        got = await store.get(created.job_id)  # must not fail
        assert got.status is JobStatus.PROCESSING
        assert same_payload(got.payload, original) or same_payload(got.payload, other)
        listed = [j for j in (await store.list()).jobs if j.job_id == created.job_id]
        assert len(listed) == 1 and same_payload(listed[0].payload, got.payload)


async def test_update_ignoring_payload_hash_changes_keeps_the_claim(backend: Backend, new_job: JobFactory) -> None:
    """``payload_hash`` is immutable: the claim stays with the original hash, and delete releases that one."""
    store = backend.jobs
    job = new_job({"claim": "original"})
    created = await store.create(job)
    await store.update(created.model_copy(update={"payload_hash": "f" * 64}))
    holder = await store.find_by_hash(job.payload_hash)
    assert holder is not None and holder.job_id == job.job_id
    with pytest.raises(DuplicateJob):
        await store.create(new_job({"claim": "original"}))
    await store.delete(job.job_id)
    assert await store.find_by_hash(job.payload_hash) is None
    await store.create(new_job({"claim": "original"}))


async def test_update_of_created_utc_keeps_one_listing_entry(backend: Backend, new_job: JobFactory) -> None:
    """Whatever an adapter does with a changed ``created_utc``, the job must stay listed exactly once."""
    store = backend.jobs
    created = await store.create(new_job(created=T0))
    await store.update(created.model_copy(update={"created_utc": T0 + timedelta(days=1), "status": JobStatus.DONE}))
    listed = (await store.list()).jobs
    assert [j.job_id for j in listed] == [created.job_id]
    assert listed[0].status is JobStatus.DONE
    assert [j.job_id for j in (await store.list(status=JobStatus.QUEUED)).jobs] == []


async def test_concurrent_updates_with_the_same_etag_exactly_one_wins(
    backend: Backend, new_job: JobFactory
) -> None:
    store = backend.jobs
    created = await store.create(new_job())
    results = await asyncio.gather(*[
        outcome(store.update(created.model_copy(update={"attempts": n, "status": JobStatus.PROCESSING})))
        for n in range(1, 11)
    ])
    winners = [r for r in results if isinstance(r, Job)]
    assert len(winners) == 1, results
    assert all(isinstance(r, ConcurrencyConflict) for r in results if not isinstance(r, Job))
    got = await store.get(created.job_id)
    assert got.attempts == winners[0].attempts and got.etag == winners[0].etag


async def test_update_of_deleted_or_unknown_job_raises_job_not_found(
    backend: Backend, new_job: JobFactory
) -> None:
    store = backend.jobs
    created = await store.create(new_job())
    await store.delete(created.job_id)
    with pytest.raises(JobNotFound):
        await store.update(created.model_copy(update={"status": JobStatus.DONE}))
    with pytest.raises(JobNotFound):
        await store.update(new_job().model_copy(update={"etag": created.etag}))
    with pytest.raises(JobNotFound):
        await store.get(created.job_id)


async def test_update_does_not_change_the_payload_or_its_hash_claim(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    job = new_job({"keep": "me"})
    created = await store.create(job)
    await store.update(created.model_copy(update={"status": JobStatus.PROCESSING}))
    got = await store.get(job.job_id)
    assert got.payload == {"keep": "me"} and got.payload_hash == job.payload_hash
    holder = await store.find_by_hash(job.payload_hash)
    assert holder is not None and holder.job_id == job.job_id and holder.status is JobStatus.PROCESSING


# --- delete --------------------------------------------------------------------------------------------------


async def test_delete_is_idempotent_and_releases_the_hash_claim(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    first = new_job({"same": "payload"})
    other = await store.create(new_job())
    await store.create(first)
    await store.delete(first.job_id)
    await store.delete(first.job_id)  # again: not an error
    await store.delete("never-existed")
    with pytest.raises(JobNotFound):
        await store.get(first.job_id)
    assert await store.find_by_hash(first.payload_hash) is None

    second = new_job({"same": "payload"})
    assert second.payload_hash == first.payload_hash
    await store.create(second)  # the claim was released: no DuplicateJob
    holder = await store.find_by_hash(first.payload_hash)
    assert holder is not None and holder.job_id == second.job_id
    assert (await store.get(other.job_id)).job_id == other.job_id  # deleting one job leaves others alone


# --- idempotency claims --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.DONE])
async def test_create_with_a_live_claimed_hash_raises_duplicate_naming_the_holder(
    backend: Backend, new_job: JobFactory, status: JobStatus
) -> None:
    store = backend.jobs
    holder = await create_with_status(store, new_job({"topic": "same"}), status)
    late = new_job({"topic": "same"})
    with pytest.raises(DuplicateJob) as caught:
        await store.create(late)
    existing = caught.value.existing
    assert existing.job_id == holder.job_id
    assert existing.status is status
    assert existing.payload == {"topic": "same"} and existing.payload_hash == holder.payload_hash
    with pytest.raises(JobNotFound):
        await store.get(late.job_id)  # the loser was not stored
    found = await store.find_by_hash(holder.payload_hash)
    assert found is not None and found.job_id == holder.job_id


async def test_a_hash_held_by_an_error_job_is_taken_over(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    failed = await create_with_status(store, new_job({"topic": "retry me"}), JobStatus.ERROR)
    retry = new_job({"topic": "retry me"})
    created = await store.create(retry)
    assert created.etag
    found = await store.find_by_hash(retry.payload_hash)
    assert found is not None and found.job_id == retry.job_id
    old = await store.get(failed.job_id)  # the failed job stays readable
    assert old.status is JobStatus.ERROR

    with pytest.raises(DuplicateJob) as caught:  # the new holder is live again
        await store.create(new_job({"topic": "retry me"}))
    assert caught.value.existing.job_id == retry.job_id

    # Deleting the old error job must not release the claim the new job now holds.
    await store.delete(failed.job_id)
    found = await store.find_by_hash(retry.payload_hash)
    assert found is not None and found.job_id == retry.job_id
    with pytest.raises(DuplicateJob):
        await store.create(new_job({"topic": "retry me"}))


async def test_find_by_hash_of_an_unclaimed_hash_is_none(backend: Backend) -> None:
    assert await backend.jobs.find_by_hash(payload_hash({"nobody": "here"}, "svc")) is None


async def test_different_hashes_do_not_collide(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    a = await store.create(new_job({"topic": "a"}))
    b = await store.create(new_job({"topic": "b"}))
    c = await store.create(new_job({"topic": "a"}, service="other-service"))  # same payload, other scope
    assert len({a.payload_hash, b.payload_hash, c.payload_hash}) == 3
    for job in (a, b, c):
        found = await store.find_by_hash(job.payload_hash)
        assert found is not None and found.job_id == job.job_id


async def test_fifty_concurrent_creates_of_one_hash_make_exactly_one_job(
    backend: Backend, new_job: JobFactory
) -> None:
    store = backend.jobs
    contenders = [new_job({"same": "payload"}, service="race") for _ in range(50)]
    results = await asyncio.gather(*[outcome(store.create(job)) for job in contenders])

    winners = [r for r in results if isinstance(r, Job)]
    assert len(winners) == 1, f"{len(winners)} creates succeeded"
    winner = winners[0]
    losers = [r for r in results if not isinstance(r, Job)]
    assert len(losers) == 49 and all(isinstance(r, DuplicateJob) for r in losers)
    assert {r.existing.job_id for r in losers if isinstance(r, DuplicateJob)} == {winner.job_id}

    found = await store.find_by_hash(winner.payload_hash)
    assert found is not None and found.job_id == winner.job_id
    listed = await store.list(service="race", limit=100)
    assert [j.job_id for j in listed.jobs] == [winner.job_id], "losing creates must leave no rows behind"


async def test_concurrent_takeovers_of_an_error_claim_make_exactly_one_job(
    backend: Backend, new_job: JobFactory
) -> None:
    store = backend.jobs
    failed = await create_with_status(store, new_job({"same": "payload"}), JobStatus.ERROR)
    results = await asyncio.gather(*[outcome(store.create(new_job({"same": "payload"}))) for _ in range(20)])
    winners = [r for r in results if isinstance(r, Job)]
    assert len(winners) == 1, f"{len(winners)} takeovers succeeded"
    assert all(
        isinstance(r, DuplicateJob) and r.existing.job_id == winners[0].job_id
        for r in results if not isinstance(r, Job)
    )
    found = await store.find_by_hash(failed.payload_hash)
    assert found is not None and found.job_id == winners[0].job_id


async def test_two_backends_on_one_storage_share_claims_and_etags(
    backend: Backend, twin_backend: Backend, new_job: JobFactory
) -> None:
    """Another process (a second API replica, or the worker) sees the same jobs, claims and etags."""
    mine, theirs = backend.jobs, twin_backend.jobs
    contenders = [new_job({"same": "payload"}, service="race") for _ in range(30)]
    results = await asyncio.gather(*[
        outcome((mine if n % 2 else theirs).create(job)) for n, job in enumerate(contenders)
    ])
    winners = [r for r in results if isinstance(r, Job)]
    assert len(winners) == 1, f"{len(winners)} creates succeeded across two backends"
    assert all(isinstance(r, DuplicateJob) and r.existing.job_id == winners[0].job_id
               for r in results if not isinstance(r, Job))

    seen_by_twin = await theirs.get(winners[0].job_id)
    updated = await mine.update(seen_by_twin.model_copy(update={"status": JobStatus.PROCESSING}))
    with pytest.raises(ConcurrencyConflict):
        await theirs.update(seen_by_twin.model_copy(update={"status": JobStatus.ERROR}))
    assert (await theirs.get(updated.job_id)).etag == updated.etag


# --- list ----------------------------------------------------------------------------------------------------


async def make_listing_fixture(store: JobStore, new_job: JobFactory) -> list[Job]:
    """12 jobs, one second apart, alternating services, with a mix of statuses; returned newest first."""
    statuses = [JobStatus.QUEUED, JobStatus.DONE, JobStatus.ERROR, JobStatus.PROCESSING]
    jobs = []
    for i in range(12):
        job = new_job(service="alpha" if i % 2 == 0 else "beta", created=T0 + timedelta(seconds=i))
        jobs.append(await create_with_status(store, job, statuses[(i // 2) % 4]))
    return sorted(jobs, key=lambda j: j.created_utc, reverse=True)


async def test_list_is_newest_first_and_filters_by_service_and_status(
    backend: Backend, new_job: JobFactory
) -> None:
    store = backend.jobs
    jobs = await make_listing_fixture(store, new_job)

    def ids(selected: list[Job]) -> list[str]:
        return [j.job_id for j in selected]

    everything = await store.list()
    assert ids(everything.jobs) == ids(jobs) and everything.next_cursor is None
    for service in ("alpha", "beta", "nobody"):
        page = await store.list(service=service)
        assert ids(page.jobs) == ids([j for j in jobs if j.service == service])
    for status in JobStatus:
        page = await store.list(status=status)
        assert ids(page.jobs) == ids([j for j in jobs if j.status is status])
        assert all(j.status is status for j in page.jobs)
    both = await store.list(service="alpha", status=JobStatus.DONE)
    assert ids(both.jobs) == ids([j for j in jobs if j.service == "alpha" and j.status is JobStatus.DONE])
    assert both.jobs, "the fixture has alpha jobs that are done"
    assert ids((await store.list(limit=3)).jobs) == ids(jobs[:3])


async def test_list_reflects_status_updates(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    created = await store.create(new_job())
    await store.update(created.model_copy(update={"status": JobStatus.DONE}))
    assert [j.job_id for j in (await store.list(status=JobStatus.DONE)).jobs] == [created.job_id]
    assert (await store.list(status=JobStatus.QUEUED)).jobs == []
    assert (await store.list(status=JobStatus.DONE)).jobs[0].status is JobStatus.DONE


async def collect_pages(store: JobStore, limit: int, **filters: Any) -> list[list[Job]]:
    pages: list[list[Job]] = []
    cursor: str | None = None
    while True:
        page = await store.list(limit=limit, cursor=cursor, **filters)
        assert len(page.jobs) <= limit
        pages.append(page.jobs)
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not terminate"


def assert_newest_first(jobs: list[Job]) -> None:
    created = [j.created_utc for j in jobs]
    assert created == sorted(created, reverse=True)


async def test_pagination_covers_every_job_exactly_once(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    # Pairs of jobs share a creation time, so the cursor must break ties (by job id) to lose or repeat nothing.
    jobs = [
        await store.create(new_job(service="alpha" if i % 3 else "beta", created=T0 + timedelta(seconds=i // 2)))
        for i in range(25)
    ]
    pages = await collect_pages(store, limit=7)
    flat = [j for page in pages for j in page]
    assert len(flat) == len({j.job_id for j in flat}), "a job appeared on two pages"
    assert {j.job_id for j in flat} == {j.job_id for j in jobs}
    assert len(pages) >= 4 and all(page for page in pages[:-1])
    assert_newest_first(flat)

    alpha = [j for page in await collect_pages(store, limit=3, service="alpha") for j in page]
    assert sorted(j.job_id for j in alpha) == sorted(j.job_id for j in jobs if j.service == "alpha")
    assert_newest_first(alpha)


async def test_pagination_with_a_status_filter(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    jobs = [await store.create(new_job(created=T0 + timedelta(seconds=i))) for i in range(10)]
    done = [await store.update(job.model_copy(update={"status": JobStatus.DONE})) for job in jobs[1::2]]
    pages = await collect_pages(store, limit=2, status=JobStatus.DONE)
    flat = [j for page in pages for j in page]
    assert [j.job_id for j in flat] == [j.job_id for j in reversed(done)]


@pytest.mark.parametrize(
    "cursor",
    [
        "%%% not a cursor %%%",
        base64.urlsafe_b64encode(b"foo").decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"created": "x"}').decode(),
    ],
)
async def test_list_with_an_invalid_cursor_raises_payload_error(
    backend: Backend, new_job: JobFactory, cursor: str
) -> None:
    await backend.jobs.create(new_job())
    with pytest.raises(PayloadError):
        await backend.jobs.list(cursor=cursor)


# --- health --------------------------------------------------------------------------------------------------


async def test_check_passes(backend: Backend) -> None:
    await backend.jobs.check()
    await backend.check()


async def test_cancelled_is_listed_by_status_and_releases_the_hash_claim(
    backend: Backend, new_job: JobFactory
) -> None:
    store = backend.jobs
    first = await store.create(new_job({"cancel": "me"}))
    now = utcnow()
    cancelled = await store.update(first.model_copy(update={
        "status": JobStatus.CANCELLED, "finished_utc": now, "cancel_requested_utc": now, "updated_utc": now}))
    assert (await store.get(first.job_id)).cancel_requested_utc == now
    assert [j.job_id for j in (await store.list(status=JobStatus.CANCELLED)).jobs] == [cancelled.job_id]
    assert (await store.list(status=JobStatus.QUEUED)).jobs == []
    assert (await store.count_by_status())[JobStatus.CANCELLED] == 1
    again = await store.create(new_job({"cancel": "me"}))  # a cancelled job, like an error one, lets go of its hash
    assert again.job_id != first.job_id
    assert (await store.find_by_hash(again.payload_hash)).job_id == again.job_id  # type: ignore[union-attr]
