"""Security headers on every response (added by the API's one middleware, :mod:`praisonai_svc.api.edge`).

API responses get a CSP that allows nothing (they are JSON, never rendered), may not be framed and are not
cached. The interactive docs (``/docs``, ``/redoc``) are HTML whose scripts, styles and images all come from the
API itself (:mod:`praisonai_svc.api.docs`: packaged assets, no CDN, no inline script), so their CSP allows
``'self'`` only. Styles also allow ``'unsafe-inline'``: ReDoc (styled-components) injects its CSS as ``<style>``
elements at run time; that lets no script run. A header a route set itself (e.g. ``Cache-Control`` on signed file
downloads and the docs assets) is kept.
"""

from __future__ import annotations

DOCS_PATHS = frozenset({"/docs", "/redoc"})

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def headers_for(path: str) -> dict[str, str]:
    """The security headers of a response to ``path``."""
    return {**COMMON, "Content-Security-Policy": DOCS_CSP if path in DOCS_PATHS else API_CSP}


Header = tuple[bytes, bytes]


def _raw(headers: dict[str, str]) -> list[Header]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class SecurityHeaders:
    """The headers encoded once, since they are added to every response."""

    def __init__(self) -> None:
        self._api = _raw(headers_for(""))
        self._docs = _raw(headers_for(next(iter(DOCS_PATHS))))

    def for_path(self, path: str) -> list[Header]:
        return self._docs if path in DOCS_PATHS else self._api

    @staticmethod
    def added(headers: list[Header], extra: list[Header]) -> list[Header]:
        """``headers`` plus those of ``extra`` it does not set itself (names are lower-case, as ASGI sends them)."""
        present = {name.lower() for name, _value in headers}
        return [*headers, *(h for h in extra if h[0] not in present)]
