"""The one place where errors become HTTP responses. Clients never see tracebacks or secrets."""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from praisonai_svc.errors import (
    BlobNotFound,
    InvalidSignature,
    JobNotFound,
    JobNotReady,
    PayloadError,
    PayloadTooLarge,
    PraisonSvcError,
    StorageUnavailable,
)
from praisonai_svc.logs import get_logger

log = get_logger("api")
RETRY_AFTER_SECONDS = "5"

_STATUS: list[tuple[type[PraisonSvcError], int]] = [
    (PayloadTooLarge, 413),
    (PayloadError, 400),
    (JobNotFound, 404),
    (BlobNotFound, 404),
    (JobNotReady, 409),
    (InvalidSignature, 403),
    (StorageUnavailable, 503),
]


def status_for(exc: PraisonSvcError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PraisonSvcError)
    status = status_for(exc)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    if status >= 500:
        return await _unexpected(request, exc) if status == 500 else JSONResponse(
            {"detail": exc.message}, status_code=status, headers=headers)
    return JSONResponse({"detail": exc.message}, status_code=status, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return JSONResponse({"detail": f"Invalid request: {problems}"}, status_code=400)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.error("unhandled error", exc_info=exc, extra={"incident": incident, "path": request.url.path})
    return JSONResponse(
        {"detail": f"Internal error (incident {incident}); the server log has the details."}, status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PraisonSvcError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
