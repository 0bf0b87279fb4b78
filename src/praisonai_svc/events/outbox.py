"""Durable events: what a producer registers so that an event survives a crash between a change and its delivery.

The in-process bus forgets an event whose publisher dies before (or while) its subscribers run. A producer whose
events must not be lost (files: ``file.uploaded`` starts workflows) uses the transactional-outbox pattern instead:

1. the pending event is written **in the same storage write** as the change it announces (for files, into the
   file record), so the change never exists without its event;
2. the producer delivers it with :meth:`~praisonai_svc.events.EventBus.deliver` and removes it once every
   subscriber has handled it (a subscriber that raised gets it again later);
3. what a crash or a failing subscriber left behind is delivered again by the producer's *sweep*, registered here.

Every API and worker process runs the sweeps once it has started (its subscribers are installed by then), and the
elected pruner after each of its runs (only events older than :data:`SWEEP_MIN_AGE`, which a live publisher has
had time to finish). When nothing is pending a sweep is one indexed query. Delivery is therefore *at least once*:
subscribers that start durable work make it idempotent (a file trigger claims (workflow, file, event)).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from praisonai_svc.errors import StorageError
from praisonai_svc.logs import get_logger

if TYPE_CHECKING:
    from praisonai_svc.backend import Backend

# (backend, min_age) -> how many pending events it delivered; only events older than min_age are touched.
OutboxSweep = Callable[["Backend", timedelta], Awaitable[int]]
SWEEP_MIN_AGE = timedelta(seconds=60)
log = get_logger("events")


class Outboxes:
    """The sweeps of an app's durable producers, by name."""

    def __init__(self) -> None:
        self._sweeps: dict[str, OutboxSweep] = {}

    def register(self, name: str, sweep: OutboxSweep) -> None:
        """Run ``sweep`` whenever the app's outboxes are swept (registering a name again replaces it)."""
        self._sweeps[name] = sweep

    def unregister(self, name: str) -> None:
        """Stop sweeping ``name`` (unknown names are ignored)."""
        self._sweeps.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._sweeps)

    async def sweep(self, backend: Backend, *, min_age: timedelta = timedelta(0)) -> int:
        """Deliver again what every outbox holds (older than ``min_age``); how many events went out.

        Never raises for a failing sweep (storage down, a bug): it is logged, and the next sweep tries again, so
        a process still starts and the pruner still prunes.
        """
        delivered = 0
        for name, sweep in list(self._sweeps.items()):
            try:
                delivered += await sweep(backend, min_age)
            except StorageError as exc:
                log.warning("outbox sweep failed; the next sweep retries", extra={"outbox": name, "error": str(exc)})
            except Exception:
                log.exception("outbox sweep failed; the next sweep retries", extra={"outbox": name})
        if delivered:
            log.info("outbox sweep delivered pending events", extra={"delivered": delivered})
        return delivered
