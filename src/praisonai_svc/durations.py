"""Durations written the way operators write them: ``30d``, ``24h``, ``90m``, ``45s``, ``1w``, or plain seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)?\s*$",
                       re.IGNORECASE)


def parse_duration(value: Any) -> timedelta:
    """``"30d"`` → 30 days; a number means seconds; a timedelta passes through. ValueError names the problem."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or text like 30d, 24h, 15m, 90s")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"{str(value)[:40]!r} is not a duration; write e.g. 30d, 24h, 15m, 90s or 3600")
        seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s")[0].lower()]
    if seconds < 0 or seconds > 100 * 365 * 86400:
        raise ValueError("a duration must be between 0 and 100 years")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: ``timedelta(days=30)`` → ``30d`` (weeks are written in days)."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
