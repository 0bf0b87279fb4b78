"""``/api/v1``: the plugins' synchronous routes (seed 004) and their health.

``POST /api/v1/{category}/{action}`` runs the plugin ``{category}-{action}`` and answers
``{"success": true, "data": ..., "execution_time_ms": N}``; with ``?mode=async`` (or for an ASYNC plugin) it
queues the plugin's job service instead and answers 202 with the job. It sits behind the same guard as
``POST /jobs`` (auth, tenants, rate limits); errors come out in the seed's envelope (see errors.py).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from praisonai_svc._version import __version__
from praisonai_svc.api.auth import principal_of, require_access
from praisonai_svc.api.deps import absolute_url, job_body, service_app
from praisonai_svc.api.direct_route import DirectRoute
from praisonai_svc.api.plugin_input import read_input
from praisonai_svc.errors import PayloadError
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import JobRequest
from praisonai_svc.plugins.base import BasePlugin, ProcessingMode, Upload

PREFIX = "/api/v1"
router = APIRouter(tags=["plugins"])


@router.get(PREFIX + "/health", summary="Plugins and their health (no authentication)")
async def plugin_health(request: Request) -> dict[str, Any]:
    app = service_app(request)
    entries = await app.plugins.health.report(list(app.plugins))
    healthy = all(entry["healthy"] for entry in entries if entry["enabled"])
    return {"status": "healthy" if healthy else "degraded", "version": __version__, "plugins": entries}


def _mode(request: Request, plugin: BasePlugin) -> ProcessingMode:
    asked = request.query_params.get("mode") if request.scope.get("query_string") else None
    if asked is None:
        return plugin.processing_mode
    try:
        return ProcessingMode(asked.lower())
    except ValueError:
        raise PayloadError("mode must be 'sync' or 'async'.") from None


async def run_plugin(request: Request) -> Response:
    app = service_app(request)
    plugin = app.plugins.find(request.path_params["category"], request.path_params["action"])
    input = await read_input(request, plugin, app.settings.max_payload_size, app.settings.body_read_timeout_seconds)
    if _mode(request, plugin) is ProcessingMode.ASYNC:
        return await _queue(request, plugin, input)
    meter = request.app.state.job_service.meter
    tenant, size = principal_of(request).tenant, _body_size(request)
    started = time.perf_counter()
    try:
        data = await app.plugins.call(plugin, input)
    except Exception:
        # A synchronous call is metered as a job of the plugin's service: submitted, and done or failed.
        meter.record(tenant, plugin.name, jobs_submitted=1, jobs_failed=1, bytes_in=size,
                     handler_seconds=time.perf_counter() - started)
        raise
    if isinstance(data.get("output_url"), str):  # the local store's links are relative to the API
        data["output_url"] = absolute_url(request, data["output_url"])
    seconds = time.perf_counter() - started
    answer = JSONResponse({"success": True, "data": data, "execution_time_ms": round(seconds * 1000)})
    meter.record(tenant, plugin.name, jobs_submitted=1, jobs_done=1, bytes_in=size, bytes_out=len(answer.body),
                 handler_seconds=seconds)
    return answer


def _body_size(request: Request) -> int:
    try:
        return max(int(request.headers.get("content-length", "0")), 0)
    except ValueError:
        return 0


async def _queue(request: Request, plugin: BasePlugin, input: dict[str, Any]) -> Response:
    if any(isinstance(value, Upload) for value in input.values()):
        raise PayloadError("Uploads are processed synchronously; for ?mode=async send a URL to the input instead.")
    service: JobService = request.app.state.job_service
    submission = await service.submit(JobRequest(payload=input, service=plugin.name),
                                      tenant=principal_of(request).tenant, size=_body_size(request))
    body = {"success": True, "data": job_body(request, submission.job).model_dump(mode="json")}
    if not submission.created:
        return JSONResponse(body, status_code=200)
    return JSONResponse(body, status_code=202, headers={"Location": f"/jobs/{submission.job.job_id}"})


def add_plugin_routes(api: FastAPI) -> None:
    """The one route that serves every plugin (documented per plugin by :func:`document_plugins`)."""
    api.router.add_api_route(
        PREFIX + "/{category}/{action}", run_plugin, methods=["POST"], route_class_override=DirectRoute,
        dependencies=[Depends(require_access)], include_in_schema=False,
    )
    api.include_router(router)
