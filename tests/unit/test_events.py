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
