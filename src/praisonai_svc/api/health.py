"""``/health`` (what is running), ``/live`` (process up), ``/ready`` (storage and worker usable)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from praisonai_svc._version import __version__
from praisonai_svc.api.deps import backend, service_app
from praisonai_svc.errors import StorageError

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 5.0


@router.get("/health", summary="Service information")
async def health(request: Request) -> dict[str, Any]:
    app = service_app(request)
    return {"status": "ok", "app": app.name, "version": __version__, "services": list(app.services),
            "backend": backend(request).kind}


@router.get("/live", summary="Liveness probe")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/ready", summary="Readiness probe: 503 when storage or the worker is unusable",
            responses={503: {"description": "Not ready"}})
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(backend(request).check(), READY_TIMEOUT_SECONDS)
        checks["storage"] = "ok"
    except (StorageError, TimeoutError) as exc:
        checks["storage"] = f"unavailable: {exc}" if str(exc) else "unavailable: timed out"
    probe = getattr(request.app.state, "worker_probe", None)
    if probe is None:
        checks["worker"] = "not managed by this process"
    else:
        checks["worker"] = "ok" if probe() else "down"
    ok = checks["storage"] == "ok" and checks["worker"] != "down"
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                        status_code=200 if ok else 503, headers=None if ok else {"Retry-After": "5"})
