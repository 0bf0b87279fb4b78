"""Where usage is stored: one record per (period, tenant, service, process), kinds ``usage_hour`` and
``usage_day``.

Each process writes only its own records (the process id is part of the record id), with its running totals,
so writes never conflict and never need a read first: one unconditional upsert per changed bucket per flush.
Readers add the records of every process up. Hourly records expire PRAISONAI_USAGE_HOURLY_RETENTION after their
hour began (35 days by default), daily rollups PRAISONAI_USAGE_DAILY_RETENTION after their day (400 days); the
retention pruner (praisonai_svc.retention) removes them once expired, like every tracked record kind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from praisonai_svc.records import Record, usable_id
from praisonai_svc.usage.counts import UsageCounts

KIND_HOUR = "usage_hour"
KIND_DAY = "usage_day"
HOUR_RETENTION = timedelta(days=35)  # the settings' defaults, for meters made without settings (tests, tools)
DAY_RETENTION = timedelta(days=400)
UNTENANTED = "-"  # callers without a tenant (operator keys, or no authentication configured)


def hour_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H")


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d")


def tenant_label(tenant: str | None) -> str:
    return UNTENANTED if tenant is None else tenant


def _id_part(text: str) -> str:
    """``text`` if it may appear in a record id, else a digest of it (fields keep the real text)."""
    if usable_id(text) and ":" not in text and len(text) <= 64:
        return text
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class BucketKey:
    """One bucket: a period (``YYYYMMDDHH`` for hours, ``YYYYMMDD`` for days), a tenant and a service."""

    period: str
    tenant: str
    service: str

    @property
    def is_hour(self) -> bool:
        return len(self.period) == 10

    def record(self, counts: UsageCounts, instance: str,
               retention: tuple[timedelta, timedelta] = (HOUR_RETENTION, DAY_RETENTION)) -> Record:
        """The bucket's record; ``retention`` is (hourly, daily): how long after its start it is kept."""
        start = datetime.strptime(self.period, "%Y%m%d%H" if self.is_hour else "%Y%m%d").replace(tzinfo=UTC)
        kind, keep = (KIND_HOUR, retention[0]) if self.is_hour else (KIND_DAY, retention[1])
        return Record(
            kind=kind, id=f"{self.period}:{_id_part(self.tenant)}:{_id_part(self.service)}:{instance}",
            body={"period": self.period, "tenant": self.tenant, "service": self.service, "instance": instance,
                  **counts.as_dict()},
            fields={"day": self.period[:8], "tenant": self.tenant, "service": self.service},
            expires_utc=start + keep,
        )
