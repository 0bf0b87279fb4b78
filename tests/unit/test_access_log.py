"""PRAISONAI_ACCESS_LOG: uvicorn's access log is off by default (not even formatted), and on when asked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import uvicorn

from praisonai_svc.settings import Settings
from praisonai_svc.supervisor import uvicorn_logging

NAMES = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


@pytest.fixture
def restored_loggers() -> Iterator[None]:
    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers),
                    logging.getLogger(name).propagate) for name in NAMES}
    yield
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def configured(access_log: bool) -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("never called")

    uvicorn.Config(app, log_config=uvicorn_logging(access_log), log_level=None, access_log=access_log)


def test_the_access_log_is_off_by_default(restored_loggers: None) -> None:
    assert Settings(_env_file=None).access_log is False  # type: ignore[call-arg]
    configured(False)
    access = logging.getLogger("uvicorn.access")
    assert not access.hasHandlers()  # uvicorn then skips formatting the line (its protocols ask hasHandlers)
    assert logging.getLogger("uvicorn.error").getEffectiveLevel() == logging.WARNING


def test_the_access_log_logs_at_info_when_on(restored_loggers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRAISONAI_ACCESS_LOG", "true")
    assert Settings(_env_file=None).access_log is True  # type: ignore[call-arg]
    configured(True)
    access = logging.getLogger("uvicorn.access")
    assert access.hasHandlers() and access.isEnabledFor(logging.INFO)
    assert not logging.getLogger("uvicorn.error").isEnabledFor(logging.INFO)  # startup chatter stays quiet
