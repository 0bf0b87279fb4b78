"""Per-tenant daily quotas from the app YAML (``tenants: {acme: {max_jobs_per_day: 500, ...}}``).

* ``max_jobs_per_day`` is counted in the backend's shared rate limiter (one fixed window per UTC day), so it
  holds exactly across API replicas: of N concurrent submissions exactly the remaining number pass.
* ``max_handler_seconds_per_day`` and ``max_output_bytes_per_day`` are measured by the workers when jobs
  finish, so they are checked against the usage records at submission: a tenant can overshoot them by what its
  jobs already queued or running use, plus what finished in the last flush interval of the workers (5 s),
  plus this process's cache of the records (:data:`USAGE_CACHE_SECONDS`). docs/usage.md says it in words.

The mapping is the app YAML's ``tenants:`` section (``praisonai.yaml``, read by :mod:`praisonai_svc.appconfig`);
PRAISONAI_QUOTAS_FILE may name a YAML file to take it from instead (:func:`load_quotas_file`), e.g. a config map
mounted apart from the app's file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from praisonai_svc.errors import ConfigError, QuotaExceeded
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import RateLimiter
from praisonai_svc.records import RecordStore
from praisonai_svc.usage.buckets import KIND_DAY, day_of
from praisonai_svc.usage.counts import UsageCounts

DAY_SECONDS = 86_400
USAGE_CACHE_SECONDS = 2.0
QUOTA_KEYS = ("max_jobs_per_day", "max_handler_seconds_per_day", "max_output_bytes_per_day")


class TenantQuota(BaseModel):
    """A tenant's daily limits; None (or absent) means no limit."""

    model_config = ConfigDict(extra="forbid")

    max_jobs_per_day: int | None = Field(None, ge=0)
    max_handler_seconds_per_day: float | None = Field(None, ge=0)
    max_output_bytes_per_day: int | None = Field(None, ge=0)


def quotas_from_tenants(
    tenants: Mapping[str, Any] | None, where: Callable[..., str] | None = None,
) -> dict[str, TenantQuota]:
    """The quotas in the app YAML's ``tenants:`` mapping (each tenant's keys directly, or under ``quotas:``).

    Other keys of a tenant are left to their own features. Raises ConfigError naming the tenant and key, after
    ``where(*keys)`` (``file:line`` of a key path, from the app's ConfigDocument) when given.
    """
    if tenants is not None and not isinstance(tenants, Mapping):
        raise ConfigError(f"{_at(where)}'tenants' must map tenant names to their settings.")
    quotas: dict[str, TenantQuota] = {}
    for tenant, entry in (tenants or {}).items():
        if entry is None:
            continue
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{_at(where, tenant)}tenants.{tenant}: expected a mapping of settings, "
                              f"got {type(entry).__name__}.")
        nested = "quotas" in entry
        source = entry["quotas"] if nested else entry
        if not isinstance(source, Mapping):
            raise ConfigError(f"{_at(where, tenant, 'quotas')}tenants.{tenant}.quotas must be a mapping.")
        chosen = {key: value for key, value in source.items() if key in QUOTA_KEYS}
        try:
            quota = TenantQuota.model_validate(chosen)
        except ValidationError as exc:
            first = str(exc.errors()[0]["loc"][0])
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            keys = (tenant, "quotas", first) if nested else (tenant, first)
            raise ConfigError(f"{_at(where, *keys)}tenants.{tenant}: {problems}") from exc
        if any(getattr(quota, key) is not None for key in QUOTA_KEYS):
            quotas[str(tenant)] = quota
    return quotas


def _at(where: Callable[..., str] | None, *keys: str) -> str:
    return f"{where('tenants', *keys)}: " if where is not None else ""


def load_quotas_file(path: Path) -> dict[str, TenantQuota]:
    """Quotas from a YAML file: the app YAML (``tenants:`` at the top) or a bare ``{tenant: {...}}`` mapping."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"PRAISONAI_QUOTAS_FILE: cannot read {path}: {exc}") from exc
    if not isinstance(document, Mapping):
        raise ConfigError(f"PRAISONAI_QUOTAS_FILE: {path} must hold a mapping (tenants: {{name: {{...}}}}).")
    return quotas_from_tenants(document.get("tenants", document))


def next_reset(now: datetime) -> tuple[datetime, int]:
    """The next UTC midnight and the whole seconds until it (at least 1)."""
    midnight = (now.astimezone(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight, max(int((midnight - now).total_seconds()) + 1, 1)


async def tenant_day_usage(records: RecordStore, tenant: str, day: str) -> UsageCounts:
    """Everything ``tenant`` used on ``day`` (``YYYYMMDD``), every service and process added up."""
    total = UsageCounts()
    cursor: str | None = None
    while True:
        page = await records.list(KIND_DAY, where={"day": day, "tenant": tenant}, limit=500, cursor=cursor)
        for record in page.records:
            total.add(UsageCounts.from_dict(record.body))
        cursor = page.next_cursor
        if cursor is None:
            return total


class QuotaGuard:
    """Refuses a tenant's submission (:class:`QuotaExceeded`, HTTP 429) once a daily quota is used up."""

    def __init__(self, quotas: dict[str, TenantQuota], limiter: RateLimiter, records: RecordStore) -> None:
        self.quotas = quotas
        self.limiter = limiter
        self.records = records
        self._cache: dict[str, tuple[float, str, UsageCounts]] = {}

    async def admit(self, tenant: str | None) -> None:
        """Count one submission of ``tenant`` against its quotas, or raise QuotaExceeded (nothing counted)."""
        [refusal] = await self.admit_many(tenant, 1)
        if refusal is not None:
            raise refusal

    async def admit_many(self, tenant: str | None, count: int) -> list[QuotaExceeded | None]:
        """:meth:`admit` for ``count`` submissions at once: per submission, None if admitted, else the
        QuotaExceeded that refused it. The usage quotas are read once; each submission is one hit on the
        jobs-per-day counter, made concurrently (of N, exactly the remaining number pass)."""
        quota = self.quotas.get(tenant) if tenant is not None else None
        if quota is None or tenant is None or count <= 0:
            return [None] * max(count, 0)
        now = utcnow()
        midnight, retry_after = next_reset(now)
        resets = midnight.isoformat()
        if quota.max_handler_seconds_per_day is not None or quota.max_output_bytes_per_day is not None:
            used = await self._usage_today(tenant, day_of(now))
            for name, limit, value in (
                ("max_handler_seconds_per_day", quota.max_handler_seconds_per_day, used.handler_seconds),
                ("max_output_bytes_per_day", quota.max_output_bytes_per_day, used.bytes_out),
            ):
                if limit is not None and value >= limit:
                    return [QuotaExceeded(name, limit, resets, retry_after) for _ in range(count)]
        limit = quota.max_jobs_per_day
        if limit is None:
            return [None] * count
        decisions = await asyncio.gather(*(self.limiter.hit(f"quota:jobs:{tenant}", DAY_SECONDS, limit)
                                           for _ in range(count)))
        return [None if decision.allowed else QuotaExceeded("max_jobs_per_day", limit, resets, retry_after)
                for decision in decisions]

    async def _usage_today(self, tenant: str, day: str) -> UsageCounts:
        cached = self._cache.get(tenant)
        if cached is not None and cached[1] == day and time.monotonic() - cached[0] < USAGE_CACHE_SECONDS:
            return cached[2]
        used = await tenant_day_usage(self.records, tenant, day)
        self._cache[tenant] = (time.monotonic(), day, used)
        return used
