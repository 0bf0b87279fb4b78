"""Security headers on every response (pure ASGI middleware, so streaming and file responses pass untouched).

API responses get a CSP that allows nothing (they are JSON, never rendered), may not be framed and are not
cached. The interactive docs (``/docs``, ``/redoc``) are HTML that loads Swagger UI / ReDoc from the CDN FastAPI
uses, so they get a CSP that allows exactly that, and still may not be framed. A header a route set itself
(e.g. ``Cache-Control`` on signed file downloads) is kept.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CDN = "https://cdn.jsdelivr.net"
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    f"default-src 'none'; script-src 'self' 'unsafe-inline' {CDN}; style-src 'self' 'unsafe-inline' {CDN} "
    "https://fonts.googleapis.com; font-src https://fonts.gstatic.com data:; img-src 'self' data: "
    "https://fastapi.tiangolo.com https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
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


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class SecurityHeadersMiddleware:
    """Pure ASGI; the encoded headers are computed once, since this runs on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._api = _raw(headers_for(""))
        self._docs = _raw(headers_for(next(iter(DOCS_PATHS))))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs if scope.get("path", "") in DOCS_PATHS else self._api

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _value in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
