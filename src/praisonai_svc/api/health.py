"""``/health`` (what is running), ``/live`` (process up), ``/ready`` (storage and worker usable)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from praisonai_svc._version import __version__
from praisonai_svc.api.admin_key import presents_admin_key
from praisonai_svc.api.deps import backend, service_app
from praisonai_svc.errors import StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.workflows.health import scheduler_health

router = APIRouter(tags=["health"])
log = get_logger("api")
READY_TIMEOUT_SECONDS = 5.0
READY_CACHE_SECONDS = 30.0
SCHEDULER_CACHE_SECONDS = 5.0


@router.get("/health", summary="Service information")
async def health(request: Request) -> dict[str, Any]:
    app = service_app(request)
    scheduler = await _scheduler_info(request)
    builtins = [name for name, spec in app.services.items() if spec.internal]
    return {"status": "ok", "app": app.name, "version": __version__,
            "services": [name for name in app.services if name not in builtins], "builtin_services": builtins,
            "backend": backend(request).kind, "scheduler": scheduler}


@router.get("/live", summary="Liveness probe")
async def live() -> dict[str, str]:
    return {"status": "alive"}


async def _storage_check(request: Request) -> str | None:
    """None when storage is usable, else why not. A success is reused for READY_CACHE_SECONDS: readiness probes
    (every 15 s on Azure Container Apps) would otherwise cost storage requests around the clock; failures are
    never cached."""
    now = time.monotonic()
    if now - getattr(request.app.state, "storage_ok_at", -READY_CACHE_SECONDS) < READY_CACHE_SECONDS:
        return None
    try:
        await asyncio.wait_for(backend(request).check(), READY_TIMEOUT_SECONDS)
    except (StorageError, TimeoutError) as exc:
        request.app.state.storage_ok_at = -READY_CACHE_SECONDS
        problem = str(exc) or "timed out"
        log.warning("readiness check: storage unavailable", extra={"error": problem})
        return problem
    request.app.state.storage_ok_at = now
    return None


async def _scheduler_info(request: Request) -> dict[str, Any]:
    """The cron scheduler's heartbeat, read at most once per SCHEDULER_CACHE_SECONDS (probes come every 15 s)."""
    now = time.monotonic()
    cached = getattr(request.app.state, "scheduler_info", None)
    if cached is not None and now - cached[0] < SCHEDULER_CACHE_SECONDS:
        return dict(cached[1])
    app = service_app(request)
    info = await scheduler_health(backend(request).records, app.config.server.leader_lease_seconds)
    request.app.state.scheduler_info = (now, info)
    return info


async def _scheduler_check(request: Request) -> str:
    return str((await _scheduler_info(request))["state"])


@router.get("/ready", summary="Readiness probe: 503 when storage or the worker is unusable, or the cron scheduler "
            "has had no leader for a lease period after the leader lease expired",
            responses={503: {"description": "Not ready"}})
async def ready(request: Request) -> JSONResponse:
    """Storage errors name paths, host names and accounts: only a caller with the admin key (X-Admin-Key) gets
    them in the answer; everyone else reads "unavailable" (the server log always has the details)."""
    problem = await _storage_check(request)
    if problem is None:
        storage = "ok"
    else:
        storage = f"unavailable: {problem}" if await presents_admin_key(request) else "unavailable"
    checks: dict[str, str] = {"storage": storage}
    probe = getattr(request.app.state, "worker_probe", None)
    if probe is None:
        checks["worker"] = "not managed by this process"
    else:
        checks["worker"] = "ok" if probe() else "down"
    checks["scheduler"] = await _scheduler_check(request)
    ok = problem is None and checks["worker"] != "down" and checks["scheduler"] != "leaderless"
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                        status_code=200 if ok else 503, headers=None if ok else {"Retry-After": "5"})
