"""Small in-process apps the unit tests share (the memory backend; nothing started)."""

from __future__ import annotations

from typing import Any

from praisonai_svc import ServiceApp
from praisonai_svc.backend import memory_backend
from praisonai_svc.settings import Settings


def two_service_app(name: str, settings: Settings) -> ServiceApp:
    """An app on the memory backend with two job services, ``echo`` (the default: registered first) and
    ``other``, whose handlers return an empty text file: for tests of the API's submission path."""
    app = ServiceApp(name, settings=settings, backend=memory_backend())

    def empty(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"", "text/plain", "x"

    app.job("echo")(empty)
    app.job("other")(empty)
    return app
