"""The in-app event seam: topic patterns, isolation of failing handlers, unsubscribe."""

from __future__ import annotations

import logging

import pytest

from praisonai_svc import ServiceApp
from praisonai_svc.events import Event, EventBus


async def test_handlers_get_matching_topics_in_subscription_order() -> None:
    bus = EventBus()
    seen: list[tuple[str, str]] = []

    async def files(event: Event) -> None:
        seen.append(("files", event.topic))

    async def everything(event: Event) -> None:
        seen.append(("all", event.topic))

    bus.subscribe("file.*", files)
    bus.subscribe("*", everything)
    assert await bus.publish(Event("file.processed", "f1", {"size": 3})) == 2
    assert await bus.publish(Event("job.done", "j1")) == 1
    assert seen == [("files", "file.processed"), ("all", "file.processed"), ("all", "job.done")]


async def test_a_failing_handler_is_logged_and_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    received: list[Event] = []

    @bus.on("file.uploaded")
    async def broken(event: Event) -> None:
        raise RuntimeError("consumer bug")

    @bus.on("file.uploaded")
    async def working(event: Event) -> None:
        received.append(event)

    caplog.set_level(logging.ERROR, logger="praisonai_svc")
    assert await bus.publish(Event("file.uploaded", "f2", tenant="acme")) == 1
    assert [e.subject for e in received] == ["f2"] and received[0].tenant == "acme"
    assert any("event handler failed" in r.getMessage() for r in caplog.records)


async def test_unsubscribe_stops_delivery_and_each_app_has_its_own_bus() -> None:
    first, second = ServiceApp("one"), ServiceApp("two")
    got: list[str] = []

    async def handler(event: Event) -> None:
        got.append(event.subject)

    stop = first.events.subscribe("job.*", handler)
    await second.events.publish(Event("job.done", "other-app"))
    await first.events.publish(Event("job.done", "a"))
    stop()
    await first.events.publish(Event("job.done", "b"))
    assert got == ["a"]


async def test_ignored_topics_are_not_delivered_and_wants_says_whether_anyone_listens() -> None:
    bus = EventBus()
    got: list[str] = []

    async def log_like(events: list[Event]) -> None:
        got.extend(f"log:{e.topic}" for e in events)

    async def user(event: Event) -> None:
        got.append(f"user:{event.topic}")

    assert not bus.wants("job.queued")  # nobody subscribed
    bus.subscribe_batches("job.*", log_like, ignore=("job.queued",))
    assert not bus.wants("job.queued") and bus.wants("job.done") and not bus.wants("file.uploaded")
    await bus.publish_many([Event("job.queued", "j"), Event("job.done", "j")])
    assert got == ["log:job.done"]

    stop = bus.subscribe("job.queued", user)  # a later subscription changes the answer at once
    assert bus.wants("job.queued")
    await bus.publish(Event("job.queued", "k"))
    assert got == ["log:job.done", "user:job.queued"]
    stop()
    assert not bus.wants("job.queued")


async def test_a_submission_builds_no_queued_event_unless_a_handler_wants_one(monkeypatch: pytest.MonkeyPatch
                                                                               ) -> None:
    """The event log and the webhook enqueuer ignore ``job.queued``: with only them subscribed, submitting
    (one job or many) builds no event at all; a user's handler for it gets each job's, dated by its creation."""
    import praisonai_svc.events.job_events as job_events
    import praisonai_svc.job_service as job_service
    from praisonai_svc.backend import memory_backend
    from praisonai_svc.events.consumers import install_consumers

    app = ServiceApp("Quiet", backend=memory_backend())

    @app.job("echo")
    def echo(payload: dict[str, object]) -> tuple[bytes, str, str]:
        return b"ok", "text/plain", "ok.txt"

    built: list[str] = []
    real_event_data = job_events.event_data

    def counting(job: object, type_: job_events.JobEventType, **extra: object) -> dict[str, object]:
        built.append(type_)
        return real_event_data(job, type_, **extra)  # type: ignore[arg-type]

    monkeypatch.setattr(job_events, "event_data", counting)
    assert app.backend is not None
    uninstall = install_consumers(app, app.backend)
    try:
        await app.submit({"n": 1})
        await app.submit_many([{"n": 2}, {"n": 3}])
        assert built == [] and not app.events.wants(job_service.QUEUED_TOPIC)

        seen: list[Event] = []

        @app.events.on("job.queued")
        async def on_queued(event: Event) -> None:
            seen.append(event)

        one = await app.submit({"n": 4})
        many = await app.submit_many([{"n": 5}, {"n": 6}])
        jobs = [one.job, *(s.job for s in many if not isinstance(s, Exception))]
        assert [e.subject for e in seen] == [job.job_id for job in jobs]
        assert [e.data["at"] for e in seen] == [job.created_utc.isoformat() for job in jobs]
    finally:
        uninstall()
