"""``GET /`` and ``/services``: the management API, in Processpype's shapes.

Reads need what any job route needs (an API key or token when the service has keys). Changes need
``X-Admin-Key`` when PRAISONAI_ADMIN_KEY is set; without one they are accepted only from loopback clients
(this machine), since anyone else could then stop the service. Every change is logged with who made it.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from praisonai_svc._version import __version__
from praisonai_svc.api.admin_key import HEADER as ADMIN_KEY_HEADER
from praisonai_svc.api.admin_key import configured_admin_key, presents_admin_key
from praisonai_svc.api.auth import guard_for, require_access
from praisonai_svc.api.deps import service_app
from praisonai_svc.api.jobs import GUARDED
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.errors import ServiceDisabled, ServiceNotRunning
from praisonai_svc.security.client_ip import client_ip
from praisonai_svc.services.directory import ServiceDirectory
from praisonai_svc.services.runtime import ServiceRuntime
from praisonai_svc.services.state import IllegalTransition, ServiceState

router = APIRouter(tags=["services"])
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong X-Admin-Key"},
    503: {"description": "Storage unavailable; retry after Retry-After seconds"},
    403: {"description": "No admin key configured and the client is not on this machine"},
    404: {"description": "No such service"},
    409: {"description": "Not possible in the service's current state (the detail names it)"},
    429: {"description": "Too many failed authentications from this address; retry after Retry-After"},
}


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.service_runtime
    return runtime


def directory(request: Request) -> ServiceDirectory:
    runtime = runtime_of(request)
    return ServiceDirectory(service_app(request), runtime.backend, runtime)


Directory = Annotated[ServiceDirectory, Depends(directory)]


def _client(request: Request) -> str:
    client = request.scope.get("client")
    forwarded = [value.decode("latin-1") for name, value in request.scope.get("headers") or ()
                 if name == b"x-forwarded-for"]
    return client_ip(client[0] if client else None, forwarded, guard_for(request).hops)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


async def require_change_rights(request: Request) -> str:
    """Who is making the change: the admin key's holder, or a loopback client when no key is configured."""
    address = _client(request)
    if configured_admin_key(request):
        if await presents_admin_key(request):  # a wrong key counts as a failed authentication (api/admin_key.py)
            return f"admin key from {address}"
        if request.headers.get(ADMIN_KEY_HEADER) is None:
            await guard_for(request).failed(request)
        raise HTTPException(401, "Missing or invalid admin key: send it in the X-Admin-Key header.",
                            headers={"WWW-Authenticate": "AdminKey"})
    if not _is_loopback(address):
        raise HTTPException(403, "Service changes need PRAISONAI_ADMIN_KEY (send it as X-Admin-Key); without "
                                 "one they are accepted only from this machine.")
    return f"loopback client {address}"


Who = Annotated[str, Depends(require_change_rights)]


def _conflict(exc: IllegalTransition) -> HTTPException:
    return HTTPException(409, exc.message, headers={"X-Service-State": exc.current.value})


@router.get("/", summary="The app and its services' states (a browser asking for HTML goes to /docs)",
            dependencies=[Depends(require_access)], openapi_extra=GUARDED_EXTRA,
            responses={**GUARDED, 307: {"description": "To /docs, for a client that asks for HTML"}})
async def root(request: Request, services: Directory) -> Response:
    if "text/html" in request.headers.get("accept", "") and "json" not in request.headers.get("accept", ""):
        return RedirectResponse("/docs", status_code=307)
    app = service_app(request)
    described = await services.describe_all()
    states = {s["name"]: {"state": s["state"], "desired_state": s["desired_state"], "error": s["error"]}
              for s in described}
    state = ServiceState.ERROR if any(s["state"] == ServiceState.ERROR for s in described) else ServiceState.RUNNING
    return JSONResponse({"app": app.title, "version": app.config.app.version or __version__,
                         "state": state.value, "services": states})


@router.get("/services", summary="Every service: kind, state, desired state, instances",
            dependencies=[Depends(require_access)], responses=GUARDED, openapi_extra=GUARDED_EXTRA)
async def list_services(services: Directory) -> dict[str, Any]:
    return {"services": await services.describe_all()}


@router.get("/services/{name}", summary="One service", dependencies=[Depends(require_access)],
            responses={**GUARDED, 404: {"description": "No such service"}}, openapi_extra=GUARDED_EXTRA)
async def get_service(name: str, services: Directory) -> dict[str, Any]:
    return await services.describe(name)


@router.post("/services/{name}/start", summary="Start a service on every process", responses=CHANGE_ERRORS)
async def start(name: str, services: Directory, who: Who) -> dict[str, str]:
    try:
        await services.start(name, who)
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    return {"status": "started", "service": name}


@router.post("/services/{name}/stop", responses=CHANGE_ERRORS,
             summary="Stop a service on every process (a job service's jobs stay queued)")
async def stop(name: str, services: Directory, who: Who) -> dict[str, str]:
    try:
        await services.stop(name, who)
    except IllegalTransition as exc:
        raise _conflict(exc) from exc
    return {"status": "stopped", "service": name}


@router.post("/services/{name}/configure", summary="Configure a service (validated by its config model)",
             responses={**CHANGE_ERRORS, 400: {"description": "Invalid configuration"}})
async def configure(
    name: str, services: Directory, who: Who, settings: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    config = await services.configure(name, settings, who)
    return {"status": "configured", "service": name, "config": config}


def service_route_guard(name: str) -> Any:
    """A dependency for a background service's own routes: 503 when it is disabled or not running here."""

    async def guard(request: Request) -> None:
        runtime = runtime_of(request)
        if not runtime.enabled(name):
            raise ServiceDisabled(f"Service '{name}' is disabled (enabled: false in praisonai.yaml).")
        spec = runtime.hosted.get(name)
        if spec is None or spec.service.state != ServiceState.RUNNING:
            raise ServiceNotRunning(f"Service '{name}' is not running in this process; start it, or try again.")

    return guard
