"""The webhook outbox on every adapter (memory, local, azure on Azurite): an ending stored by a worker killed
before its webhooks were queued keeps an intent; a restarted process's sweep queues exactly one delivery per
(job, event, URL), and sweeping again adds none and leaves no intent. A normal run leaves no intent, and a job
without webhooks never touches the intent kind."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from praisonai_svc.backend import Backend
from praisonai_svc.events.consumers import install_consumers
from praisonai_svc.models.job import JobStatus
from praisonai_svc.settings import Settings
from praisonai_svc.webhooks.intents import KIND
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


def app_settings(backend_settings: Settings | None, settings_factory: Callable[..., Settings]) -> Settings:
    """The backend's own settings (on Azure: this test's queue, table and container, so no other test's messages
    reach its queue), or plain ones for memory."""
    return backend_settings if backend_settings is not None else settings_factory()


async def test_an_ending_whose_webhooks_a_crash_left_unqueued_is_delivered_once_by_the_sweep(
    backend: Backend, backend_settings: Settings | None, settings_factory: Callable[..., Settings]
) -> None:
    crashing = webhook_app(app_settings(backend_settings, settings_factory))
    with crashing_on(crashing, "job.done"):
        uninstall = install_consumers(crashing, backend)
        lost = await submit(crashing, backend, "hooked", callback_url=CALLBACK)
        with pytest.raises(Crash):
            await process_next(crashing, backend, "hooked")
    uninstall()
    assert (await backend.jobs.get(lost.job_id)).status is JobStatus.DONE
    assert await intents(backend) == [lost.job_id] and await deliveries(backend) == []

    restarted = webhook_app(app_settings(backend_settings, settings_factory))
    install_consumers(restarted, backend)
    fine = await submit(restarted, backend, "hooked", {"n": 2})
    await process_next(restarted, backend, "hooked")  # a normal run: its intent is gone with its deliveries queued
    assert await intents(backend) == [lost.job_id]
    assert await restarted.events.outboxes.sweep(backend) == 1
    expected = sorted([(lost.job_id, "done", CALLBACK), (lost.job_id, "done", SERVICE_URL),
                       (fine.job_id, "done", SERVICE_URL)])
    assert await deliveries(backend) == expected and await intents(backend) == []
    assert await restarted.events.outboxes.sweep(backend) == 0
    assert await deliveries(backend) == expected


async def test_a_job_without_webhooks_never_touches_the_intent_kind(
    backend: Backend, backend_settings: Settings | None, settings_factory: Callable[..., Settings]
) -> None:
    spy = KindSpy(backend.records)
    backend.records = spy  # type: ignore[assignment]
    app = webhook_app(app_settings(backend_settings, settings_factory))
    install_consumers(app, backend)
    job = await submit(app, backend, "plain")
    await process_next(app, backend, "plain")
    assert (await backend.jobs.get(job.job_id)).status is JobStatus.DONE
    assert KIND not in spy.kinds and await deliveries(backend) == []
