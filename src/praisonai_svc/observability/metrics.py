"""The service's metrics: one recorder, two sinks (Prometheus always, OpenTelemetry when configured).

Each :class:`~praisonai_svc.app.ServiceApp` owns one :class:`ServiceMetrics` (``app.metrics``) with its own
Prometheus registry, so several apps in one process (tests) never share counters. Code that observes something
calls one method here (``job_finished``, ``auth_failed``, ...); the method records it in Prometheus and, when
:func:`praisonai_svc.observability.telemetry.configure_telemetry` has sent telemetry to Application Insights,
in the matching OpenTelemetry instrument too.

Across processes (docs/operations.md "Metrics"): the API and the worker are separate processes, each counting
its own events. ``GET /metrics`` on the API shows the API's counters, an embedded worker's, and gauges read
from storage at scrape time; a worker process serves its own at ``--metrics-port``. When several processes
share a machine (``praisonai-svc run`` with worker children) and ``PROMETHEUS_MULTIPROC_DIR`` is set, every
process writes its values to files there and the API's ``/metrics`` adds them all up (prometheus-client's
multiprocess mode).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from praisonai_svc.models.job import JobStatus

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds. Jobs run from well under a second to the 10-minute default limit (and beyond, if configured).
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)
WAIT_BUCKETS = (0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class _OtelInstruments:
    """The OpenTelemetry twins of the job and security metrics (HTTP spans come from auto-instrumentation)."""

    def __init__(self) -> None:
        from opentelemetry import metrics

        meter = metrics.get_meter("praisonai_svc")
        self.finished = meter.create_counter("praisonai.jobs.finished", description="Jobs ended, by status")
        self.duration = meter.create_histogram("praisonai.job.duration", unit="s", description="Job run time")
        self.wait = meter.create_histogram("praisonai.job.queue_wait", unit="s", description="Created to started")
        self.retries = meter.create_counter("praisonai.job.retries", description="Attempts that will be retried")
        self.poisoned = meter.create_counter("praisonai.jobs.poisoned", description="Jobs moved to the poison queue")
        self.auth_failures = meter.create_counter("praisonai.auth.failures", description="Rejected credentials")
        self.download_links = meter.create_counter("praisonai.download_links", description="Signed URLs minted")


class ServiceMetrics:
    """Every metric of one app. Methods never raise: observing must not break the thing observed."""

    def __init__(self, *, otel: bool = False) -> None:
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}  # (metric, label values) -> child
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter("praisonai_http_requests", "HTTP requests by route template and status",
                                     ["method", "route", "status"], registry=r)
        self.http_duration = Histogram("praisonai_http_request_duration_seconds", "HTTP request duration",
                                       ["method", "route"], buckets=HTTP_BUCKETS, registry=r)
        self.auth_failures = Counter("praisonai_auth_failures", "Failed authentication attempts", ["kind"],
                                     registry=r)
        self.download_links = Counter("praisonai_download_links",
                                      "Signed download URLs minted (GET /jobs/{id}/download)", registry=r)
        self.jobs_started = Counter("praisonai_job_attempts", "Job attempts started", ["service"], registry=r)
        self.jobs_finished = Counter("praisonai_jobs_finished", "Jobs that reached a final status",
                                     ["service", "status"], registry=r)
        self.job_retries = Counter("praisonai_job_retries", "Failed attempts that will be retried", ["service"],
                                   registry=r)
        self.jobs_poisoned = Counter("praisonai_jobs_poisoned", "Jobs moved to the poison queue", ["service"],
                                     registry=r)
        self.jobs_requeued = Counter("praisonai_jobs_requeued", "Poisoned jobs requeued by an operator",
                                     ["service"], registry=r)
        self.job_duration = Histogram("praisonai_job_duration_seconds", "Run time of a job's final attempt",
                                      ["service", "status"], buckets=DURATION_BUCKETS, registry=r)
        self.queue_wait = Histogram("praisonai_queue_wait_seconds", "Time from submission to first start",
                                    ["service"], buckets=WAIT_BUCKETS, registry=r)
        self.jobs_running = Gauge("praisonai_jobs_running", "Jobs running now", ["service"], registry=r,
                                  multiprocess_mode="livesum")
        # Read from storage when /metrics is scraped (API) or when a worker reports its queue.
        self.jobs_by_status = Gauge("praisonai_jobs", "Newest jobs (PRAISONAI_METRICS_STATUS_WINDOW) by status",
                                    ["status"], registry=r, multiprocess_mode="mostrecent")
        self.queue_depth = Gauge("praisonai_queue_depth", "Messages in the job queue (visible or leased)",
                                 ["service", "queue"], registry=r, multiprocess_mode="mostrecent")
        self.poison_depth = Gauge("praisonai_poison_queue_depth", "Messages in the poison queue",
                                  ["service", "queue"], registry=r, multiprocess_mode="mostrecent")
        self.event_reads = Counter("praisonai_event_storage_reads",
                                   "Storage reads of the API's event watcher (feed pages and per-job rings)",
                                   registry=r)
        self.storage_up = Gauge("praisonai_storage_up", "1 if the last storage read for metrics worked",
                                registry=r, multiprocess_mode="mostrecent")
        self.pruned = Counter("praisonai_pruned", "Records removed by the pruner because they passed retention",
                              ["kind"], registry=r)
        self._otel = _try_otel() if otel else None

    # --- API side ------------------------------------------------------------------------------------------
    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # Label lookups are the costly part of a Prometheus update; routes and statuses are few, so cache them.
        key = (method, route, status)
        children = self._http_children.get(key)
        if children is None:
            children = (self.http_requests.labels(method, route, str(status)),
                        self.http_duration.labels(method, route))
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def auth_failed(self, kind: str) -> None:
        self.auth_failures.labels(kind).inc()
        if self._otel is not None:
            self._otel.auth_failures.add(1, {"kind": kind})

    def download_link_minted(self) -> None:
        self.download_links.inc()
        if self._otel is not None:
            self._otel.download_links.add(1)

    # --- worker side ---------------------------------------------------------------------------------------
    def _child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, cached: services and statuses are few, and a label lookup costs more than
        the update (this is on every job's path)."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def job_started(self, service: str, queue_wait: float | None) -> None:
        """An attempt started; ``queue_wait`` (created → started) is given for first attempts only."""
        self._child(self.jobs_started, service).inc()
        if queue_wait is not None:
            self._child(self.queue_wait, service).observe(max(queue_wait, 0.0))
            if self._otel is not None:
                self._otel.wait.record(max(queue_wait, 0.0), {"service": service})

    @contextlib.contextmanager
    def running(self, service: str) -> Iterator[None]:
        gauge = self._child(self.jobs_running, service)
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    def job_finished(self, service: str, status: JobStatus, seconds: float | None) -> None:
        self._child(self.jobs_finished, service, status.value).inc()
        if seconds is not None:
            self._child(self.job_duration, service, status.value).observe(max(seconds, 0.0))
        if self._otel is not None:
            self._otel.finished.add(1, {"service": service, "status": status.value})
            if seconds is not None:
                self._otel.duration.record(max(seconds, 0.0), {"service": service, "status": status.value})

    def job_retried(self, service: str) -> None:
        self._child(self.job_retries, service).inc()
        if self._otel is not None:
            self._otel.retries.add(1, {"service": service})

    def job_poisoned(self, service: str) -> None:
        self._child(self.jobs_poisoned, service).inc()
        if self._otel is not None:
            self._otel.poisoned.add(1, {"service": service})

    def job_requeued(self, service: str) -> None:
        self.jobs_requeued.labels(service).inc()

    def pruned_records(self, kind: str, count: int) -> None:
        if count > 0:
            self.pruned.labels(kind).inc(count)

    # --- storage gauges --------------------------------------------------------------------------------------
    def queue_depths(self, service: str, queue: str, depth: int, poison_depth: int) -> None:
        self.queue_depth.labels(service, queue).set(depth)
        self.poison_depth.labels(service, queue).set(poison_depth)

    def status_counts(self, counts: dict[JobStatus, int]) -> None:
        for status, count in counts.items():
            self.jobs_by_status.labels(status.value).set(count)

    # --- exposition ------------------------------------------------------------------------------------------
    def exposition(self, *, all_processes: bool = True) -> bytes:
        """The Prometheus text format: this process's registry, or every process's in multiprocess mode."""
        directory = multiprocess_dir()
        if all_processes and directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def _try_otel() -> Any:
    try:
        return _OtelInstruments()
    except ImportError:  # the [azure-monitor] extra is not installed: Prometheus only
        return None
