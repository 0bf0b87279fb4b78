"""The API's fast lane: the framework layers a request crosses that do nothing for this app are skipped.

Measured in process on the 2-CPU development machine, a trivial route behind the full stack took ~21 µs against
~7 µs for the same route behind our own middleware alone. Where the other 14 µs went, and what the lane does:

* ``FastAPI.__call__`` asks OpenTelemetry on *every* request whether a tracer or meter provider was set up
  (~3 µs, and ~7 µs with Starlette's own ``__call__``). :class:`ServiceAPI` asks once, when its lifespan has
  started; if telemetry is off then, an HTTP request goes straight to the middleware stack, exactly as
  ``Starlette.__call__`` sends it (``scope["app"]``, the app's ``root_path``). With telemetry on (Application
  Insights, or any provider FastAPI's own instrumentation would use) nothing is skipped. WebSockets and the
  lifespan always take FastAPI's way.
* ``POST /jobs`` is the hot path. The router would try the routes in order, wrap the request in an exit stack
  (for uploaded files, which a submission never has) and hand it to the route through two more layers.
  :class:`SubmitShortcut`, placed in the built middleware stack right inside Starlette's
  ``ExceptionMiddleware`` (so every middleware, ours and any the application added, and every exception
  handler still apply), gives a request the router would give to the submit route directly to that route's
  own ASGI app: the same :class:`~praisonai_svc.api.direct_route.DirectRoute` handler, hence the same access
  check (authentication, rate limits), body limit, parse, submission and response. It decides with the
  route's own ``matches`` (the ``root_path`` and ``server.api_prefix`` rules included) and only while no route
  before it in the router could match a ``POST /jobs`` (checked when the lane is switched on).

The OpenAPI document is untouched: the route stays registered as before; only the way a request reaches it
changes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from praisonai_svc.logs import get_logger

log = get_logger("api")
SUBMIT_PATH = "/jobs"


class SubmitShortcut:
    """Sends the router's ``POST /jobs`` requests straight to the submit route (see the module docstring)."""

    def __init__(self, app: ASGIApp, api: ServiceAPI) -> None:
        self.app = app  # what ExceptionMiddleware called before: the exit stack, then the router
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.api.submit_route if self.api.fast_lane else None
        # The cheap test first: only a POST whose path ends in /jobs can be the submit route's.
        if route is not None and scope["type"] == "http" and scope["method"] == "POST" \
                and scope["path"].endswith(SUBMIT_PATH):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", self.api.router)
                scope["route"] = route
                scope.update(child_scope)
                await route.app(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _probe() -> Scope:
    return {"type": "http", "method": "POST", "path": SUBMIT_PATH, "root_path": "", "headers": [],
            "query_string": b""}


class ServiceAPI(FastAPI):
    """The FastAPI application of a ServiceApp, with the fast lane (module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_lane = False  # switched on by :meth:`open_fast_lane` once the lifespan has started
        self.submit_route: Route | None = None  # the route ``POST /jobs`` is served by (jobs.add_submit_route)

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        layer: Any = stack
        while layer is not None and not isinstance(layer, ExceptionMiddleware):
            layer = getattr(layer, "app", None)
        if layer is None:  # an unexpected shape (another FastAPI version): no shortcut, the router as always
            log.debug("fast lane: no ExceptionMiddleware in the stack; POST /jobs goes through the router")
        else:
            layer.app = SubmitShortcut(layer.app, self)
        return stack

    def open_fast_lane(self) -> None:
        """Switch the lane on if nothing it skips matters now (called when the lifespan has started)."""
        self.fast_lane = not _telemetry_on(self) and self._submit_route_first()

    def close_fast_lane(self) -> None:
        self.fast_lane = False

    def _submit_route_first(self) -> bool:
        """Whether the router would give a ``POST /jobs`` to the submit route: no route before it matches one."""
        route = self.submit_route
        if route is None:
            return False
        for earlier in self.router.routes:
            if earlier is route:
                return True
            if not _cannot_take_a_submission(earlier):
                log.debug("fast lane off: a route before POST /jobs could match it", extra={"route": repr(earlier)})
                return False
        return False  # not in the router (removed): no shortcut to it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_lane and scope["type"] == "http" and self.middleware_stack is not None:
            # What FastAPI.__call__ and Starlette.__call__ do for an HTTP request when telemetry is off.
            if self.root_path:
                scope["root_path"] = self.root_path
            scope["app"] = self
            await self.middleware_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _cannot_take_a_submission(route: BaseRoute) -> bool:
    """A plain route (no mount, host or router) that would not take ``POST /jobs`` (a partial match, e.g.
    another method on ``/jobs``, is tried only when no route matches fully, and the submit route does)."""
    return isinstance(route, Route) and route.matches(_probe())[0] is not Match.FULL


def _telemetry_on(api: FastAPI) -> bool:
    """Whether FastAPI's own instrumentation would record requests (or ours sends them to Application
    Insights): then no request skips ``FastAPI.__call__``."""
    from praisonai_svc.observability.telemetry import telemetry_enabled

    native = getattr(api, "_native_telemetry", None)  # FastAPI versions without it have nothing to skip
    return telemetry_enabled() or (native is not None and bool(native.enabled()))
