"""The API's one middleware (pure ASGI): security headers, CORS and request metrics on every response.

These were three middlewares, each wrapping ``send`` in a closure of its own and re-reading the headers; at
thousands of requests a second that was ~8 % of the API's CPU. Here one ``send`` wrapper does all three:

* the security headers (:mod:`praisonai_svc.security.headers`) on every response, also on CORS preflights and
  error responses (this middleware is the outermost of ours);
* CORS: a request with an ``Origin`` header (a browser's) goes through Starlette's ``CORSMiddleware`` as before;
  any other request gets only what that middleware would add to it, ``Vary: Origin``;
* the request counted by route template and status (:func:`praisonai_svc.observability.http.record_request`).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from praisonai_svc.app import ServiceApp
from praisonai_svc.observability.http import record_request
from praisonai_svc.security.headers import Header, SecurityHeaders

VARY = b"vary"


def vary_origin(headers: list[Header]) -> list[Header]:
    """``headers`` with ``Origin`` added to ``Vary`` the way Starlette's CORSMiddleware does for a request
    without ``Origin``: every ``Vary`` value joined into the first one (a response may differ by origin)."""
    values = [value for name, value in headers if name == VARY]
    if not values:
        return [*headers, (VARY, b"Origin")]
    merged = (VARY, b", ".join([*values, b"Origin"]))
    first = next(index for index, (name, _value) in enumerate(headers) if name == VARY)
    return [merged if index == first else header for index, header in enumerate(headers)
            if index == first or header[0] != VARY]


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, service: ServiceApp, cors: dict[str, Any]) -> None:
        self.app = app
        self.browser_app = CORSMiddleware(app, **cors)
        self.security = SecurityHeaders()
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        extra = self.security.for_path(scope.get("path", ""))
        from_browser = any(name == b"origin" for name, _value in scope.get("headers") or ())

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or ())
                message["headers"] = self.security.added(headers if from_browser else vary_origin(headers), extra)
            await send(message)

        try:
            await (self.browser_app if from_browser else self.app)(scope, receive, send_with_headers)
        finally:
            record_request(self.service, scope, status, time.perf_counter() - started)
