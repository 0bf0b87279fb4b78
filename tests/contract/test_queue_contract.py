"""JobQueue contract (see ``praisonai_svc.ports.JobQueue``), checked against every adapter.

Lease timings come from the ``timing`` fixture: sub-second for the embedded adapters, whole seconds for Azure
(whose visibility timeouts are integers), so the suite stays fast without racing the adapter's clock.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from praisonai_svc.backend import Backend
from praisonai_svc.errors import LeaseLost
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import JobQueue, QueueMessage

if TYPE_CHECKING:  # fixtures' types only; conftest is never imported as a module
    from tests.contract.conftest import StorageNames, Timing

LONG = 30.0  # a lease that never expires during a test


def new_id() -> str:
    return uuid.uuid4().hex


async def receive_one(queue: JobQueue, visibility: float = LONG) -> QueueMessage:
    messages = await queue.receive(1, visibility)
    assert len(messages) == 1, f"expected one visible message, got {messages}"
    return messages[0]


async def assert_nothing_visible(queue: JobQueue) -> None:
    assert await queue.receive(32, LONG) == []


# --- send / receive ------------------------------------------------------------------------------------------


async def test_send_then_receive_returns_the_job_id(queue: JobQueue) -> None:
    job_id = new_id()
    before = utcnow()
    message_id = await queue.send(job_id)
    assert message_id
    message = await receive_one(queue)
    assert message.job_id == job_id
    assert message.message_id == message_id
    assert message.pop_receipt
    assert message.dequeue_count == 1
    assert message.inserted_utc.tzinfo is not None
    assert before - timedelta(seconds=5) <= message.inserted_utc <= utcnow() + timedelta(seconds=5)


async def test_receive_from_an_empty_queue_returns_nothing_at_once(queue: JobQueue) -> None:
    started = time.monotonic()
    assert await queue.receive(5, LONG) == []
    assert time.monotonic() - started < 2.0, "receive must never block long"


async def test_leased_message_is_invisible_until_its_visibility_expires(queue: JobQueue, timing: Timing) -> None:
    job_id = new_id()
    await queue.send(job_id)
    first = await receive_one(queue, timing.lease)
    await assert_nothing_visible(queue)

    await asyncio.sleep(timing.lease + timing.margin)
    second = await receive_one(queue)
    assert second.message_id == first.message_id and second.job_id == job_id
    assert second.dequeue_count == 2
    assert second.pop_receipt != first.pop_receipt
    with pytest.raises(LeaseLost):  # the first lease expired and someone else took the message
        await queue.ack(first)
    with pytest.raises(LeaseLost):
        await queue.renew(first, LONG)
    await queue.ack(second)
    assert await queue.length() == 0


async def test_dequeue_count_increments_on_every_receive(queue: JobQueue) -> None:
    await queue.send(new_id())
    for expected in range(1, 4):
        message = await receive_one(queue)
        assert message.dequeue_count == expected
        await queue.release(message)


async def test_receive_returns_at_most_max_messages(queue: JobQueue) -> None:
    sent = {new_id() for _ in range(5)}
    for job_id in sent:
        await queue.send(job_id)
    first = await queue.receive(3, LONG)
    assert len(first) == 3
    rest = await queue.receive(10, LONG)
    assert len(rest) == 2
    assert {m.job_id for m in first + rest} == sent
    assert len({m.message_id for m in first + rest}) == 5
    assert await queue.receive(10, LONG) == []


async def test_send_with_delay_hides_the_message_until_the_delay(queue: JobQueue, timing: Timing) -> None:
    job_id = new_id()
    await queue.send(job_id, delay=timing.lease)
    await assert_nothing_visible(queue)
    await asyncio.sleep(timing.lease + timing.margin)
    message = await receive_one(queue)
    assert message.job_id == job_id and message.dequeue_count == 1


# --- renew ---------------------------------------------------------------------------------------------------


async def test_renew_returns_a_new_receipt_and_the_old_one_goes_stale(queue: JobQueue) -> None:
    await queue.send(new_id())
    leased = await receive_one(queue)
    renewed = await queue.renew(leased, LONG)
    assert renewed.pop_receipt and renewed.pop_receipt != leased.pop_receipt
    assert (renewed.message_id, renewed.job_id, renewed.dequeue_count) == (
        leased.message_id, leased.job_id, leased.dequeue_count,
    )
    with pytest.raises(LeaseLost):
        await queue.ack(leased)
    with pytest.raises(LeaseLost):
        await queue.renew(leased, LONG)
    again = await queue.renew(renewed, LONG)  # the newest receipt keeps working
    await queue.ack(again)
    assert await queue.length() == 0


async def test_renew_extends_the_visibility(queue: JobQueue, timing: Timing) -> None:
    await queue.send(new_id())
    leased = await receive_one(queue, timing.lease)
    renewed = await queue.renew(leased, timing.lease * 3 + timing.margin * 2)
    # Past the original lease, the renewed message must stay invisible.
    await asyncio.sleep(timing.lease + timing.margin)
    await assert_nothing_visible(queue)
    await queue.ack(renewed)
    assert await queue.length() == 0


async def test_renew_after_ack_raises_lease_lost(queue: JobQueue) -> None:
    await queue.send(new_id())
    leased = await receive_one(queue)
    await queue.ack(leased)
    with pytest.raises(LeaseLost):
        await queue.renew(leased, LONG)


# --- ack -----------------------------------------------------------------------------------------------------


async def test_ack_removes_the_message_and_a_second_ack_raises_lease_lost(queue: JobQueue) -> None:
    kept = new_id()
    await queue.send(new_id())
    leased = await receive_one(queue)
    await queue.send(kept)
    assert await queue.length() == 2
    await queue.ack(leased)
    assert await queue.length() == 1
    with pytest.raises(LeaseLost):
        await queue.ack(leased)
    assert await queue.length() == 1
    remaining = await receive_one(queue)
    assert remaining.job_id == kept


# --- release -------------------------------------------------------------------------------------------------


async def test_release_without_delay_makes_the_message_visible_at_once(queue: JobQueue) -> None:
    job_id = new_id()
    await queue.send(job_id)
    leased = await receive_one(queue)
    await queue.release(leased)
    again = await receive_one(queue)
    assert again.message_id == leased.message_id and again.job_id == job_id
    assert again.dequeue_count == 2
    with pytest.raises(LeaseLost):  # released and taken again: the old receipt is stale
        await queue.ack(leased)
    with pytest.raises(LeaseLost):
        await queue.release(leased)
    assert await queue.length() == 1


async def test_release_with_delay_hides_the_message_for_the_delay(queue: JobQueue, timing: Timing) -> None:
    job_id = new_id()
    await queue.send(job_id)
    leased = await receive_one(queue)
    await queue.release(leased, delay=timing.lease)
    await assert_nothing_visible(queue)
    assert await queue.length() == 1
    await asyncio.sleep(timing.lease + timing.margin)
    again = await receive_one(queue)
    assert again.job_id == job_id and again.dequeue_count == 2


# --- dead letter ---------------------------------------------------------------------------------------------


async def test_dead_letter_moves_the_message_to_the_poison_queue(queue: JobQueue) -> None:
    poisoned, healthy = new_id(), new_id()
    await queue.send(poisoned)
    leased = await receive_one(queue)
    await queue.send(healthy)
    assert (await queue.length(), await queue.poison_length()) == (2, 0)

    await queue.dead_letter(leased, "handler failed 3 times: ValueError('boom') — ünïcode")
    assert (await queue.length(), await queue.poison_length()) == (1, 1)
    remaining = await receive_one(queue)
    assert remaining.job_id == healthy, "the dead-lettered message must not be delivered again"
    await assert_nothing_visible(queue)

    # A stale receipt (here: the message is gone already) raises and must not copy the message again.
    with pytest.raises(LeaseLost):
        await queue.dead_letter(leased, "again")
    assert (await queue.length(), await queue.poison_length()) == (1, 1)


async def test_dead_letter_with_a_receipt_taken_over_raises_and_keeps_the_message(
    queue: JobQueue, timing: Timing
) -> None:
    await queue.send(new_id())
    stale = await receive_one(queue, timing.lease)
    await asyncio.sleep(timing.lease + timing.margin)
    current = await receive_one(queue)  # someone else leased it after our lease expired
    with pytest.raises(LeaseLost):
        await queue.dead_letter(stale, "too late")
    assert (await queue.length(), await queue.poison_length()) == (1, 0)
    await queue.ack(current)  # the new holder's lease is intact
    assert await queue.length() == 0


# --- length / independence / concurrency ---------------------------------------------------------------------


async def test_length_counts_visible_and_leased_messages(queue: JobQueue) -> None:
    assert await queue.length() == 0
    for _ in range(3):
        await queue.send(new_id())
    assert await queue.length() == 3
    leased = await queue.receive(2, LONG)
    assert len(leased) == 2
    assert await queue.length() == 3
    await queue.ack(leased[0])
    assert await queue.length() == 2


async def test_queues_with_different_names_are_independent(backend: Backend, names: StorageNames) -> None:
    first, second = backend.queue(names.queue), backend.queue(f"{names.queue}-other")
    assert backend.queue(names.queue) is first, "the backend reuses one queue object per name"
    job_id = new_id()
    await first.send(job_id)
    assert await second.length() == 0
    assert await second.receive(10, LONG) == []

    await second.send(new_id())
    leased = await receive_one(first)
    assert leased.job_id == job_id
    await first.dead_letter(leased, "poison in the first queue only")
    assert (await first.length(), await first.poison_length()) == (0, 1)
    assert (await second.length(), await second.poison_length()) == (1, 0)


async def test_concurrent_receivers_never_share_a_message(queue: JobQueue) -> None:
    sent = [new_id() for _ in range(30)]
    await asyncio.gather(*[queue.send(job_id) for job_id in sent])
    seen: list[str] = []

    async def receiver(batch: int) -> None:
        while True:
            messages = await queue.receive(batch, LONG)
            if not messages:
                return
            for message in messages:
                seen.append(message.job_id)
                await queue.ack(message)

    await asyncio.gather(*[receiver(batch) for batch in (1, 2, 3, 1, 2, 5)])
    assert sorted(seen) == sorted(sent), "every message must be handed to exactly one receiver"
    assert await queue.length() == 0


async def test_receivers_on_two_backends_never_share_a_message(
    backend: Backend, twin_backend: Backend, names: StorageNames
) -> None:
    """Two processes (here: two backends on one storage) leasing from one queue each get distinct messages."""
    queues = [backend.queue(names.queue), twin_backend.queue(names.queue)]
    sent = [new_id() for _ in range(20)]
    await asyncio.gather(*[queues[n % 2].send(job_id) for n, job_id in enumerate(sent)])
    seen: list[str] = []

    async def receiver(queue: JobQueue) -> None:
        while messages := await queue.receive(2, LONG):
            for message in messages:
                seen.append(message.job_id)
                await queue.ack(message)

    await asyncio.gather(*[receiver(queues[n % 2]) for n in range(4)])
    assert sorted(seen) == sorted(sent)
    assert await queues[0].length() == 0 and await queues[1].length() == 0


# --- health / waiting ----------------------------------------------------------------------------------------


async def test_check_passes(backend: Backend, queue: JobQueue) -> None:
    await queue.check()
    await backend.check()  # includes every queue opened so far


async def test_wait_for_work_sleeps_about_the_timeout_when_idle(queue: JobQueue) -> None:
    timeout = 0.5
    started = time.monotonic()
    await queue.wait_for_work(timeout)
    elapsed = time.monotonic() - started
    assert elapsed <= timeout + 0.5, f"wait_for_work({timeout}) took {elapsed:.2f} s"
    assert elapsed >= timeout * 0.8, f"an idle wait_for_work({timeout}) returned after {elapsed:.2f} s"


async def test_wait_for_work_wakes_early_on_send(queue: JobQueue, adapter: str) -> None:
    # Azure has no free wake-up signal (the port's default just sleeps), so it only has to keep the timeout.
    timeout = 0.8 if adapter == "azure" else 3.0
    started = time.monotonic()
    waiter = asyncio.create_task(queue.wait_for_work(timeout))
    await asyncio.sleep(0.1)
    await queue.send(new_id())
    await asyncio.wait_for(waiter, timeout + 2.0)
    elapsed = time.monotonic() - started
    if adapter == "azure":
        assert elapsed <= timeout + 0.5
    else:
        assert elapsed < 1.0, f"wait_for_work did not wake up on send ({elapsed:.2f} s of {timeout} s)"
    assert (await receive_one(queue)).dequeue_count == 1


async def test_wait_for_work_wakes_on_a_send_from_another_backend(
    backend: Backend, twin_backend: Backend, names: StorageNames, adapter: str
) -> None:
    """The API process sends, the worker process waits: the local backend's signal file crosses processes."""
    waiting, sending = backend.queue(names.queue), twin_backend.queue(names.queue)
    timeout = 0.8 if adapter == "azure" else 3.0
    started = time.monotonic()
    waiter = asyncio.create_task(waiting.wait_for_work(timeout))
    await asyncio.sleep(0.1)
    await sending.send(new_id())
    await asyncio.wait_for(waiter, timeout + 2.0)
    elapsed = time.monotonic() - started
    if adapter == "azure":
        assert elapsed <= timeout + 0.5
    else:
        assert elapsed < 1.0, f"wait_for_work did not wake up on another backend's send ({elapsed:.2f} s)"
    assert (await receive_one(waiting)).dequeue_count == 1


async def test_wait_for_work_does_not_miss_a_send_between_receive_and_wait(queue: JobQueue, adapter: str) -> None:
    """A worker polls (nothing), then a job arrives, then the worker goes to sleep: it must not sleep through it.

    This is the classic lost wake-up: the signal of a send that happened after the last receive but before
    ``wait_for_work`` must still end the wait early.
    """
    assert await queue.receive(1, LONG) == []
    await queue.send(new_id())
    timeout = 0.8 if adapter == "azure" else 3.0
    started = time.monotonic()
    await asyncio.wait_for(queue.wait_for_work(timeout), timeout + 2.0)
    elapsed = time.monotonic() - started
    if adapter == "azure":
        assert elapsed <= timeout + 0.5
    else:
        assert elapsed < 1.0, f"wait_for_work slept {elapsed:.2f} s although a message arrived after the last receive"
    assert (await receive_one(queue)).dequeue_count == 1
