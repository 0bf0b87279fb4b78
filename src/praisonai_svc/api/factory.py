"""Build the FastAPI application for a ServiceApp: middleware, routers, error mapping, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator

from fastapi import Depends, FastAPI
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from praisonai_svc._version import __version__
from praisonai_svc.api import (
    admin,
    batch,
    downloads,
    files,
    health,
    jobs,
    live,
    plugins,
    services,
    usage,
    workflows,
)
from praisonai_svc.api.auth import build_guard, limit_reads, require_access
from praisonai_svc.api.docs import install_docs
from praisonai_svc.api.edge import EdgeMiddleware
from praisonai_svc.api.errors import install_error_handlers
from praisonai_svc.api.fast_lane import ServiceAPI
from praisonai_svc.api.openapi import install_openapi
from praisonai_svc.api.parse_pool import ParsePool, gil_handed_over_often
from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend, open_backend
from praisonai_svc.events.consumers import event_log_for, install_consumers
from praisonai_svc.events.watcher import EventWatcher
from praisonai_svc.job_service import JobService
from praisonai_svc.loader import preloader
from praisonai_svc.logs import get_logger
from praisonai_svc.observability import http as metrics_http
from praisonai_svc.security.guard import auth_configured
from praisonai_svc.security.receipts import RECEIPT_HEADER
from praisonai_svc.services.runtime import ServiceRuntime
from praisonai_svc.usage.runtime import configured_quotas, metering, quota_guard
from praisonai_svc.workflows.runtime import attach_workflows

log = get_logger("api")


# Young-generation threshold while serving (CPython's default is 700 allocations); see garbage_collection_tuned.
YOUNG_GENERATION_THRESHOLD = 10_000


@contextlib.contextmanager
def garbage_collection_tuned() -> Iterator[None]:
    """Spare the API process garbage collections that find nothing (restored at shutdown).

    * What exists once the API has started (modules, routes, schemas, settings: ~70,000 objects) lives as long
      as the process, yet every full collection re-scanned it; frozen (:func:`gc.freeze`), it is skipped.
    * A submission awaits its group commit, so with 32 requests in flight a few thousand of their objects are
      alive at any time: the default threshold of 700 started a young collection every ~10 requests although
      almost none of those objects is garbage (refcounting frees them when the request ends).

    Measured at ~3,000 submissions a second: ~25 µs of collection per request before, ~0 after (of ~350 µs).
    Unfrozen at shutdown, so a process that starts and stops apps (tests) collects those objects again.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


class ApiPrefix:
    """server.api_prefix / PRAISONAI_API_PREFIX: every route is served under the prefix, and links and /docs
    include it (a proxy that strips the prefix before forwarding works too). This is the ASGI ``root_path``,
    set unless the server already set one (``uvicorn --root-path``)."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            scope["root_path"] = self.prefix
        await self.app(scope, receive, send)


def _lifespan(app: ServiceApp):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        owns = app.backend is None
        backend = app.backend or await open_backend(app.settings)
        guard = build_guard(app.settings, backend)
        api.state.security_guard = guard
        usage = contextlib.AsyncExitStack()
        meter = await usage.enter_async_context(metering(app.settings, backend))
        quotas = quota_guard(configured_quotas(app), guard.limiter, backend.records)
        api.state.job_service = JobService(app, backend, meter=meter, quotas=quotas)
        uninstall_consumers = install_consumers(app, backend)
        watcher = EventWatcher(event_log_for(app, backend), interval=app.settings.events_poll_interval_seconds,
                               lookback=app.settings.events_lookback_seconds, on_read=app.metrics.event_reads.inc)
        api.state.event_watcher = watcher
        api.state.parse_pool = ParsePool(app.settings.parse_threads, app.settings.parse_time_budget_seconds,
                                         processes=app.settings.parse_processes)
        mounted = mount_backend_routes(api, backend)
        await app.plugins.start(backend.blobs, app.settings, app.plugin_config_sections(), preload=preloader(app))
        await app.plugins.warm_up()
        if not auth_configured(app.settings):
            log.warning("no API key configured: anyone who can reach this port can submit jobs "
                        "(set PRAISONAI_API_KEY, PRAISONAI_TENANT_KEYS or PRAISONAI_JWT_SECRET before exposing it)")
        file_triggers = attach_workflows(app, backend)  # file triggers; the scheduler leader's storage
        embedded = bool(getattr(api.state, "embedded_worker", False))
        runtime = ServiceRuntime(app, backend, "all" if embedded else "api")
        api.state.service_runtime = runtime
        await runtime.start()
        await app.events.outboxes.sweep(backend)  # durable events a crash left undelivered (subscribers are in)
        worker_task = None
        if embedded:
            from praisonai_svc.worker import Worker

            worker = Worker(app, backend, runtime=runtime)
            worker_task = asyncio.create_task(worker.run(), name="embedded-worker")
            api.state.worker_probe = lambda: not worker_task.done()
        log.info("api started", extra={"app": app.name, "services": app.registration_order,
                                       "backend": backend.kind})
        try:
            with garbage_collection_tuned(), gil_handed_over_often():
                if isinstance(api, ServiceAPI):
                    api.open_fast_lane()
                yield
        finally:
            if isinstance(api, ServiceAPI):
                api.close_fast_lane()
            file_triggers()
            await api.state.parse_pool.close()
            if worker_task is not None:
                worker.stop()
                await worker_task
            await usage.aclose()  # the meter's last flush, after the embedded worker's last job
            await watcher.stop()
            uninstall_consumers()
            api.state.abandoned = await runtime.close()
            await app.plugins.stop()
            unmount(api, mounted)
            if owns:
                await backend.close()

    return lifespan


def mount_backend_routes(api: FastAPI, backend: Backend) -> list[BaseRoute]:
    """Mount the routes the backend serves itself (the local store's signed links), behind the read limit."""
    before = list(api.router.routes)
    for router in backend.http_routes():
        api.include_router(router, dependencies=[Depends(limit_reads)])
    return [route for route in api.router.routes if route not in before]


def unmount(api: FastAPI, routes: list[BaseRoute]) -> None:
    api.router.routes[:] = [route for route in api.router.routes if route not in routes]


def create_api(app: ServiceApp, *, embedded_worker: bool = False) -> ServiceAPI:
    """The HTTP API of ``app``; with ``embedded_worker`` a worker runs inside the API process."""
    settings = app.settings
    api = ServiceAPI(title=app.title, version=app.config.app.version or __version__, lifespan=_lifespan(app),
                     docs_url=None, redoc_url=None)
    api.state.service_app = app
    api.state.embedded_worker = embedded_worker
    cors = dict(
        allow_origins=settings.cors_origins, allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],  # PUT /workflows/{id}, DELETE /files/{id}
        allow_headers=["Content-Type", "X-API-Key", "Authorization", "Last-Event-ID"],
        expose_headers=["Location", "Retry-After", RECEIPT_HEADER], max_age=600,
    )
    api.add_middleware(EdgeMiddleware, service=app, cors=cors)  # security headers, CORS, request metrics
    if app.config.server.api_prefix:
        api.add_middleware(ApiPrefix, prefix=app.config.server.api_prefix)
    install_error_handlers(api)
    api.submit_route = jobs.add_submit_route(api)  # first: the hot path, and routes are matched in order
    api.include_router(batch.router)  # before jobs.router, whose /jobs/{job_id} would shadow nothing but reads
    api.include_router(jobs.router)
    api.include_router(live.router)
    api.include_router(live.ws_router)
    plugins.add_plugin_routes(api)
    api.include_router(downloads.router)
    api.include_router(files.router)
    api.include_router(health.router)
    api.include_router(admin.router)
    api.include_router(usage.router)
    api.include_router(workflows.router)
    api.include_router(metrics_http.router)  # GET /metrics
    api.include_router(services.router)  # GET /, /services; POST /services/{name}/start|stop|configure
    for name, spec in app.background.items():  # each background service's own routes, after ours
        if spec.service.router is not None:
            api.include_router(spec.service.router, prefix=f"/services/{name}", tags=[f"service: {name}"],
                               dependencies=[Depends(require_access), Depends(services.service_route_guard(name))])
    install_docs(api)  # /docs and /redoc from packaged assets, no CDN
    install_openapi(api, app)
    return api
