"""Build the FastAPI application for a ServiceApp: middleware, routers, error mapping, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator

from fastapi import FastAPI

from praisonai_svc._version import __version__
from praisonai_svc.api import admin, downloads, files, health, jobs
from praisonai_svc.api.auth import build_guard
from praisonai_svc.api.edge import EdgeMiddleware
from praisonai_svc.api.errors import install_error_handlers
from praisonai_svc.api.openapi import install_openapi
from praisonai_svc.api.parse_pool import ParsePool, gil_handed_over_often
from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import open_backend
from praisonai_svc.job_service import JobService
from praisonai_svc.logs import get_logger
from praisonai_svc.observability import http as metrics_http
from praisonai_svc.security.guard import auth_configured
from praisonai_svc.security.receipts import RECEIPT_HEADER

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


def _lifespan(app: ServiceApp):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        owns = app.backend is None
        backend = app.backend or await open_backend(app.settings)
        api.state.job_service = JobService(app, backend)
        api.state.security_guard = build_guard(app.settings, backend)
        api.state.parse_pool = ParsePool(app.settings.parse_threads, app.settings.parse_time_budget_seconds)
        if not auth_configured(app.settings):
            log.warning("no API key configured: anyone who can reach this port can submit jobs "
                        "(set PRAISONAI_API_KEY, PRAISONAI_TENANT_KEYS or PRAISONAI_JWT_SECRET before exposing it)")
        worker_task = None
        if getattr(api.state, "embedded_worker", False):
            from praisonai_svc.worker import Worker

            worker = Worker(app, backend)
            worker_task = asyncio.create_task(worker.run(), name="embedded-worker")
            api.state.worker_probe = lambda: not worker_task.done()
        log.info("api started", extra={"app": app.name, "services": list(app.services), "backend": backend.kind})
        try:
            with garbage_collection_tuned(), gil_handed_over_often():
                yield
        finally:
            api.state.parse_pool.close()
            if worker_task is not None:
                worker.stop()
                await worker_task
            if owns:
                await backend.close()

    return lifespan


def create_api(app: ServiceApp, *, embedded_worker: bool = False) -> FastAPI:
    """The HTTP API of ``app``; with ``embedded_worker`` a worker runs inside the API process."""
    settings = app.settings
    api = FastAPI(title=app.name, version=__version__, lifespan=_lifespan(app))
    api.state.service_app = app
    api.state.embedded_worker = embedded_worker
    cors = dict(
        allow_origins=settings.cors_origins, allow_credentials=False,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Content-Type", "X-API-Key", "Authorization"],
        expose_headers=["Location", "Retry-After", RECEIPT_HEADER], max_age=600,
    )
    api.add_middleware(EdgeMiddleware, service=app, cors=cors)  # security headers, CORS, request metrics
    install_error_handlers(api)
    jobs.add_submit_route(api)  # first: the hot path, and routes are matched in order
    api.include_router(jobs.router)
    api.include_router(downloads.router)
    api.include_router(files.router)
    api.include_router(health.router)
    api.include_router(admin.router)
    api.include_router(metrics_http.router)  # GET /metrics
    install_openapi(api, app)
    return api
