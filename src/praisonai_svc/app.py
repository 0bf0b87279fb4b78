"""``ServiceApp``: the composition root a user's one file creates.

It holds the registered handlers and the settings, and builds the FastAPI app and the worker on demand; it owns
no global state, so several apps can live in one process (tests do this).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, overload

from praisonai_svc.backend import Backend
from praisonai_svc.durations import parse_duration
from praisonai_svc.errors import ConfigError, UnknownService
from praisonai_svc.events import EventBus
from praisonai_svc.registry import Handler, HandlerSpec, make_spec, normalize_service_name
from praisonai_svc.retention.policy import RetentionRegistry
from praisonai_svc.settings import Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from praisonai_svc.observability.metrics import ServiceMetrics


class ServiceApp:
    """A job service: ``app = ServiceApp("My Service")`` then ``@app.job`` on each handler.

    ``settings`` defaults to the environment (``PRAISONAI_*`` and ``.env``); ``backend`` defaults to the one the
    settings select (local SQLite + files, or Azure Storage). Pass a backend (e.g.
    ``praisonai_svc.testing.memory_backend()``) to test handlers without storage.
    """

    def __init__(
        self, name: str, *, settings: Settings | None = None, backend: Backend | None = None,
        description: str = "",
    ) -> None:
        self.name = name
        self.description = description
        self._settings = settings
        self.backend = backend
        self.services: dict[str, HandlerSpec] = {}
        self._fastapi: FastAPI | None = None
        self.target: str | None = None  # how worker subprocesses re-load this app (set by the loader)
        self._metrics: ServiceMetrics | None = None
        self.events = EventBus()  # the in-app event seam: job, file and execution events (praisonai_svc.events)
        self.retention = RetentionRegistry()  # record kinds the pruner removes once expired
        self._register_builtins()

    # --- configuration -------------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
            self._rebind_queue_names()
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value
        self._rebind_queue_names()
        self._fastapi = None

    @property
    def metrics(self) -> ServiceMetrics:
        """This app's metrics (Prometheus, plus OpenTelemetry when telemetry is configured); see /metrics."""
        if self._metrics is None:
            from praisonai_svc.observability.metrics import ServiceMetrics
            from praisonai_svc.observability.telemetry import telemetry_enabled

            self._metrics = ServiceMetrics(otel=telemetry_enabled())
        return self._metrics

    # --- registration --------------------------------------------------------------------------------------
    @overload
    def job(self, func: Handler, /) -> Handler: ...

    @overload
    def job(
        self, name: str | None = None, /, *, timeout_minutes: float | None = None, max_attempts: int | None = None,
        retention: str | timedelta | None = None, idempotency_window: str | timedelta | None = None,
    ) -> Callable[[Handler], Handler]: ...

    def job(
        self, arg: Handler | str | None = None, /, *, timeout_minutes: float | None = None,
        max_attempts: int | None = None, retention: str | timedelta | None = None,
        idempotency_window: str | timedelta | None = None,
    ) -> Handler | Callable[[Handler], Handler]:
        """Register a handler: ``@app.job`` (service named after the function) or ``@app.job("video")``.

        ``timeout_minutes`` and ``max_attempts`` override PRAISONAI_MAX_JOB_DURATION_MINUTES and
        PRAISONAI_MAX_RETRY_COUNT for this service; ``retention`` and ``idempotency_window`` (e.g. ``"7d"``,
        ``"1h"``) override PRAISONAI_JOB_RETENTION and PRAISONAI_IDEMPOTENCY_WINDOW.
        """

        def register(func: Handler, name: str | None = None) -> Handler:
            service = normalize_service_name(name or func.__name__)
            existing = self.services.get(service)
            if existing is not None and existing.builtin:
                raise ConfigError(f"'{service}' is the name of a built-in service; give your handler another name.")
            if existing is not None:
                raise ConfigError(f"Service '{service}' is registered twice; give one of them another name.")
            options: dict[str, Any] = {
                "timeout_seconds": timeout_minutes * 60 if timeout_minutes else None,
                "max_attempts": max_attempts,
                "retention": _duration_option("retention", retention),
                "idempotency_window": _duration_option("idempotency_window", idempotency_window),
            }
            self.services[service] = make_spec(func, service, self._queue_name_for(service), **options)
            self._keep_builtins_last()
            self._fastapi = None
            return func

        if callable(arg):
            return register(arg)
        return lambda func: register(func, arg)

    def _register_builtins(self) -> None:
        """The services every app hosts (DESIGN.md §8): ``extract`` runs file extraction (praisonai_svc.files)."""
        from praisonai_svc.files.processing import register_extract_service

        register_extract_service(self)

    def add_builtin(self, spec: HandlerSpec) -> None:
        """Host a built-in service (``spec.builtin``); its queue is always ``<queue>-<name>``."""
        base = self._settings.queue_name if self._settings else "praison-jobs"
        self.services[spec.name] = dataclasses.replace(spec, queue_name=f"{base}-{spec.name}", builtin=True)

    def _keep_builtins_last(self) -> None:
        # The user's first service stays the default and is polled first; built-ins follow the user's services.
        for name in [name for name, spec in self.services.items() if spec.builtin]:
            self.services[name] = self.services.pop(name)

    def _user_services(self) -> list[HandlerSpec]:
        return [spec for spec in self.services.values() if not spec.builtin]

    def _queue_name_for(self, service: str) -> str:
        # The first service keeps the seed's queue name, so single-service deployments match the docs.
        base = self._settings.queue_name if self._settings else "praison-jobs"
        return base if not self._user_services() else f"{base}-{service}"

    def service(self, name: str | None = None) -> HandlerSpec:
        """The named service, or the default (first registered) one."""
        if name is None:
            users = self._user_services()
            if not users:
                raise ConfigError(f"{self.name} has no handlers; decorate a function with @app.job.")
            return users[0]
        spec = self.services.get(normalize_service_name(name))
        if spec is None:
            known = ", ".join(self.services)
            raise UnknownService(f"Unknown service '{name}'. This app hosts: {known}.")
        return spec

    def _rebind_queue_names(self) -> None:
        """Handlers usually register before the settings load; re-derive their queue names once they do."""
        assert self._settings is not None
        base = self._settings.queue_name
        users = [name for name, spec in self.services.items() if not spec.builtin]
        for name, spec in list(self.services.items()):
            queue = base if users and name == users[0] else f"{base}-{name}"
            if spec.queue_name != queue:
                self.services[name] = dataclasses.replace(spec, queue_name=queue)

    # --- entry points --------------------------------------------------------------------------------------
    @property
    def app(self) -> FastAPI:
        """The FastAPI application (built on first access)."""
        if self._fastapi is None:
            from praisonai_svc.api.factory import create_api

            self._fastapi = create_api(self)
        return self._fastapi

    def get_app(self) -> FastAPI:
        return self.app

    def run(self, host: str | None = None, port: int | None = None, workers: int | None = None) -> None:
        """Start the API and ``workers`` worker processes (0 = a worker inside the API process); blocks.

        Defaults come from the settings (PRAISONAI_HOST, PRAISONAI_PORT, PRAISONAI_WORKERS).
        """
        from praisonai_svc.supervisor import run_service

        run_service(self, host=host, port=port, workers=self.settings.workers if workers is None else workers)

    def __repr__(self) -> str:
        return f"ServiceApp({self.name!r}, services={list(self.services)})"


def _duration_option(name: str, value: str | timedelta | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: {exc}") from exc
