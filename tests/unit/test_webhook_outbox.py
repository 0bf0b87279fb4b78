"""The webhook outbox: whoever ends a job that has webhooks writes an intent first, the enqueuer removes it once the
ending's deliveries are queued, and a sweep finishes what a kill -9 in between left (one delivery per job, event
and URL however often it runs). Jobs without webhooks write no intent at all.

A crash is a subscriber that raises :class:`Crash` before the webhook enqueuer runs; a second app on the same
storage plays the restarted process.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from praisonai_svc.backend import memory_backend
from praisonai_svc.events.consumers import PRUNED_KINDS, install_consumers
from praisonai_svc.events.outbox import SWEEP_MIN_AGE
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import JobStatus, utcnow
from praisonai_svc.records import Record
from praisonai_svc.settings import Settings
from praisonai_svc.webhooks.intents import KIND, wants_intent, write_intent
from praisonai_svc.webhooks.outbox import OUTBOX_NAME, sweep_intents
from praisonai_svc.worker.reaper import reap_stuck_jobs
from tests.support.webhook_outbox import (
    CALLBACK,
    SERVICE_URL,
    Crash,
    KindSpy,
    crashing_on,
    deliveries,
    intents,
    process_next,
    submit,
    webhook_app,
)


def settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


async def test_a_normal_ending_queues_its_webhooks_and_leaves_no_intent() -> None:
    backend = memory_backend()
    app = webhook_app(settings())
    install_consumers(app, backend)
    assert OUTBOX_NAME in app.events.outboxes.names
    job = await submit(app, backend, "hooked", callback_url=CALLBACK)
    await process_next(app, backend, "hooked")
    assert (await backend.jobs.get(job.job_id)).status is JobStatus.DONE
    assert await deliveries(backend) == sorted([(job.job_id, "done", CALLBACK), (job.job_id, "done", SERVICE_URL)])
    assert await intents(backend) == []
    assert await app.events.outboxes.sweep(backend) == 0


@pytest.mark.parametrize("secret", [True, False])
async def test_a_job_without_webhooks_makes_no_intent_request(secret: bool) -> None:
    """No callback and no service URL (or webhooks off altogether): not one request of the intent kind."""
    backend = memory_backend()
    spy = KindSpy(backend.records)
    backend.records = spy  # type: ignore[assignment]
    app = webhook_app(settings(), secret=secret)
    install_consumers(app, backend)
    await submit(app, backend, "plain")
    await process_next(app, backend, "plain")
    if not secret:  # a service webhook_url without PRAISONAI_WEBHOOK_SECRET sends nothing: no intent either
        await submit(app, backend, "hooked")
        await process_next(app, backend, "hooked")
    assert spy.kinds and KIND not in spy.kinds  # the event log wrote; the outbox did not
    assert await deliveries(backend) == []


@pytest.mark.parametrize(("payload", "ending"), [({}, "done"), ({"fail": True}, "error")])
async def test_a_worker_killed_after_storing_the_ending_loses_no_webhook(payload: dict[str, bool], ending: str
                                                                        ) -> None:
    backend = memory_backend()
    crashing = webhook_app(settings())
    with crashing_on(crashing, f"job.{ending}") as stopped:
        install_consumers(crashing, backend)
        job = await submit(crashing, backend, "hooked", payload, callback_url=CALLBACK)
        with pytest.raises(Crash):
            await process_next(crashing, backend, "hooked")
    assert stopped == [job.job_id]
    assert (await backend.jobs.get(job.job_id)).status.value == ending
    assert await deliveries(backend) == [] and await intents(backend) == [job.job_id]

    restarted = webhook_app(settings())
    install_consumers(restarted, backend)
    assert await restarted.events.outboxes.sweep(backend) == 1
    expected = sorted([(job.job_id, ending, CALLBACK), (job.job_id, ending, SERVICE_URL)])
    assert await deliveries(backend) == expected and await intents(backend) == []
    assert await restarted.events.outboxes.sweep(backend) == 0
    assert await deliveries(backend) == expected


async def test_an_api_killed_after_cancelling_a_queued_job_loses_no_webhook() -> None:
    backend = memory_backend()
    api = webhook_app(settings())
    with crashing_on(api, "job.cancelled"):
        install_consumers(api, backend)
        job = await submit(api, backend, "plain", callback_url=CALLBACK)
        with pytest.raises(Crash):
            await JobService(api, backend).cancel(job.job_id)
    assert (await backend.jobs.get(job.job_id)).status is JobStatus.CANCELLED
    assert await intents(backend) == [job.job_id]
    restarted = webhook_app(settings())
    install_consumers(restarted, backend)
    assert await restarted.events.outboxes.sweep(backend) == 1
    assert await deliveries(backend) == [(job.job_id, "cancelled", CALLBACK)]
    assert await intents(backend) == []


async def test_a_reaper_killed_after_failing_a_stuck_job_loses_no_webhook() -> None:
    backend = memory_backend()
    worker = webhook_app(settings())
    job = await submit(worker, backend, "hooked")
    long_ago = utcnow() - timedelta(days=1)
    await backend.jobs.update(job.model_copy(update={"status": JobStatus.PROCESSING, "attempts": 1,
                                                     "started_utc": long_ago}))
    with crashing_on(worker, "job.error"):
        install_consumers(worker, backend)
        with pytest.raises(Crash):
            await reap_stuck_jobs(worker, backend)
    assert (await backend.jobs.get(job.job_id)).status is JobStatus.ERROR
    restarted = webhook_app(settings())
    install_consumers(restarted, backend)
    assert await restarted.events.outboxes.sweep(backend) == 1
    assert await deliveries(backend) == [(job.job_id, "error", SERVICE_URL)]
    assert await intents(backend) == []


async def test_an_intent_whose_deliveries_exist_adds_none() -> None:
    """The sweep after a crash between the queued deliveries and the intent's removal: nothing doubles."""
    backend = memory_backend()
    app = webhook_app(settings())
    install_consumers(app, backend)
    job = await submit(app, backend, "hooked", callback_url=CALLBACK)
    await process_next(app, backend, "hooked")
    before = await deliveries(backend)
    await write_intent(app, backend, await backend.jobs.get(job.job_id), "done")  # as if the removal was lost
    assert await sweep_intents(app, backend) == 1
    assert await deliveries(backend) == before and len(before) == 2
    assert await intents(backend) == []


async def test_unfinished_and_missing_jobs_lose_their_intent_and_young_intents_wait() -> None:
    backend = memory_backend()
    app = webhook_app(settings())
    install_consumers(app, backend)
    queued = await submit(app, backend, "hooked")  # its writer died before storing the ending: it runs again
    await write_intent(app, backend, queued, "done")
    assert await sweep_intents(app, backend, min_age=SWEEP_MIN_AGE) == 0  # young: its writer may be busy
    assert await sweep_intents(app, backend) == 0  # a starting process sweeps every age: still kept
    assert await intents(backend) == [queued.job_id]
    [young] = (await backend.records.list(KIND)).records
    await backend.records.replace(young.evolve(body={
        **young.body, "written_utc": (utcnow() - SWEEP_MIN_AGE - timedelta(seconds=1)).isoformat()}))
    gone = Record(KIND, "no-such-job", {"job_id": "no-such-job", "ending": "done",
                                        "written_utc": (utcnow() - timedelta(hours=1)).isoformat()})
    await backend.records.create(gone)
    assert await sweep_intents(app, backend) == 0
    assert await intents(backend) == [] and await deliveries(backend) == []
    assert (await backend.jobs.get(queued.job_id)).status is JobStatus.QUEUED


async def test_an_intent_with_an_unreadable_body_is_settled_like_the_others() -> None:
    """A body without a usable date counts from its expiry; its missing job drops it; the real one settles."""
    backend = memory_backend()
    app = webhook_app(settings())
    crashing = webhook_app(settings())
    with crashing_on(crashing, "job.done"):
        install_consumers(crashing, backend)
        job = await submit(crashing, backend, "hooked")
        with contextlib.suppress(Crash):
            await process_next(crashing, backend, "hooked")
    install_consumers(app, backend)
    bad = Record(KIND, "0bad", {"written_utc": "not a date"}, expires_utc=utcnow() - timedelta(hours=1))
    await backend.records.create(bad)
    assert await sweep_intents(app, backend) == 1
    assert await deliveries(backend) == [(job.job_id, "done", SERVICE_URL)]
    assert await intents(backend) == []


def test_intents_expire_with_the_other_event_records_and_only_jobs_with_targets_want_one() -> None:
    from praisonai_svc.models.job import Job
    from praisonai_svc.webhooks.service import enable_webhooks

    app = webhook_app(settings())
    assert KIND in PRUNED_KINDS and KIND in [tracked.kind for tracked in app.retention.kinds]
    enable_webhooks(app)  # what installing the consumers does (the built-in delivery service)

    now = utcnow()
    plain = Job(job_id="j", service="plain", payload={}, payload_hash="h", created_utc=now, updated_utc=now)
    assert not wants_intent(app, plain)
    assert wants_intent(app, plain.model_copy(update={"callback_url": CALLBACK}))
    assert wants_intent(app, plain.model_copy(update={"service": "hooked"}))
    assert not wants_intent(app, plain.model_copy(update={"service": "webhook", "callback_url": CALLBACK}))
    off = webhook_app(settings(), secret=False)
    enable_webhooks(off)  # without PRAISONAI_WEBHOOK_SECRET: no delivery service, so nothing owes webhooks
    assert not wants_intent(off, plain.model_copy(update={"service": "hooked"}))
