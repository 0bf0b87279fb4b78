"""The one place where errors become HTTP responses. Clients never see tracebacks or secrets.

Two shapes: FastAPI's ``{"detail": ...}`` everywhere, and seed 004's envelope ``{"success": false, "error": ...}``
under ``/api/v1/`` (the plugin routes), whose clients read that.
"""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from praisonai_svc.errors import (
    AuthenticationFailed,
    BlobNotFound,
    FetchFailed,
    InvalidSignature,
    JobNotCancellable,
    JobNotFound,
    JobNotReady,
    Overloaded,
    PayloadError,
    PayloadTooLarge,
    PluginDisabled,
    PluginNotFound,
    PluginTimeout,
    PraisonSvcError,
    RateLimited,
    RequestTimeout,
    ServiceDisabled,
    ServiceNotFound,
    StorageUnavailable,
)
from praisonai_svc.logs import get_logger
from praisonai_svc.security.headers import headers_for
from praisonai_svc.workflows.errors import ExecutionFinished, ExecutionNotFound, WorkflowNotFound, WorkflowNotRunnable

log = get_logger("api")
RETRY_AFTER_SECONDS = "5"

_STATUS: list[tuple[type[PraisonSvcError], int]] = [
    (PayloadTooLarge, 413),
    (RequestTimeout, 408),
    (PayloadError, 400),
    (JobNotFound, 404),
    (BlobNotFound, 404),
    (JobNotReady, 409),
    (JobNotCancellable, 409),
    (InvalidSignature, 403),
    (StorageUnavailable, 503),
    (Overloaded, 503),
    (ServiceDisabled, 503),
    (ServiceNotFound, 404),
    (AuthenticationFailed, 401),
    (RateLimited, 429),
    (PluginNotFound, 501),
    (PluginDisabled, 503),
    (FetchFailed, 502),
    (PluginTimeout, 504),
    (WorkflowNotFound, 404),
    (ExecutionNotFound, 404),
    (WorkflowNotRunnable, 409),
    (ExecutionFinished, 409),
]
ENVELOPE_PREFIX = "/api/v1/"
# Seed 004's clients compare this text; the reason stays in the log and the WWW-Authenticate header.
ENVELOPE_AUTH_ERROR = "Invalid API key"


def uses_envelope(request: Request) -> bool:
    return request.url.path.startswith(ENVELOPE_PREFIX)


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None,
    details: dict[str, object] | None = None,
) -> JSONResponse:
    """``{"detail": message, **details}``, or the seed's envelope under /api/v1/."""
    if uses_envelope(request):
        text = ENVELOPE_AUTH_ERROR if status == 401 else message
        return JSONResponse({"success": False, "error": text}, status_code=status, headers=headers)
    return JSONResponse({"detail": message, **(details or {})}, status_code=status, headers=headers)


def status_for(exc: PraisonSvcError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PraisonSvcError)
    status = status_for(exc)
    if status == 500:
        return await _unexpected(request, exc)
    return error_response(request, status, exc.message, _headers(exc, status), exc.details())


def _headers(exc: PraisonSvcError, status: int) -> dict[str, str] | None:
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, StorageUnavailable):
        return {"Retry-After": RETRY_AFTER_SECONDS}
    if status == 401:
        return {"WWW-Authenticate": "ApiKey"}
    if status == 408:  # the rest of the body may still arrive: this connection cannot carry another request
        return {"Connection": "close"}
    return None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return error_response(request, 400, f"Invalid request: {problems}")


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allowed_methods(request: Request, first_route: str) -> str:
    """Every method served at this path: Starlette's 405 names only the first matching route's methods, so a
    path with a GET and a POST route (``/jobs``) would claim only one. The OpenAPI paths know them all. A literal
    path (``/jobs/batch``) is its own resource: a template that would also match it (``/jobs/{job_id}``) does
    not lend it its methods."""
    paths = request.app.openapi().get("paths", {})
    path = request.url.path
    literal = paths.get(path)
    if literal is not None:
        return ", ".join(sorted({method.upper() for method in literal if method in _HTTP_METHODS}))
    methods = {m.strip().upper() for m in first_route.split(",") if m.strip()}
    for template, operations in paths.items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {method.upper() for method in operations if method in _HTTP_METHODS}
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
    if uses_envelope(request):
        return error_response(request, exc.status_code, str(exc.detail), headers or None)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.error("unhandled error", exc_info=exc, extra={"incident": incident, "path": request.url.path})
    # Unhandled errors are answered outside the middleware stack, so the security headers are added here.
    return error_response(request, 500, f"Internal error (incident {incident}); the server log has the details.",
                          headers_for(request.url.path))


async def _client_disconnected(request: Request, _exc: Exception) -> Response:
    """The client went away before its request was read: nothing to answer and nothing wrong on our side,
    so one info line (no traceback). 499 (nginx's "client closed request") labels it in the request metrics."""
    log.info("client disconnected before its request was read", extra={"path": request.url.path,
                                                                       "method": request.method})
    return Response(status_code=499)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PraisonSvcError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnected)
    app.add_exception_handler(Exception, _unexpected)
