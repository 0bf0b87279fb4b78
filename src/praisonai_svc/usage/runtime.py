"""Start and stop metering in a process (API or worker), and build the quota guard from the configuration."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from praisonai_svc.backend import Backend
from praisonai_svc.ports import RateLimiter
from praisonai_svc.records import RecordStore
from praisonai_svc.settings import Settings
from praisonai_svc.usage.meter import Meter
from praisonai_svc.usage.quotas import QuotaGuard, TenantQuota, load_quotas_file


@contextlib.asynccontextmanager
async def metering(settings: Settings, backend: Backend) -> AsyncIterator[Meter]:
    """A :class:`Meter` flushing in the background while the block runs, and once more when it ends."""
    meter = Meter(backend.records, enabled=settings.usage_metering)
    task = asyncio.create_task(meter.run(), name="usage-meter") if meter.enabled else None
    try:
        yield meter
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def configured_quotas(settings: Settings) -> dict[str, TenantQuota]:
    """The tenants' quotas (PRAISONAI_QUOTAS_FILE until the app YAML loader passes its ``tenants:`` here)."""
    return load_quotas_file(settings.quotas_file) if settings.quotas_file is not None else {}


def quota_guard(quotas: dict[str, TenantQuota], limiter: RateLimiter, records: RecordStore) -> QuotaGuard | None:
    """The guard of ``quotas`` counting jobs in ``limiter`` (the backend's shared one, so that every replica
    counts together); None when no tenant has a quota."""
    return QuotaGuard(quotas, limiter, records) if quotas else None
