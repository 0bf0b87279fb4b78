"""The HTTP side: counting requests by route template and status, and ``GET /metrics``.

:func:`record_request` runs once per response (called by the API's one middleware, :mod:`praisonai_svc.api.edge`)
and also derives two security/usage metrics from responses, so the routers need no metric code:
every 401 is a failed authentication (API key, token or admin key; logged with the caller's address), and every
successful ``GET /jobs/{job_id}/download`` is one freshly minted signed URL.

Route *templates* (``/jobs/{job_id}``), never raw paths, label the requests, so a scan of random URLs cannot
blow up the number of series; anything no route matched is ``unmatched``.

``/metrics`` also reads a few gauges from storage at scrape time (PRAISONAI_METRICS_STATUS_WINDOW):
per service queue its length and its poison queue's (one cheap request each on Azure), and the newest N jobs by
status (on Azure one query over the small list entries per 1,000 jobs; on SQLite one indexed query). At one
scrape every 30 s and the default window that is about 5 Azure Storage requests a scrape, ~430,000 a month,
well under a dollar — but note that scraping a Container App keeps one API replica awake (no scale to zero).
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from praisonai_svc.api.auth import guard_for
from praisonai_svc.api.deps import backend, service_app
from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.security.client_ip import client_ip as security_client_ip

log = get_logger("metrics")
router = APIRouter(tags=["health"])
STORAGE_READ_TIMEOUT_SECONDS = 5.0
DOWNLOAD_ROUTE = "/jobs/{job_id}/download"


def client_ip(scope: Any, trusted_proxy_hops: int) -> str:
    """The caller as the rate limiter sees it: X-Forwarded-For is believed only through the trusted hops,
    since the first entry is whatever the client chose to send."""
    forwarded = [value.decode("latin-1") for name, value in scope.get("headers") or [] if name == b"x-forwarded-for"]
    client = scope.get("client")
    return security_client_ip(str(client[0]) if client else None, forwarded, trusted_proxy_hops)


def record_auth_failure(service: ServiceApp, scope: Any, route: str) -> None:
    """Count a rejected credential and log who sent it (seed 001 §9: "potential attack, log IP")."""
    kind = "admin_key" if route.startswith("/admin") else "metrics_key" if route == "/metrics" else "api_key"
    service.metrics.auth_failed(kind)
    address = client_ip(scope, service.settings.trusted_proxy_hops)
    log.warning("authentication failed", extra={"kind": kind, "client_ip": address, "route": route})


def record_request(service: ServiceApp, scope: Any, status: int, seconds: float) -> None:
    """Count one answered HTTP request (after the app returned, so ``scope`` names the matched route)."""
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    metrics = service.metrics
    metrics.http_request(scope.get("method", ""), route, status, seconds)
    if status == 401:
        record_auth_failure(service, scope, route)
    elif route == DOWNLOAD_ROUTE and status in (200, 307):
        metrics.download_link_minted()


async def refresh_storage_gauges(app: ServiceApp, store: Backend) -> None:
    """Queue depths and the newest jobs by status, read now; ``praisonai_storage_up`` says whether it worked."""
    metrics = app.metrics
    try:
        async with asyncio.timeout(STORAGE_READ_TIMEOUT_SECONDS):
            for name, spec in app.services.items():
                queue = store.queue(spec.queue_name)
                metrics.queue_depths(name, spec.queue_name, await queue.length(), await queue.poison_length())
            window = app.settings.metrics_status_window
            if window:
                metrics.status_counts(await store.jobs.count_by_status(limit=window))
    except (StorageError, TimeoutError) as exc:
        metrics.storage_up.set(0)
        log.warning("metrics could not read storage", extra={"error": str(exc) or "timed out"})
        return
    metrics.storage_up.set(1)


async def metrics_key_ok(request: Request) -> bool:
    """Whether the request may read /metrics: no PRAISONAI_METRICS_KEY, or ``Authorization: Bearer <key>``.
    A missing or wrong key counts as a failed authentication of the caller's address (see admin_key)."""
    configured = service_app(request).settings.metrics_key
    expected = configured.get_secret_value() if configured is not None else ""
    if not expected:
        return True
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode("utf-8", "surrogateescape"),
                                                          expected.encode()):
        return True
    await guard_for(request).failed(request)
    return False


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    app = service_app(request)
    if not app.settings.metrics_enabled:
        return Response('{"detail":"Not Found"}', status_code=404, media_type="application/json")
    if not await metrics_key_ok(request):
        return Response('{"detail":"Missing or invalid metrics key: send Authorization: Bearer <key>."}',
                        status_code=401, media_type="application/json", headers={"WWW-Authenticate": "Bearer"})
    await refresh_storage_gauges(app, backend(request))
    return Response(app.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
