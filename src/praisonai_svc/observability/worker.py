"""The worker side: its own ``/metrics`` port and a periodic queue-depth report.

A worker runs in its own process (its own Container App on Azure), so its counters live there. With
``--metrics-port`` / PRAISONAI_WORKER_METRICS_PORT it serves them (any path answers with the metrics, so
``/live`` doubles as a liveness probe). Every PRAISONAI_QUEUE_REPORT_INTERVAL_SECONDS it also logs the depth
of each queue and poison queue as one JSON line (``"msg": "queue depth"``): the alert rules of
``deploy azure --alerts`` read those lines from Log Analytics, so queue alerts need no extra Azure metric.

The report is driven by activity: it is made only when the worker handled messages since the previous report
(plus one last report after work stops, so the gauges fall back to zero). An idle worker therefore costs nothing
beyond its backed-off polls (<= 2 queue requests a minute), and workers scale to zero when the queue is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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


async def report_queue_depth_periodically(
    app: ServiceApp, backend: Backend, interval: float, activity: Callable[[], int]
) -> None:
    """Every ``interval`` seconds, report if ``activity()`` (messages handled so far) moved since last time."""
    reported_at = 0  # nothing handled yet: an idle worker never reports
    was_active = False
    while True:
        await asyncio.sleep(interval)
        handled = activity()
        active = handled != reported_at
        if not active and not was_active:
            continue  # idle, and the last report already showed it: no storage requests
        reported_at, was_active = handled, active
        try:
            await report_queue_depth(app, backend)
        except StorageError as exc:
            log.warning("queue depth report failed", extra={"error": str(exc)})


def start_worker_observers(
    app: ServiceApp, backend: Backend, activity: Callable[[], int]
) -> list[asyncio.Task[None]]:
    """Start what the settings ask for; the caller cancels the returned tasks when the worker stops."""
    settings = app.settings
    tasks = []
    if settings.queue_report_interval_seconds > 0:
        tasks.append(asyncio.create_task(
            report_queue_depth_periodically(app, backend, settings.queue_report_interval_seconds, activity),
            name="queue-depth-report"))
    return tasks
