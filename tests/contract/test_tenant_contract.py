"""JobStore contract for tenants (``Job.tenant`` and ``list(tenant=...)``), checked against every adapter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from praisonai_svc.backend import Backend
from praisonai_svc.models.job import Job, JobStatus

JobFactory = Callable[..., Job]
T0 = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def ids(jobs: list[Job]) -> list[str]:
    return [job.job_id for job in jobs]


async def test_tenant_roundtrips_through_get_find_and_list(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    created = await store.create(new_job(tenant="acme"))
    plain = await store.create(new_job())
    assert (await store.get(created.job_id)).tenant == "acme"
    assert (await store.get(plain.job_id)).tenant is None
    found = await store.find_by_hash(created.payload_hash)
    assert found is not None and found.tenant == "acme"
    listed = {job.job_id: job.tenant for job in (await store.list()).jobs}
    assert listed == {created.job_id: "acme", plain.job_id: None}


async def test_list_by_tenant_sees_only_that_tenants_jobs(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    tenants = ["acme", "globex", None]
    jobs = [
        await store.create(new_job(tenant=tenants[i % 3], service="alpha" if i % 2 else "beta",
                                   created=T0 + timedelta(seconds=i)))
        for i in range(12)
    ]
    newest_first = sorted(jobs, key=lambda j: j.created_utc, reverse=True)
    for tenant in ("acme", "globex"):
        page = await store.list(tenant=tenant)
        assert ids(page.jobs) == ids([j for j in newest_first if j.tenant == tenant])
        assert all(job.tenant == tenant for job in page.jobs)
        alpha = await store.list(tenant=tenant, service="alpha")
        assert ids(alpha.jobs) == ids([j for j in newest_first if j.tenant == tenant and j.service == "alpha"])
    assert (await store.list(tenant="nobody")).jobs == []
    assert ids((await store.list()).jobs) == ids(newest_first), "no tenant filter lists every job"


async def test_tenant_filter_combines_with_status_and_pagination(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    mine: list[Job] = []
    for i in range(14):
        job = await store.create(new_job(tenant="acme" if i % 2 else "globex", created=T0 + timedelta(seconds=i)))
        if i % 2:
            job = await store.update(job.model_copy(update={"status": JobStatus.DONE}))
            mine.append(job)
    collected: list[Job] = []
    cursor: str | None = None
    for _ in range(10):
        page = await store.list(tenant="acme", status=JobStatus.DONE, limit=3, cursor=cursor)
        collected.extend(page.jobs)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert ids(collected) == ids(sorted(mine, key=lambda j: j.created_utc, reverse=True))
    assert (await store.list(tenant="globex", status=JobStatus.DONE)).jobs == []


async def test_update_never_moves_a_job_to_another_tenant(backend: Backend, new_job: JobFactory) -> None:
    store = backend.jobs
    created = await store.create(new_job(tenant="acme"))
    await store.update(created.model_copy(update={"tenant": "globex", "status": JobStatus.PROCESSING}))
    stored = await store.get(created.job_id)
    assert stored.tenant == "acme" and stored.status is JobStatus.PROCESSING
    assert ids((await store.list(tenant="acme")).jobs) == [created.job_id]
    assert (await store.list(tenant="globex")).jobs == []


async def test_two_backends_on_one_storage_share_the_tenant(
    backend: Backend, twin_backend: Backend, new_job: JobFactory
) -> None:
    created = await backend.jobs.create(new_job(tenant="acme"))
    assert (await twin_backend.jobs.get(created.job_id)).tenant == "acme"
    assert ids((await twin_backend.jobs.list(tenant="acme")).jobs) == [created.job_id]
