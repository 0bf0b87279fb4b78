"""Cron expressions in a time zone: validation, the next due times, and the due times in a window.

Expressions have 5 fields (minute hour day month weekday) or 6, the sixth being seconds (croniter's form, so
``*/2 * * * * *`` fires every two seconds). Due times are computed on the *wall clock* of the trigger's time zone
and then mapped to UTC, so ``30 1 * * *`` in Europe/London is 01:30 local all year:

* on the spring-forward day 01:30 does not exist; it fires once, at the instant the wall clock would have shown
  it had the clocks not moved (01:30 GMT = 02:30 BST), i.e. PEP 495's ``fold=0`` reading;
* on the fall-back day 01:30 happens twice; it fires once, at the first (BST) occurrence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from praisonai_svc.errors import PayloadError

MAX_SCAN = 20_000  # candidates skipped in one search (only sub-minute crons across a DST gap come near it)


class CronError(PayloadError):
    """The cron expression or time zone is not valid."""


def parse_cron(expression: str) -> str:
    """The expression, stripped; :class:`CronError` saying what is wrong when it is not valid."""
    text = " ".join(expression.split())
    fields = text.split(" ") if text else []
    if len(fields) not in (5, 6):
        raise CronError(
            f"A cron expression has 5 fields (minute hour day month weekday) or 6 (the sixth is seconds); "
            f"{expression!r} has {len(fields)}."
        )
    if not croniter.is_valid(text):
        raise CronError(f"{expression!r} is not a valid cron expression (see `man 5 crontab`).")
    return text


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"Unknown time zone {name!r}; use an IANA name such as 'Europe/London' or 'UTC'.") from exc


def next_due(expression: str, timezone: str, after: datetime) -> datetime:
    """The first due time strictly after ``after`` (aware), in UTC."""
    zone = check_timezone(timezone)
    text = parse_cron(expression)
    after_utc = after.astimezone(UTC)
    local = after_utc.astimezone(zone).replace(tzinfo=None)
    iterator = croniter(text, local)
    for _ in range(MAX_SCAN):
        candidate: datetime = iterator.get_next(datetime)
        due = candidate.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if due > after_utc:
            return due
    raise CronError(f"{expression!r} has no due time after {after_utc.isoformat()} within reach.")


def next_runs(expression: str, timezone: str = "UTC", *, count: int = 5, after: datetime | None = None) -> list[
        datetime]:
    """The next ``count`` due times (UTC) after ``after`` (default: now)."""
    moment = after or datetime.now(UTC)
    runs: list[datetime] = []
    for _ in range(count):
        moment = next_due(expression, timezone, moment)
        runs.append(moment)
    return runs


def due_between(expression: str, timezone: str, start: datetime, end: datetime, *, limit: int = 1000) -> list[
        datetime]:
    """Due times in ``(start, end]`` (UTC), at most ``limit`` of them (the newest are kept)."""
    found: list[datetime] = []
    moment = start
    while True:
        moment = next_due(expression, timezone, moment)
        if moment > end:
            return found[-limit:]
        found.append(moment)
        if len(found) > 2 * limit:
            found = found[-limit:]


def floor_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


__all__ = ["CronError", "check_timezone", "due_between", "floor_seconds", "next_due", "next_runs", "parse_cron"]
