"""The API's one middleware (pure ASGI): security headers, CORS and request metrics on every response.

These were three middlewares, each wrapping ``send`` in a closure of its own and re-reading the headers; at
thousands of requests a second that was ~8 % of the API's CPU. Here one ``send`` wrapper does all of it:

* the security headers (:mod:`praisonai_svc.security.headers`) on every response, also on CORS preflights and
  error responses (this middleware is the outermost of ours);
* CORS: a request with an ``Origin`` header (a browser's) goes through Starlette's ``CORSMiddleware`` as before;
  any other request gets only what that middleware would add to it, ``Vary: Origin``;
* the request counted by route template and status (:func:`praisonai_svc.observability.http.record_request`);
* an address blocked for failed authentications answered 429 before any route runs (admin routes, downloads
  and the schema included), see :meth:`~praisonai_svc.security.guard.SecurityGuard.blocked_for`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from praisonai_svc.app import ServiceApp
from praisonai_svc.observability.http import record_request
from praisonai_svc.security.guard import SecurityGuard
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


SECURITY_NAMES = frozenset(name for name, _value in SecurityHeaders().for_path("")) | frozenset(
    name for name, _value in SecurityHeaders().for_path("/docs"))
VARY_ORIGIN = (VARY, b"Origin")


def with_edge_headers(headers: list[Header], extra: list[Header], from_browser: bool) -> list[Header]:
    """``SecurityHeaders.added(headers if from_browser else vary_origin(headers), extra)`` in one pass over the
    names for the usual response, which sets neither ``Vary`` nor any security header itself."""
    present = {name.lower() for name, _value in headers}
    if (from_browser or VARY not in present) and present.isdisjoint(SECURITY_NAMES):
        if not from_browser:
            headers.append(VARY_ORIGIN)
        headers.extend(extra)
        return headers
    return SecurityHeaders.added(headers if from_browser else vary_origin(headers), extra)


# Probes a platform sends without credentials: answered even to a blocked address, whose answer they cannot
# leak (they check nothing), so that an attacker sharing an address with the platform's probes (a reverse
# proxy on the same host with PRAISONAI_TRUSTED_PROXY_HOPS=0) cannot get the container restarted.
ANONYMOUS_PROBES = frozenset({"/live", "/ready", "/health"})
CREDENTIAL_HEADERS = frozenset({b"x-api-key", b"x-admin-key", b"authorization"})


def _blocked_for(scope: Scope) -> int | None:
    """Seconds the caller's address is still blocked for failed authentications (None: not blocked)."""
    app = scope.get("app")
    guard: SecurityGuard | None = getattr(app.state, "security_guard", None) if app is not None else None
    if guard is None or not guard.blocked:  # the common case: nothing to look up
        return None
    if scope.get("path") in ANONYMOUS_PROBES and not any(
            name in CREDENTIAL_HEADERS for name, _value in scope.get("headers") or ()):
        return None
    return guard.blocked_for(scope)


async def _too_many_failures(retry_after: int, send: Send) -> None:
    body = json.dumps({"detail": f"Too many failed authentication attempts from your address; retry in "
                                 f"{retry_after} s."}).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode())]})
    await send({"type": "http.response.body", "body": body})


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, service: ServiceApp, cors: dict[str, Any]) -> None:
        self.app = app
        self.cors = cors
        self.browser_app = CORSMiddleware(app, **cors)
        self.security = SecurityHeaders()
        self.service = service

    def wrap_inner(self, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
        """Put ``wrap(app)`` where the app this middleware calls was (for browsers too: behind CORS)."""
        self.app = wrap(self.app)
        self.browser_app = CORSMiddleware(self.app, **self.cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        extra = self.security.for_path(scope.get("path", ""))
        from_browser = False
        for name, _value in scope.get("headers") or ():
            if name == b"origin":
                from_browser = True
                break

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = with_edge_headers(list(message.get("headers") or ()), extra, from_browser)
            await send(message)

        try:
            blocked_for = _blocked_for(scope)
            if blocked_for is not None:
                await _too_many_failures(blocked_for, send_with_headers)
                return
            await (self.browser_app if from_browser else self.app)(scope, receive, send_with_headers)
        finally:
            record_request(self.service, scope, status, time.perf_counter() - started)
