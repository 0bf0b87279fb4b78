"""Read usage for ``GET /usage`` and ``praisonai-svc usage``: buckets of every process added up, as rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from praisonai_svc.errors import PayloadError
from praisonai_svc.records import RecordStore
from praisonai_svc.usage.buckets import KIND_DAY, KIND_HOUR, day_of
from praisonai_svc.usage.counts import COUNT_NAMES, UsageCounts

Granularity = Literal["hour", "day"]
MAX_DAYS: dict[str, int] = {"hour": 31, "day": 366}  # the widest range one request may read
PAGE = 500


@dataclass
class UsageRow:
    """One period's usage of one tenant and service."""

    period: str  # ISO-8601 start of the hour or day (UTC)
    tenant: str
    service: str
    counts: UsageCounts = field(default_factory=UsageCounts)

    def as_dict(self) -> dict[str, object]:
        return {"period": self.period, "tenant": self.tenant, "service": self.service, **self.counts.as_dict()}


@dataclass(frozen=True)
class UsageQuery:
    start: datetime
    end: datetime
    granularity: Granularity = "day"
    tenant: str | None = None  # None: every tenant (operators only)
    service: str | None = None

    def check(self) -> None:
        if self.end <= self.start:
            raise PayloadError("Invalid range: 'to' must be after 'from'.")
        if self.end - self.start > timedelta(days=MAX_DAYS[self.granularity]):
            wider = " or use granularity=day" if self.granularity == "hour" else ""
            raise PayloadError(f"Invalid range: at most {MAX_DAYS[self.granularity]} days at granularity "
                               f"{self.granularity}; narrow from/to{wider}.")

    def days(self) -> list[str]:
        first = self.start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        count = (self.end - first).days + 1
        return [day_of(first + timedelta(days=offset)) for offset in range(count)
                if first + timedelta(days=offset) < self.end]


def _period_start(period: str) -> datetime:
    return datetime.strptime(period, "%Y%m%d%H" if len(period) == 10 else "%Y%m%d").replace(tzinfo=UTC)


async def read_usage(records: RecordStore, query: UsageQuery) -> list[UsageRow]:
    """Rows in (period, tenant, service) order; periods overlapping [start, end) are included whole."""
    query.check()
    kind = KIND_HOUR if query.granularity == "hour" else KIND_DAY
    where = {key: value for key, value in (("tenant", query.tenant), ("service", query.service)) if value}
    rows: dict[tuple[str, str, str], UsageRow] = {}
    step = timedelta(hours=1) if query.granularity == "hour" else timedelta(days=1)
    for day in query.days():
        cursor: str | None = None
        while True:
            page = await records.list(kind, where={"day": day, **where}, limit=PAGE, cursor=cursor)
            for record in page.records:
                start = _period_start(str(record.body["period"]))
                if start + step <= query.start or start >= query.end:
                    continue
                key = (start.isoformat(), str(record.body["tenant"]), str(record.body["service"]))
                rows.setdefault(key, UsageRow(*key)).counts.add(UsageCounts.from_dict(record.body))
            cursor = page.next_cursor
            if cursor is None:
                break
    return [rows[key] for key in sorted(rows)]


def totals_by_tenant(rows: list[UsageRow]) -> dict[str, UsageCounts]:
    totals: dict[str, UsageCounts] = {}
    for row in rows:
        totals.setdefault(row.tenant, UsageCounts()).add(row.counts)
    return totals


CSV_COLUMNS = ("period", "tenant", "service", *COUNT_NAMES)


def to_csv(rows: list[UsageRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.as_dict())
    return out.getvalue()
