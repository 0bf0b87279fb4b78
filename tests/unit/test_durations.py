"""Durations as operators write them (PRAISONAI_JOB_RETENTION=30d …)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from praisonai_svc.durations import format_duration, parse_duration
from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import Settings


@pytest.mark.parametrize(("text", "expected"), [
    ("30d", timedelta(days=30)), ("24h", timedelta(hours=24)), ("15m", timedelta(minutes=15)),
    ("90s", timedelta(seconds=90)), ("1w", timedelta(days=7)), ("3600", timedelta(hours=1)),
    (" 2 days ", timedelta(days=2)), ("1.5h", timedelta(minutes=90)), (45, timedelta(seconds=45)),
    (timedelta(minutes=1), timedelta(minutes=1)),
])
def test_parse_duration_accepts_units_and_plain_seconds(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "soon", "-1d", "10y", "1e400", True, "9" * 40])
def test_parse_duration_refuses_nonsense_with_an_example(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_format_duration_round_trips() -> None:
    for value in (timedelta(days=30), timedelta(hours=24), timedelta(minutes=5), timedelta(seconds=7)):
        assert parse_duration(format_duration(value)) == value


def test_settings_read_durations_and_refuse_a_window_longer_than_retention() -> None:
    settings = Settings(_env_file=None, job_retention="7d", idempotency_window="2h")  # type: ignore[call-arg]
    assert settings.job_retention == timedelta(days=7) and settings.idempotency_window == timedelta(hours=2)
    with pytest.raises(ValueError, match="IDEMPOTENCY_WINDOW"):
        Settings(_env_file=None, job_retention="1h", idempotency_window="2h")  # type: ignore[call-arg]


def test_job_decorator_takes_per_service_retention() -> None:
    from praisonai_svc import ServiceApp

    app = ServiceApp("x")

    @app.job("short", retention="2d", idempotency_window="1h")
    def short(payload: dict[str, object]) -> tuple[bytes, str, str]:
        return b"", "text/plain", "a.txt"

    assert app.services["short"].retention == timedelta(days=2)
    assert app.services["short"].idempotency_window == timedelta(hours=1)
    with pytest.raises(ConfigError, match="retention"):
        app.job("bad", retention="forever")(short)
