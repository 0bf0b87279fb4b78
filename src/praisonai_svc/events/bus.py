"""In-process publish/subscribe by topic, with handlers isolated from each other and from the publisher."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from praisonai_svc.events.outbox import Outboxes
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow

log = get_logger("events")


@dataclass(frozen=True)
class Event:
    """Something that happened: ``topic`` (e.g. ``file.processed``, ``job.done``), the subject's id, its data.

    ``tenant`` is the subject's tenant (None for untenanted callers), so that consumers never mix tenants.
    """

    topic: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict)
    tenant: str | None = None
    at: datetime = field(default_factory=utcnow)


EventHandler = Callable[[Event], Awaitable[None]]


class EventBus:
    """Topic subscriptions (``fnmatch`` patterns such as ``file.*``) and an awaitable :meth:`publish`."""

    def __init__(self) -> None:
        self._subscriptions: list[tuple[str, EventHandler]] = []
        self.outboxes = Outboxes()  # durable producers' sweeps (praisonai_svc.events.outbox)

    def subscribe(self, pattern: str, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler`` for every event whose topic matches ``pattern``; returns an unsubscribe function."""
        entry = (pattern, handler)
        self._subscriptions.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscriptions:
                self._subscriptions.remove(entry)

        return unsubscribe

    def on(self, pattern: str) -> Callable[[EventHandler], EventHandler]:
        """Decorator form of :meth:`subscribe`."""

        def register(handler: EventHandler) -> EventHandler:
            self.subscribe(pattern, handler)
            return handler

        return register

    async def publish(self, event: Event) -> int:
        """Run every matching handler in subscription order; return how many ran without raising.

        A handler that raises is logged and skipped: one broken consumer never stops the others, nor the
        publisher (whose own state change has already happened).
        """
        delivered, _failed = await self._run(event)
        return delivered

    async def deliver(self, event: Event) -> bool:
        """:meth:`publish`, and whether *every* matching handler handled the event (none raised).

        A durable producer (an outbox) removes its recorded event only then; else it delivers it again later, so
        a handler that raises (e.g. storage was briefly down) gets the event again.
        """
        _delivered, failed = await self._run(event)
        return failed == 0

    async def _run(self, event: Event) -> tuple[int, int]:
        delivered = failed = 0
        for pattern, handler in list(self._subscriptions):
            if not fnmatch.fnmatchcase(event.topic, pattern):
                continue
            try:
                await handler(event)
            except Exception:
                log.exception(
                    "event handler failed", extra={"topic": event.topic, "subject": event.subject,
                                                   "handler": getattr(handler, "__qualname__", repr(handler))},
                )
                failed += 1
                continue
            delivered += 1
        return delivered, failed
