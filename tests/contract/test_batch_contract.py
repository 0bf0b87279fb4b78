"""Batch leases and batch completion (``JobQueue.receive`` of many, ``JobStore.get_many`` / ``update_many``,
``JobQueue.ack_many``), checked against every adapter.

The worker leases a batch, reads and marks it ``processing`` together, and finishes jobs together: each item of a
batch keeps the guarantees of its single-item twin (ETags, stale receipts), and one bad item never sinks the
others.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConcurrencyConflict, JobNotFound
from praisonai_svc.models.job import Job, JobStatus
from praisonai_svc.ports import JobQueue

if TYPE_CHECKING:
    from tests.contract.conftest import JobFactory, StorageNames

LONG = 30.0


async def _created(backend: Backend, new_job: JobFactory, count: int) -> list[Job]:
    return list(await asyncio.gather(*(backend.jobs.create(new_job()) for _ in range(count))))


async def test_one_receive_leases_a_batch_each_message_once(
    backend: Backend, twin_backend: Backend, names: StorageNames
) -> None:
    queue, twin = backend.queue(names.queue), twin_backend.queue(names.queue)
    sent = {f"job-{i:02d}" for i in range(20)}
    await asyncio.gather(*(queue.send(job_id) for job_id in sent))
    first, second = await asyncio.gather(queue.receive(12, LONG), twin.receive(12, LONG))
    leased = [m.job_id for m in first + second]
    assert len(leased) == len(set(leased)) == 20  # every message leased exactly once between the two
    assert set(leased) == sent
    assert all(m.dequeue_count == 1 for m in first + second)
    assert all(m.pop_receipt for m in first + second)  # (Azure may give one receipt to a whole batch)
    assert await queue.receive(32, LONG) == []


async def test_get_many_reads_a_batch_and_leaves_out_missing_ids(backend: Backend, new_job: JobFactory) -> None:
    jobs = await _created(backend, new_job, 5)
    found = await backend.jobs.get_many([j.job_id for j in jobs] + ["0" * 32])
    assert set(found) == {j.job_id for j in jobs}
    for job in jobs:
        assert found[job.job_id].payload == job.payload
        assert found[job.job_id].etag  # usable for the conditional update that follows
    assert await backend.jobs.get_many([]) == {}


async def test_update_many_applies_each_update_on_its_own_etag(
    backend: Backend, twin_backend: Backend, new_job: JobFactory
) -> None:
    jobs = await _created(backend, new_job, 4)
    read = await backend.jobs.get_many([j.job_id for j in jobs])
    # Another process moves the third job first: its update must conflict, the others must still apply.
    stolen = await twin_backend.jobs.get(jobs[2].job_id)
    await twin_backend.jobs.update(stolen.model_copy(update={"status": JobStatus.PROCESSING, "attempts": 1}))
    await backend.jobs.delete(jobs[3].job_id)
    marked = [read[j.job_id].model_copy(update={"status": JobStatus.PROCESSING, "attempts": 1}) for j in jobs]
    results = await backend.jobs.update_many(marked)
    assert isinstance(results[0], Job) and isinstance(results[1], Job)
    assert isinstance(results[2], ConcurrencyConflict)
    assert isinstance(results[3], JobNotFound)
    for result in results[:2]:
        assert isinstance(result, Job)
        stored = await twin_backend.jobs.get(result.job_id)
        assert stored.status is JobStatus.PROCESSING and stored.etag == result.etag
    # The returned ETags are current: a second batch on them applies (batch completion after batch start).
    done = [r.model_copy(update={"status": JobStatus.DONE}) for r in results[:2] if isinstance(r, Job)]
    finished = await backend.jobs.update_many(done)
    assert all(isinstance(r, Job) and r.status is JobStatus.DONE for r in finished)
    stale = await backend.jobs.update_many(done)  # the old ETags no longer match
    assert all(isinstance(r, ConcurrencyConflict) for r in stale)


async def test_ack_many_deletes_a_batch_and_reports_stale_receipts(
    backend: Backend, twin_backend: Backend, names: StorageNames
) -> None:
    queue: JobQueue = backend.queue(names.queue)
    await asyncio.gather(*(queue.send(f"job-{i}") for i in range(5)))
    messages = await queue.receive(5, LONG)
    assert len(messages) == 5
    renewed = await queue.renew(messages[4], LONG)  # the old receipt of the last one is now stale
    acked = await queue.ack_many(messages)
    assert acked == [True, True, True, True, False]
    assert await twin_backend.queue(names.queue).receive(32, 0.5) == []  # the renewed one is still leased
    assert await queue.ack_many([renewed]) == [True]
    assert await queue.ack_many([]) == []
    assert await queue.length() == 0
