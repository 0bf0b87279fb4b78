"""Poison-queue review contract (``JobQueue.poison_messages / requeue_poison / purge_poison``) and the job
``history`` a requeue records, checked against every adapter (memory, local, azure on Azurite)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from praisonai_svc.backend import Backend
from praisonai_svc.models.job import JobOutcome, JobStatus, utcnow
from praisonai_svc.ports import POISON_PEEK_LIMIT, JobQueue

if TYPE_CHECKING:
    from tests.contract.conftest import JobFactory

LONG = 30.0


async def poison(queue: JobQueue, reason: str = "it broke") -> str:
    """Send a job id, lease it and dead-letter it; return the id."""
    job_id = uuid.uuid4().hex
    await queue.send(job_id)
    [message] = await queue.receive(1, LONG)
    await queue.dead_letter(message, reason)
    return job_id


async def test_poison_messages_name_the_job_the_reason_and_the_time(queue: JobQueue) -> None:
    before = utcnow() - timedelta(seconds=5)
    job_id = await poison(queue, "RuntimeError: handler exploded")
    [entry] = await queue.poison_messages()
    assert entry.job_id == job_id
    assert entry.reason == "RuntimeError: handler exploded"
    assert entry.dequeue_count == 1
    assert entry.dead_utc.tzinfo is not None
    assert before <= entry.dead_utc <= utcnow() + timedelta(seconds=5)


async def test_listing_neither_consumes_nor_hides_and_is_oldest_first(queue: JobQueue) -> None:
    first = await poison(queue, "one")
    second = await poison(queue, "two")
    for _ in range(2):
        listed = await queue.poison_messages()
        assert [e.job_id for e in listed] == [first, second]
    assert await queue.poison_length() == 2
    assert [e.job_id for e in await queue.poison_messages(limit=1)] == [first]
    assert len(await queue.poison_messages(limit=POISON_PEEK_LIMIT + 100)) == 2


async def test_requeue_moves_the_job_back_to_the_queue(queue: JobQueue) -> None:
    keep = await poison(queue, "keep me")
    job_id = await poison(queue, "retry me")
    assert await queue.requeue_poison(job_id) is True
    [message] = await queue.receive(5, LONG)
    assert message.job_id == job_id
    assert message.dequeue_count == 1  # a fresh message: the attempt count starts again
    # the other poison message is untouched and visible at once (Azure's scan hid it only while it looked)
    assert [e.job_id for e in await queue.poison_messages()] == [keep]
    assert await queue.poison_length() == 1
    assert await queue.requeue_poison(job_id) is False  # already requeued


async def test_requeue_of_a_job_not_in_the_poison_queue_changes_nothing(queue: JobQueue) -> None:
    kept = await poison(queue)
    assert await queue.requeue_poison(uuid.uuid4().hex) is False
    assert await queue.receive(5, LONG) == []
    assert [e.job_id for e in await queue.poison_messages()] == [kept]


async def test_purge_empties_the_poison_queue_only(queue: JobQueue) -> None:
    await poison(queue)
    await poison(queue)
    live = uuid.uuid4().hex
    await queue.send(live)
    assert await queue.purge_poison() == 2
    assert await queue.poison_messages() == []
    assert await queue.poison_length() == 0
    [message] = await queue.receive(5, LONG)
    assert message.job_id == live
    assert await queue.purge_poison() == 0


async def test_job_history_survives_the_store(backend: Backend, new_job: JobFactory) -> None:
    created = await backend.jobs.create(new_job())
    failed_at = utcnow()
    outcome = JobOutcome(status=JobStatus.ERROR, error_msg="RuntimeError: boom " + "é" * 50,
                         finished_utc=failed_at, attempts=3, requeued_utc=utcnow())
    updated = await backend.jobs.update(created.model_copy(update={"history": [outcome], "attempts": 0}))
    again = await backend.jobs.get(created.job_id)
    assert again.history == [outcome] == updated.history
    listed = await backend.jobs.list(limit=10)
    assert [job.history for job in listed.jobs if job.job_id == created.job_id] == [[outcome]]
    assert (await backend.jobs.create(new_job())).history == []


async def test_count_by_status_counts_the_newest_jobs_only(backend: Backend, new_job: JobFactory) -> None:
    base = utcnow() - timedelta(hours=1)
    statuses = [JobStatus.DONE, JobStatus.ERROR, JobStatus.QUEUED, JobStatus.DONE, JobStatus.PROCESSING]
    for index, status in enumerate(statuses):  # created one minute apart, the last one newest
        job = await backend.jobs.create(new_job(created=base + timedelta(minutes=index)))
        if status is not JobStatus.QUEUED:
            await backend.jobs.update(job.model_copy(update={"status": status}))
    counts = await backend.jobs.count_by_status()
    assert counts == {JobStatus.QUEUED: 1, JobStatus.PROCESSING: 1, JobStatus.DONE: 2, JobStatus.ERROR: 1,
                      JobStatus.CANCELLED: 0}
    newest_two = await backend.jobs.count_by_status(limit=2)
    assert newest_two == {JobStatus.QUEUED: 0, JobStatus.PROCESSING: 1, JobStatus.DONE: 1, JobStatus.ERROR: 0,
                          JobStatus.CANCELLED: 0}
