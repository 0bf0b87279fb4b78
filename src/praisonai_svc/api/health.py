"""``/health`` (what is running), ``/live`` (process up), ``/ready`` (storage and worker usable)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from praisonai_svc._version import __version__
from praisonai_svc.api.deps import backend, service_app
from praisonai_svc.errors import StorageError

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 5.0
READY_CACHE_SECONDS = 30.0


@router.get("/health", summary="Service information")
async def health(request: Request) -> dict[str, Any]:
    app = service_app(request)
    return {"status": "ok", "app": app.name, "version": __version__, "services": list(app.services),
            "backend": backend(request).kind}


@router.get("/live", summary="Liveness probe")
async def live() -> dict[str, str]:
    return {"status": "alive"}


async def _storage_check(request: Request) -> str:
    """"ok" or why not. A success is reused for READY_CACHE_SECONDS: readiness probes (every 15 s on Azure
    Container Apps) would otherwise cost storage requests around the clock; failures are never cached."""
    now = time.monotonic()
    if now - getattr(request.app.state, "storage_ok_at", -READY_CACHE_SECONDS) < READY_CACHE_SECONDS:
        return "ok"
    try:
        await asyncio.wait_for(backend(request).check(), READY_TIMEOUT_SECONDS)
    except (StorageError, TimeoutError) as exc:
        request.app.state.storage_ok_at = -READY_CACHE_SECONDS
        return f"unavailable: {exc}" if str(exc) else "unavailable: timed out"
    request.app.state.storage_ok_at = now
    return "ok"


@router.get("/ready", summary="Readiness probe: 503 when storage or the worker is unusable",
            responses={503: {"description": "Not ready"}})
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, str] = {"storage": await _storage_check(request)}
    probe = getattr(request.app.state, "worker_probe", None)
    if probe is None:
        checks["worker"] = "not managed by this process"
    else:
        checks["worker"] = "ok" if probe() else "down"
    ok = checks["storage"] == "ok" and checks["worker"] != "down"
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                        status_code=200 if ok else 503, headers=None if ok else {"Retry-After": "5"})
