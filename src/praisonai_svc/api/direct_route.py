"""An APIRoute for hot endpoints: FastAPI routes and documents it, but does not inject its parameters.

Per request, FastAPI's dependency injection walks the endpoint's dependant tree, builds caches, extracts and
validates query parameters and prepares the response model: for ``POST /jobs`` that machinery cost about as much
CPU as the submission itself. A :class:`DirectRoute` stays an ordinary route for matching, the error handlers, the
middleware and OpenAPI, but its endpoint takes the :class:`~fastapi.Request` and returns a
:class:`~fastapi.Response` itself, and its dependencies (those of the route and of its ``APIRouter``) are plain
``async def check(request)`` callables such as ``require_access``, awaited in order before the endpoint.
Anything else is refused when the route is built, so a parameter added later cannot be silently ignored;
parameters the endpoint reads itself are documented through ``openapi_extra``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

RequestCheck = Callable[[Request], Awaitable[None]]


def _takes_only_the_request(func: Callable[..., Any]) -> bool:
    params = list(inspect.signature(func).parameters.values())
    return (inspect.iscoroutinefunction(func) and len(params) == 1
            and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD))


class DirectRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not _takes_only_the_request(endpoint):
            raise TypeError(f"DirectRoute {path}: the endpoint must be `async def {endpoint.__name__}(request)`.")
        for depends in kwargs.get("dependencies") or ():
            if depends.dependency is None or not _takes_only_the_request(depends.dependency):
                raise TypeError(f"DirectRoute {path}: dependencies must be `async def check(request)`.")
        super().__init__(path, endpoint, **kwargs)
        if self.max_body_size is None:  # else keep FastAPI's app, which enforces that limit
            handle = self.get_route_handler()

            async def serve(scope: Scope, receive: Receive, send: Send) -> None:
                # FastAPI's request_response adds two exit stacks (for dependencies with ``yield``, which a
                # DirectRoute has none of) and a second exception-handling layer; an error raised here reaches
                # the same handlers through the app's ExceptionMiddleware.
                response = await handle(Request(scope, receive, send))
                await response(scope, receive, send)

            self.app = serve

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        checks: tuple[RequestCheck, ...] = tuple(d.dependency for d in self.dependencies if d.dependency)

        async def handle(request: Request) -> Response:
            for check in checks:
                await check(request)
            return await endpoint(request)

        return handle
