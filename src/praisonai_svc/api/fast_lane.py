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
  (for uploaded files, which a submission never has) and hand it to the route through two more layers, and
  Starlette's ``ExceptionMiddleware`` wraps every request in two closures and a ``Request`` of its own in case
  an exception comes out. :class:`SubmitShortcut` takes the place of that middleware, right inside our edge
  middleware (so every middleware, ours and any the application added, still applies; it sits behind CORS for
  browsers too). Every other request goes on through ``ExceptionMiddleware`` and the router as before. A
  request the router would give to the submit route runs that route's own handler (the same
  :class:`~praisonai_svc.api.direct_route.DirectRoute` checks, then the endpoint: authentication, rate limits,
  body limit, parse, submission, answer); an exception it raises goes to a copy of the ``ExceptionMiddleware``
  (the same handlers), which answers it exactly as before; one no handler takes goes on up to Starlette's
  ``ServerErrorMiddleware`` (500), as before. Whether the router would give it to the submit route: a ``POST``
  whose path, less the ``root_path`` (``server.api_prefix``), is ``/jobs``, while the route matches exactly that
  path and no route before it in the router could match a ``POST /jobs`` (checked when the lane is switched on).

The OpenAPI document is untouched: the route stays registered as before; only the way a request reaches it
changes.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from praisonai_svc.api.direct_route import DirectRoute
from praisonai_svc.api.edge import EdgeMiddleware
from praisonai_svc.logs import get_logger

log = get_logger("api")
SUBMIT_PATH = "/jobs"


class SubmitShortcut:
    """Sends the router's ``POST /jobs`` requests straight to the submit route (see the module docstring).

    Placed where Starlette's ``ExceptionMiddleware`` was (``app`` is that middleware, which every other request
    still goes through): a submission runs the route's handler (its access check, then the endpoint) itself,
    and an exception it raises is handed to ``on_error``, a copy of that ``ExceptionMiddleware`` (the same
    handlers) over an app that raises it again, so it becomes the very answer it did before.
    """

    def __init__(self, app: ExceptionMiddleware, api: ServiceAPI) -> None:
        self.app = app
        self.api = api
        self.on_error = copy.copy(app)
        self.on_error.app = _raise_again

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handle = self.api.submit_handler if self.api.fast_lane else None
        if handle is not None and scope["type"] == "http" and scope["method"] == "POST" \
                and get_route_path(scope) == SUBMIT_PATH:
            route = self.api.submit_route
            # What the router and ExceptionMiddleware would have put into the scope for this route.
            scope.setdefault("router", self.api.router)
            scope["route"] = route
            scope["endpoint"] = route.endpoint  # type: ignore[union-attr]
            scope["path_params"] = dict(scope.get("path_params", {}))
            scope["starlette.exception_handlers"] = (self.app._exception_handlers, self.app._status_handlers)
            try:
                response = await handle(Request(scope, receive, send))
            except Exception as exc:  # answered as ExceptionMiddleware answers it (nothing was sent yet)
                scope[LANE_ERROR] = exc
                await self.on_error(scope, receive, send)
                return
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


LANE_ERROR = "praisonai.fast_lane.error"


async def _raise_again(scope: Scope, receive: Receive, send: Send) -> None:
    raise scope.pop(LANE_ERROR)


def get_route_path(scope: Scope) -> str:
    """The path the router matches against: ``scope["path"]`` less the ``root_path`` (as Starlette's own
    ``get_route_path`` works it out; tests/unit/test_fast_lane.py compares them)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path):] if path[len(root_path)] == "/" else path


def _probe() -> Scope:
    return {"type": "http", "method": "POST", "path": SUBMIT_PATH, "root_path": "", "headers": [],
            "query_string": b""}


class ServiceAPI(FastAPI):
    """The FastAPI application of a ServiceApp, with the fast lane (module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_lane = False  # switched on by :meth:`open_fast_lane` once the lifespan has started
        self.submit_route: Route | None = None  # the route ``POST /jobs`` is served by (jobs.add_submit_route)
        self.submit_handler: Callable[[Request], Awaitable[Response]] | None = None  # its checks, then endpoint

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        parent: Any = None
        layer: Any = stack
        while layer is not None and not isinstance(layer, ExceptionMiddleware):
            parent, layer = layer, getattr(layer, "app", None)
        if layer is None or not isinstance(parent, EdgeMiddleware):
            # An unexpected shape (another FastAPI version): no shortcut, the router as always.
            log.debug("fast lane: ExceptionMiddleware not right inside ours; POST /jobs goes through the router")
        else:
            exceptions = layer
            parent.wrap_inner(lambda _app: SubmitShortcut(exceptions, self))
        return stack

    def open_fast_lane(self) -> None:
        """Switch the lane on if nothing it skips matters now (called when the lifespan has started)."""
        route = self.submit_route
        handler = None
        # A DirectRoute with a body limit of its own keeps FastAPI's app, which enforces it: no lane then.
        if isinstance(route, DirectRoute) and getattr(route, "max_body_size", None) is None \
                and _only_the_submit_path(route):
            handler = route.get_route_handler()
        self.submit_handler = handler
        self.fast_lane = handler is not None and not _telemetry_on(self) and self._submit_route_first()

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


def _only_the_submit_path(route: Route) -> bool:
    """Whether ``route`` matches exactly the path ``/jobs`` (so a string comparison can stand for its regex)."""
    return route.path == SUBMIT_PATH and route.path_regex.pattern == f"^{SUBMIT_PATH}$" \
        and "POST" in (route.methods or ())


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
