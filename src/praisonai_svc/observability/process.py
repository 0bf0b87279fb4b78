"""What every long-running process (``run``, ``api``, ``worker``) sets up at start: telemetry and metrics."""

from __future__ import annotations

import contextlib
from pathlib import Path

from praisonai_svc.app import ServiceApp
from praisonai_svc.logs import get_logger
from praisonai_svc.observability.metrics import multiprocess_dir
from praisonai_svc.observability.telemetry import configure_telemetry
from praisonai_svc.observability.worker import serve_worker_metrics

log = get_logger("metrics")


def start_observability(app: ServiceApp, *, worker: bool = False) -> None:
    """Application Insights when configured; for a worker with a metrics port, its /metrics server."""
    configure_telemetry(app.settings, app.name)
    port = app.settings.worker_metrics_port
    if worker and port:
        try:
            serve_worker_metrics(app, port)
        except OSError as exc:  # e.g. several workers of `run` inheriting one port: the first one serves
            log.warning("worker metrics port unavailable", extra={"port": port, "error": str(exc)})


def reset_multiprocess_dir() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR before a process tree starts (stale files would add old values)."""
    directory = multiprocess_dir()
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.glob("*.db"):
        with contextlib.suppress(OSError):
            entry.unlink()
