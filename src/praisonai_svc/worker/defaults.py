"""Worker settings that are good without tuning.

Concurrency: a sync handler holds a thread while it runs, an async one only a task, so an all-async app can keep
many more jobs in flight. Short jobs need enough slots that a batch of receives and writes is shared by many jobs
(see worker/batching.py); more slots than that only add threads contending for the GIL.
"""

from __future__ import annotations

import os

from praisonai_svc.app import ServiceApp

SYNC_SLOTS_PER_CPU = 4
SYNC_MAX = 32
ASYNC_DEFAULT = 64


def default_concurrency(app: ServiceApp) -> int:
    """PRAISONAI_WORKER_CONCURRENCY if set; else 64 when every handler is async, else 4 per CPU up to 32."""
    configured = app.settings.worker_concurrency
    if configured is not None:
        return configured
    if app.services and all(spec.is_async for spec in app.services.values()):
        return ASYNC_DEFAULT
    return min(SYNC_MAX, SYNC_SLOTS_PER_CPU * (os.cpu_count() or 1))
