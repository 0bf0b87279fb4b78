"""Start and stop metering in a process (API or worker), and build the quota guard from the configuration."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from praisonai_svc.backend import Backend
from praisonai_svc.ports import RateLimiter
from praisonai_svc.records import RecordStore
from praisonai_svc.retention.policy import retention_of
from praisonai_svc.settings import Settings
from praisonai_svc.usage.buckets import KIND_DAY, KIND_HOUR
from praisonai_svc.usage.meter import Meter
from praisonai_svc.usage.quotas import QuotaGuard, TenantQuota, load_quotas_file, quotas_from_tenants

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp


@contextlib.asynccontextmanager
async def metering(settings: Settings, backend: Backend) -> AsyncIterator[Meter]:
    """A :class:`Meter` flushing in the background while the block runs, and once more when it ends."""
    meter = Meter(backend.records, enabled=settings.usage_metering,
                  retention=(retention_of(KIND_HOUR, settings), retention_of(KIND_DAY, settings)))
    task = asyncio.create_task(meter.run(), name="usage-meter") if meter.enabled else None
    try:
        yield meter
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def configured_quotas(app: ServiceApp) -> dict[str, TenantQuota]:
    """The tenants' quotas: the app YAML's ``tenants:`` section, or the file PRAISONAI_QUOTAS_FILE names instead
    (one source at a time: when the variable is set, the app YAML's quotas are not read)."""
    if app.settings.quotas_file is not None:
        return load_quotas_file(app.settings.quotas_file)
    document = app.config.document
    return quotas_from_tenants(document.section("tenants"), document.where)


def quota_guard(quotas: dict[str, TenantQuota], limiter: RateLimiter, records: RecordStore) -> QuotaGuard | None:
    """The guard of ``quotas`` counting jobs in ``limiter`` (the backend's shared one, so that every replica
    counts together); None when no tenant has a quota."""
    return QuotaGuard(quotas, limiter, records) if quotas else None
