"""The ``pruner`` background service: one process of the deployment (``runs_on="one"``) runs the pruner every
PRAISONAI_PRUNE_INTERVAL. Like every service it can be stopped, started and watched through /services, and
``services: {pruner: {enabled: false}}`` in praisonai.yaml turns it off (then prune from cron with the CLI).

After a run that removed nothing the next waits twice as long, up to :data:`IDLE_INTERVAL_FACTOR` intervals
(an hour by default) and at most an hour, so that an idle deployment costs a few requests an hour; a run that
removes something goes back to the interval.

Each run also sweeps the app's outboxes (praisonai_svc.events.outbox): durable events that a crashed or failing
delivery left pending for over a minute are delivered again (one indexed query when there are none).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from praisonai_svc.errors import StorageError
from praisonai_svc.events.outbox import SWEEP_MIN_AGE
from praisonai_svc.logs import get_logger
from praisonai_svc.services import Service

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

PRUNER_SERVICE = "pruner"
FIRST_RUN_DELAY = 10.0  # seconds after election: let a starting deployment settle before the first sweep
IDLE_INTERVAL_FACTOR = 12  # the longest wait after empty runs, in prune intervals (and at most IDLE_MAX_SECONDS)
IDLE_MAX_SECONDS = 3600.0
# The first empty run waits 2x this many intervals (20 min by default), then twice that, up to the cap: an idle
# leader's pruner costs one run (one read per record kind) per 20-60 minutes, not one per interval.
INITIAL_WAIT_FACTOR = 2.0


def next_wait(interval: float, previous: float, removed: int) -> float:
    """Seconds until the next run: the interval after a run that removed something, else twice the last wait."""
    if removed:
        return interval
    return max(interval, min(previous * 2, interval * IDLE_INTERVAL_FACTOR, IDLE_MAX_SECONDS))
log = get_logger("retention")


class PrunerService(Service):
    """Runs :class:`~praisonai_svc.retention.pruner.Pruner` periodically on the elected process."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name or PRUNER_SERVICE)
        self.app: ServiceApp | None = None
        self.backend: Backend | None = None
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def bind(self, app: ServiceApp, backend: Backend) -> None:
        """Called by the services runtime with this process's storage before the service starts."""
        self.app, self.backend = app, backend

    async def start(self) -> None:
        if self.app is None or self.backend is None:
            raise RuntimeError("the pruner was started before the services runtime gave it storage")
        self._task = asyncio.create_task(self._loop(self.app, self.backend), name=PRUNER_SERVICE)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, app: ServiceApp, backend: Backend) -> None:
        from praisonai_svc.retention.pruner import Pruner

        pruner = Pruner(app, backend)
        interval = app.settings.prune_interval.total_seconds()
        await asyncio.sleep(min(FIRST_RUN_DELAY, interval))
        wait = interval * INITIAL_WAIT_FACTOR
        while True:
            removed = 1
            try:
                removed = (await pruner.run_once()).total
                self.runs += 1
            except StorageError as exc:  # storage down: the next run catches up, nothing is half-removed
                log.warning("prune failed; retrying at the next interval", extra={"error": exc.message})
            removed += await app.events.outboxes.sweep(backend, min_age=SWEEP_MIN_AGE)  # never raises
            wait = next_wait(interval, wait, removed)
            await asyncio.sleep(wait)


def register_pruner(app: ServiceApp) -> None:
    app.register_service(PrunerService, PRUNER_SERVICE, runs_on="one")
