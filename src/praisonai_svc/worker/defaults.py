"""Worker settings that are good without tuning.

Concurrency: a sync handler holds a thread while it runs, an async one only a task, so an all-async app can keep
many more jobs in flight. Short jobs need enough slots that a batch of receives and writes is shared by many jobs
(see worker/batching.py): with 8 slots a no-op job costs about twice the CPU it costs with 32, since every
commit and every receive is shared by fewer jobs. Long jobs need few slots per worker, so that a trickle of them
spreads over the workers instead of piling up on the first one that polls.

So when the concurrency is not configured, :class:`Slots` starts at the base (64 for all-async apps, else 4 per
CPU up to 32) and opens :data:`SHORT_JOB_SLOTS` while the handlers it runs are short (a moving average under
:data:`SHORT_JOB_SECONDS`): a worker holding 32 jobs of a few milliseconds each keeps them from nobody.
"""

from __future__ import annotations

import os

from praisonai_svc.app import ServiceApp

SYNC_SLOTS_PER_CPU = 4
SYNC_MAX = 32
ASYNC_DEFAULT = 64
SHORT_JOB_SLOTS = 32  # slots while jobs are short (when the concurrency is not configured)
SHORT_JOB_SECONDS = 0.02  # "short": a handler's moving-average run time below this
_WEIGHT = 0.1  # of the newest run time in the moving average


def default_concurrency(app: ServiceApp) -> int:
    """PRAISONAI_WORKER_CONCURRENCY if set; else 64 when every handler is async, else 4 per CPU up to 32."""
    configured = app.settings.worker_concurrency
    if configured is not None:
        return configured
    if app.services and all(spec.is_async for spec in app.services.values()):
        return ASYNC_DEFAULT
    return min(SYNC_MAX, SYNC_SLOTS_PER_CPU * (os.cpu_count() or 1))


class Slots:
    """How many jobs a worker runs at once: the configured concurrency, or the default that adapts to job length."""

    def __init__(self, app: ServiceApp, concurrency: int | None = None) -> None:
        self.base = concurrency or default_concurrency(app)
        self.adaptive = concurrency is None and app.settings.worker_concurrency is None
        self._average: float | None = None  # handler run time, seconds (exponential moving average)

    def ran(self, seconds: float) -> None:
        """A handler ran for ``seconds`` (whatever its outcome)."""
        self._average = seconds if self._average is None else (
            self._average + _WEIGHT * (seconds - self._average))

    @property
    def short_jobs(self) -> bool:
        return self._average is not None and self._average < SHORT_JOB_SECONDS

    @property
    def limit(self) -> int:
        if self.adaptive and self.short_jobs:
            return max(self.base, SHORT_JOB_SLOTS)
        return self.base
