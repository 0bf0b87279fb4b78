"""Retention settings per record kind, and the registry of kinds the pruner looks after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, check_kind
from praisonai_svc.settings import Settings

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

# Run before an expired record is deleted, with the storage the pruner works on (features know no adapter).
BeforeDelete = Callable[[Record, "Backend"], Awaitable[None]]

# Which setting bounds each built-in record kind's life. Features look their expiry up here when they write.
_SETTING_OF_KIND = {
    "file": "file_retention",
    "execution": "execution_retention",
    "webhook_delivery": "webhook_delivery_retention",
    "usage_hour": "usage_hourly_retention",
    "usage_day": "usage_daily_retention",
}


def retention_of(kind: str, settings: Settings) -> timedelta:
    """How long records of ``kind`` are kept (job retention for kinds without a setting of their own)."""
    value = getattr(settings, _SETTING_OF_KIND.get(kind, "job_retention"))
    assert isinstance(value, timedelta)
    return value


def job_retention_of(app: ServiceApp, service: str) -> timedelta:
    """How long a terminal job of ``service`` is kept: its own ``retention`` from the app's YAML, else
    PRAISONAI_JOB_RETENTION. What belongs to a job (its event log) expires no later than the job."""
    spec = app.services.get(service)
    if spec is not None and spec.retention is not None:
        return spec.retention
    return app.settings.job_retention


def expiry_for(kind: str, settings: Settings, *, start: datetime | None = None) -> datetime:
    """The ``expires_utc`` a new record of ``kind`` gets: ``start`` (default now) + its retention."""
    return (start or utcnow()) + retention_of(kind, settings)


@dataclass(frozen=True)
class TrackedKind:
    kind: str
    before_delete: BeforeDelete | None


class RetentionRegistry:
    """The record kinds the pruner removes once expired, each with an optional hook run before the delete."""

    def __init__(self) -> None:
        self._kinds: dict[str, TrackedKind] = {}

    def track(self, kind: str, before_delete: BeforeDelete | None = None) -> None:
        """Prune expired records of ``kind``; ``before_delete(record, backend)`` removes what the record owns first
        (e.g. its blobs), idempotently: a pruner killed in between runs it again."""
        check_kind(kind)
        self._kinds[kind] = TrackedKind(kind, before_delete)

    @property
    def kinds(self) -> list[TrackedKind]:
        return list(self._kinds.values())
