"""In-process publish/subscribe by topic, with handlers isolated from each other and from the publisher."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Iterable
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
BatchHandler = Callable[[list[Event]], Awaitable[None]]


@dataclass(frozen=True, eq=False)  # compared by identity: the same handler may be subscribed twice
class _Subscription:
    pattern: str
    handler: EventHandler | BatchHandler
    batches: bool  # takes a list (subscribe_batches)
    ignore: frozenset[str]


class EventBus:
    """Topic subscriptions (``fnmatch`` patterns such as ``file.*``) and an awaitable :meth:`publish`."""

    def __init__(self) -> None:
        # (pattern, handler, takes a list, topics it ignores): a batch handler gets the matching events of one
        # publish_many at once
        self._subscriptions: list[_Subscription] = []
        self._matches: dict[tuple[str, str], bool] = {}  # (topic, pattern) -> fnmatch result: topics are few
        self._wanted: dict[str, bool] = {}  # topic -> wants(topic), until the subscriptions change
        self.outboxes = Outboxes()  # durable producers' sweeps (praisonai_svc.events.outbox)

    def subscribe(self, pattern: str, handler: EventHandler, *, ignore: Iterable[str] = ()) -> Callable[[], None]:
        """Call ``handler`` for every event whose topic matches ``pattern``, except the topics in ``ignore``;
        returns an unsubscribe function.

        ``ignore`` is how a consumer of a wide pattern says which topics it would do nothing with (the event log
        and ``job.queued``): when no subscription wants a topic, :meth:`wants` says so and a hot producer can skip
        building its events at all."""
        return self._add(_Subscription(pattern, handler, False, frozenset(ignore)))

    def subscribe_batches(self, pattern: str, handler: BatchHandler, *, ignore: Iterable[str] = ()
                          ) -> Callable[[], None]:
        """Like :meth:`subscribe`, but ``handler`` gets a list: the matching events of one :meth:`publish_many`
        (in order) at once, so that it can store them in one write; a single :meth:`publish` gives a list of one."""
        return self._add(_Subscription(pattern, handler, True, frozenset(ignore)))

    def _add(self, entry: _Subscription) -> Callable[[], None]:
        self._subscriptions.append(entry)
        self._wanted.clear()

        def unsubscribe() -> None:
            if entry in self._subscriptions:
                self._subscriptions.remove(entry)
                self._wanted.clear()

        return unsubscribe

    def wants(self, topic: str) -> bool:
        """Whether publishing an event of ``topic`` now would reach any handler (publishing one nobody wants is
        harmless, only wasted work)."""
        wanted = self._wanted.get(topic)
        if wanted is None:
            if len(self._wanted) > 4096:  # producers ask about a handful of topics; never let odd ones grow this
                self._wanted.clear()
            wanted = self._wanted[topic] = any(
                topic not in sub.ignore and self._matches_topic(topic, sub.pattern) for sub in self._subscriptions)
        return wanted

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
        delivered, _failed = await self._run([event])
        return delivered

    async def publish_many(self, events: list[Event]) -> int:
        """Publish ``events`` in order, as :meth:`publish` would one by one, except that a batch handler
        (:meth:`subscribe_batches`) gets all its matching events in one call. Returns the deliveries that did
        not raise (per handler call)."""
        delivered, _failed = await self._run(events)
        return delivered

    async def deliver(self, event: Event) -> bool:
        """:meth:`publish`, and whether *every* matching handler handled the event (none raised).

        A durable producer (an outbox) removes its recorded event only then; else it delivers it again later, so
        a handler that raises (e.g. storage was briefly down) gets the event again.
        """
        _delivered, failed = await self._run([event])
        return failed == 0

    def _matches_topic(self, topic: str, pattern: str) -> bool:
        key = (topic, pattern)
        matches = self._matches.get(key)
        if matches is None:
            if len(self._matches) > 4096:  # topics are a handful; never let odd ones grow this
                self._matches.clear()
            matches = self._matches[key] = fnmatch.fnmatchcase(topic, pattern)
        return matches

    def _matching(self, events: list[Event], sub: _Subscription) -> list[Event]:
        return [event for event in events
                if event.topic not in sub.ignore and self._matches_topic(event.topic, sub.pattern)]

    async def _run(self, events: list[Event]) -> tuple[int, int]:
        delivered = failed = 0
        for sub in list(self._subscriptions):
            handler, batches = sub.handler, sub.batches
            matching = self._matching(events, sub)
            calls: list[tuple[Any, list[Event]]] = [(handler, matching)] if batches and matching else [
                (handler, [event]) for event in matching]
            for call, given in calls:
                try:
                    await call(given if batches else given[0])
                except Exception:
                    log.exception(
                        "event handler failed", extra={"topic": given[0].topic, "subject": given[0].subject,
                                                       "handler": getattr(handler, "__qualname__", repr(handler))},
                    )
                    failed += 1
                    continue
                delivered += 1
        return delivered, failed
