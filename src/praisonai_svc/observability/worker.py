"""The worker side: its own ``/metrics`` port and a periodic queue-depth report.

A worker runs in its own process (its own Container App on Azure), so its counters live there. With
``--metrics-port`` / PRAISONAI_WORKER_METRICS_PORT it serves them (any path answers with the metrics, so
``/live`` doubles as a liveness probe). Every PRAISONAI_QUEUE_REPORT_INTERVAL_SECONDS it also logs the depth
of each queue and poison queue as one JSON line (``"msg": "queue depth"``): the alert rules of
``deploy azure --alerts`` read those lines from Log Analytics, so queue alerts need no extra Azure metric.
Workers scale to zero when the queue is empty, and then there is nothing to report.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import start_http_server

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import StorageError
from praisonai_svc.logs import get_logger

log = get_logger("worker")


def serve_worker_metrics(app: ServiceApp, port: int, host: str = "0.0.0.0") -> Any:
    """Serve this process's metrics on ``host:port`` from a daemon thread; returns the server."""
    server, _thread = start_http_server(port, addr=host, registry=app.metrics.registry)
    log.info("worker metrics served", extra={"url": f"http://{host}:{port}/metrics"})
    return server


async def report_queue_depth(app: ServiceApp, backend: Backend) -> None:
    """Log (and set the gauges of) every service queue's depth and poison depth, once."""
    for name, spec in app.services.items():
        queue = backend.queue(spec.queue_name)
        depth, poison = await queue.length(), await queue.poison_length()
        app.metrics.queue_depths(name, spec.queue_name, depth, poison)
        log.info("queue depth", extra={"service": name, "queue": spec.queue_name, "depth": depth,
                                       "poison_depth": poison})


async def report_queue_depth_periodically(app: ServiceApp, backend: Backend, interval: float) -> None:
    while True:
        try:
            await report_queue_depth(app, backend)
        except StorageError as exc:
            log.warning("queue depth report failed", extra={"error": str(exc)})
        await asyncio.sleep(interval)


def start_worker_observers(app: ServiceApp, backend: Backend) -> list[asyncio.Task[None]]:
    """Start what the settings ask for; the caller cancels the returned tasks when the worker stops."""
    settings = app.settings
    tasks = []
    if settings.queue_report_interval_seconds > 0:
        tasks.append(asyncio.create_task(
            report_queue_depth_periodically(app, backend, settings.queue_report_interval_seconds),
            name="queue-depth-report"))
    return tasks
