"""``ServiceApp``: the composition root a user's one file creates.

It holds the registered handlers and the settings, and builds the FastAPI app and the worker on demand; it owns
no global state, so several apps can live in one process (tests do this).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from praisonai_svc.backend import Backend
from praisonai_svc.cluster import KIND as CLUSTER_KIND
from praisonai_svc.durations import format_duration, parse_duration
from praisonai_svc.errors import ConfigError, PayloadError, UnknownService
from praisonai_svc.events import EventBus
from praisonai_svc.events.consumers import PRUNED_KINDS as LIVE_RECORD_KINDS
from praisonai_svc.plugins.base import BasePlugin, Category, ProcessingMode
from praisonai_svc.plugins.host import PluginHost
from praisonai_svc.registry import Handler, HandlerSpec, make_spec, normalize_service_name
from praisonai_svc.retention.policy import RetentionRegistry
from praisonai_svc.settings import Settings, load_settings
from praisonai_svc.usage.buckets import KIND_DAY as USAGE_DAY
from praisonai_svc.usage.buckets import KIND_HOUR as USAGE_HOUR

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic import BaseModel

    from praisonai_svc.appconfig import AppConfig
    from praisonai_svc.job_service import Submission
    from praisonai_svc.observability.metrics import ServiceMetrics
    from praisonai_svc.plugins.config import PluginSection
    from praisonai_svc.producer import Producer, SubmitItem
    from praisonai_svc.services import Service
    from praisonai_svc.services.registry import BackgroundSpec, RunsOn

ServiceClass = TypeVar("ServiceClass", bound="type[Service]")

PluginT = TypeVar("PluginT", bound=BasePlugin)


class ServiceApp:
    """A job service: ``app = ServiceApp("My Service")`` then ``@app.job`` on each handler.

    ``settings`` defaults to the environment (``PRAISONAI_*`` and ``.env``); ``backend`` defaults to the one the
    settings select (local SQLite + files, or Azure Storage). Pass a backend (e.g.
    ``praisonai_svc.testing.memory_backend()``) to test handlers without storage.
    """

    def __init__(
        self, name: str, *, settings: Settings | None = None, backend: Backend | None = None,
        description: str = "", config_file: str | Path | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self._settings = settings
        self.backend = backend
        self.services: dict[str, HandlerSpec] = {}
        self.plugins = PluginHost()
        self._fastapi: FastAPI | None = None
        self.target: str | None = None  # how worker subprocesses re-load this app (set by the loader)
        self._metrics: ServiceMetrics | None = None
        self.events = EventBus()  # the in-app event seam: job, file and execution events (praisonai_svc.events)
        self.background: dict[str, BackgroundSpec] = {}  # @app.service / register_service
        self.config_file = Path(config_file) if config_file is not None else None
        self.root_dir: Path | None = None  # the handlers file's directory (set by the loader): praisonai.yaml
        self._config: AppConfig | None = None
        self._order: list[str] = []
        self.retention = RetentionRegistry()  # record kinds the pruner removes once expired
        self._producer: Producer | None = None
        for kind in LIVE_RECORD_KINDS:  # job events, cancel requests, webhook attempts, WebSocket tickets
            self.retention.track(kind)
        self.retention.track(CLUSTER_KIND)  # cluster.py: dead instances, crashed workers, stale submit hints
        for kind in (USAGE_HOUR, USAGE_DAY):  # usage buckets: PRAISONAI_USAGE_HOURLY/DAILY_RETENTION
            self.retention.track(kind)
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
        self._config = None

    @property
    def config(self) -> AppConfig:
        """praisonai.yaml, resolved against the registered services and the environment (docs/services.md).

        Loaded on first use, after every handler and service has registered; per-service options
        (``timeout_minutes``, ``max_attempts``, ``concurrency``, ``retention``, ``idempotency_window``) are
        applied to the job services then.
        """
        if self._config is None:
            from praisonai_svc.appconfig import load_app_config

            settings = self.settings
            if self.config_file is not None and settings.config_file is None:
                settings = settings.model_copy(update={"config_file": self.config_file})
            models = {name: spec.config_model for name, spec in self.services.items()}
            models.update({name: spec.service.config_model for name, spec in self.background.items()})
            self._config = load_app_config(settings, self.root_dir, models)
            self._apply_job_options()
        return self._config

    def plugin_config_sections(self) -> dict[str, PluginSection]:
        """The plugins' file settings: seed 004's config/plugins.yaml (beside the handlers file, else in the working
        directory), then the ``plugins:`` section of the app's praisonai.yaml (docs/plugins.md)."""
        if not self.plugins:
            return {}
        from praisonai_svc.appconfig import find_config_file
        from praisonai_svc.plugins.config import plugin_sections

        app_file = find_config_file(self.settings.config_file or self.config_file, self.root_dir)
        return plugin_sections(app_file, [d for d in (self.root_dir, Path.cwd()) if d is not None])

    def _apply_job_options(self) -> None:
        assert self._config is not None
        for name, spec in list(self.services.items()):
            options = self._config.options(name)
            self.services[name] = dataclasses.replace(
                spec,
                timeout_seconds=options.timeout_minutes * 60 if options.timeout_minutes else spec.timeout_seconds,
                max_attempts=options.max_attempts or spec.max_attempts,
                concurrency=options.concurrency or spec.concurrency,
                retention=options.retention or spec.retention,
                idempotency_window=options.idempotency_window or spec.idempotency_window,
            )
            updated = self.services[name]
            retention = updated.retention or self.settings.job_retention
            window = updated.idempotency_window or self.settings.idempotency_window
            if window > retention:
                raise ConfigError(
                    f"service '{name}': idempotency_window ({format_duration(window)}) is longer than its retention "
                    f"({format_duration(retention)}); an idempotent hit would return a job already removed. "
                    "Shorten the window or lengthen the retention (praisonai.yaml services.<name>, or @app.job).")

    @property
    def title(self) -> str:
        """The app's name as praisonai.yaml's ``app.title`` gives it (else the name it was created with)."""
        return self.config.app.title or self.name

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
        concurrency: int | None = None, config_model: type[BaseModel] | None = None,
        retention: str | timedelta | None = None, idempotency_window: str | timedelta | None = None,
        isolation: str = "thread", webhook_url: str | None = None,
    ) -> Callable[[Handler], Handler]: ...

    def job(
        self, arg: Handler | str | None = None, /, *, timeout_minutes: float | None = None,
        max_attempts: int | None = None, concurrency: int | None = None, config_model: type[BaseModel] | None = None,
        retention: str | timedelta | None = None, idempotency_window: str | timedelta | None = None,
        isolation: str = "thread", webhook_url: str | None = None,
    ) -> Handler | Callable[[Handler], Handler]:
        """Register a handler: ``@app.job`` (service named after the function) or ``@app.job("video")``.

        ``timeout_minutes`` and ``max_attempts`` override PRAISONAI_MAX_JOB_DURATION_MINUTES and
        PRAISONAI_MAX_RETRY_COUNT for this service; ``concurrency`` caps its jobs per worker process;
        ``config_model`` validates its own keys in praisonai.yaml, which handlers read as ``context.config``.
        These four can be set in praisonai.yaml too, which wins over these arguments. ``retention`` and
        ``idempotency_window`` (e.g. ``"7d"``, ``"1h"``) override PRAISONAI_JOB_RETENTION and
        PRAISONAI_IDEMPOTENCY_WINDOW. ``isolation="process"`` runs each attempt in a child
        process that is killed on timeout or cancel (the handler and its results must survive a fork).
        ``webhook_url`` is POSTed every job of this service when it ends (needs PRAISONAI_WEBHOOK_SECRET).
        """

        def register(func: Handler, name: str | None = None) -> Handler:
            service = normalize_service_name(name or func.__name__)
            existing = self.services.get(service)
            if existing is not None and existing.internal:
                raise ConfigError(f"'{service}' is the name of a built-in service; give your handler another name.")
            self._claim_name(service)
            options: dict[str, Any] = {
                "timeout_seconds": timeout_minutes * 60 if timeout_minutes else None,
                "max_attempts": max_attempts, "concurrency": concurrency, "config_model": config_model,
                "retention": _duration_option("retention", retention),
                "idempotency_window": _duration_option("idempotency_window", idempotency_window),
                "isolation": isolation,
                "webhook_url": webhook_url,
            }
            self.services[service] = make_spec(func, service, self._queue_name_for(service), **options)
            self._keep_builtins_last()
            self._changed()
            return func

        if callable(arg):
            return register(arg)
        return lambda func: register(func, arg)

    def service(self, name: str | None = None, *, runs_on: RunsOn = "api") -> Callable[[ServiceClass], ServiceClass]:
        """Register a background service class: ``@app.service("ticker", runs_on="one")``.

        ``runs_on``: ``"api"`` (every API process, the default), ``"worker"`` (every worker process), ``"all"``
        (both), or ``"one"`` (exactly one process of the whole deployment, elected through a lease).
        """

        def register(cls: ServiceClass) -> ServiceClass:
            self.register_service(cls, name, runs_on=runs_on)
            return cls

        return register

    def register_service(self, cls: type[Service], name: str | None = None, *, runs_on: RunsOn = "api") -> Service:
        """Register a background service class (Processpype's spelling); returns this process's instance."""
        from praisonai_svc.registry import check_service_name
        from praisonai_svc.services import Service
        from praisonai_svc.services.registry import BackgroundSpec, check_runs_on

        if not (isinstance(cls, type) and issubclass(cls, Service)):
            raise ConfigError(f"{cls!r} is not a praisonai_svc.services.Service subclass.")
        instance = cls(name) if name else cls()
        service = check_service_name(normalize_service_name(instance.name))
        instance._name = service
        self._claim_name(service)
        self.background[service] = BackgroundSpec(service, instance, check_runs_on(runs_on))
        self._changed()
        return instance

    def _claim_name(self, service: str) -> None:
        if service in self.services or service in self.background:
            raise ConfigError(f"Service '{service}' is registered twice; give one of them another name.")
        self._order.append(service)

    def _changed(self) -> None:
        self._fastapi = None
        self._config = None

    @property
    def registration_order(self) -> list[str]:
        """Every service (job and background) in the order it registered."""
        return list(self._order)

    def _register_builtins(self) -> None:
        """The services every app hosts (DESIGN.md §8): ``extract`` extracts uploaded files (files/),
        ``workflow-execution`` runs workflows (workflows/), and the ``pruner`` (one per deployment) removes what is
        past retention (retention/)."""
        from praisonai_svc.files.processing import register_extract_service
        from praisonai_svc.retention.service import register_pruner
        from praisonai_svc.workflows.service import register_workflow_service

        register_extract_service(self)
        register_workflow_service(self)
        register_pruner(self)

    def add_builtin(self, spec: HandlerSpec) -> None:
        """Host a built-in service: ``internal`` (never through POST /jobs), awaited on the worker's loop with the
        worker's storage (``context._backend``); its queue is always ``<queue>-<name>``."""
        base = self._settings.queue_name if self._settings else "praison-jobs"
        self.services[spec.name] = dataclasses.replace(spec, queue_name=f"{base}-{spec.name}", internal=True,
                                                       runs_on_loop=True)

    def _keep_builtins_last(self) -> None:
        # The user's first service stays the default and is polled first; built-ins follow the user's services.
        for name in [name for name, spec in self.services.items() if spec.internal]:
            self.services[name] = self.services.pop(name)

    def _user_services(self) -> list[HandlerSpec]:
        return [spec for spec in self.services.values() if not spec.internal]

    def register_plugin(self, plugin: PluginT) -> PluginT:
        """Serve ``plugin`` at ``POST /api/v1/{category}/{action}`` and as the job service of its name."""
        self.plugins.add(plugin)
        if plugin.name in self.services:
            del self.plugins.plugins[plugin.name]
            raise ConfigError(f"Plugin '{plugin.name}' has the name of a job service; give one of them another name.")

        def check(payload: dict[str, Any]) -> None:
            ok, problem = plugin.validate_input(payload)
            if not ok:
                raise PayloadError(problem or f"Invalid input for plugin '{plugin.name}'")

        spec = make_spec(self.plugins.job_handler(plugin), plugin.name, self._queue_name_for(plugin.name))
        self.services[plugin.name] = dataclasses.replace(
            spec, payload_model=plugin.input_model, runs_on_loop=True, check=check,
            description=plugin.description or plugin.display_name,
        )
        self._keep_builtins_last()
        self._fastapi = None
        return plugin

    def capability(
        self, name: str, *, category: Category, display_name: str = "",
        processing_mode: ProcessingMode = ProcessingMode.SYNC, config: dict[str, Any] | None = None,
    ) -> Callable[[Handler], Handler]:
        """``@app.capability("image-thumbnail", category="image")`` on ``def f(input: Model) -> dict``: a plugin
        from one function (``async def`` runs on the loop; a plain ``def`` in the process pool)."""
        from praisonai_svc.plugins.capability import capability_plugin

        def register(func: Handler) -> Handler:
            self.register_plugin(capability_plugin(func, name, category=category, display_name=display_name,
                                                   processing_mode=processing_mode, config=config))
            return func

        return register

    def _queue_name_for(self, service: str) -> str:
        # The first service keeps the seed's queue name, so single-service deployments match the docs.
        base = self._settings.queue_name if self._settings else "praison-jobs"
        return base if not self._user_services() else f"{base}-{service}"

    def job_spec(self, name: str | None = None) -> HandlerSpec:
        """The named job service, or the default (first registered) one."""
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
        users = [name for name, spec in self.services.items() if not spec.internal]
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

        code = run_service(self, host=host, port=port, workers=self.settings.workers if workers is None else workers)
        if code:
            raise SystemExit(code)

    # --- in-process producer (docs/api.md "Submitting from Python") ------------------------------------------
    def _get_producer(self) -> Producer:
        if self._producer is None:
            from praisonai_svc.producer import Producer

            self._producer = Producer(self)
        return self._producer

    async def submit(self, payload: SubmitItem, *, service: str | None = None, tenant: str | None = None
                     ) -> Submission:
        """Submit one job from Python, with the rules of ``POST /jobs`` (validation, size limit, idempotency,
        tenant scope); returns the :class:`~praisonai_svc.job_service.Submission` (``job``, ``created``).

        Raises :class:`~praisonai_svc.errors.PayloadError` (invalid), ``UnknownService``, ``PayloadTooLarge`` or
        ``StorageUnavailable``. Opens the app's backend on first use (the same storage the service uses).
        """
        return await self._get_producer().submit(payload, service=service, tenant=tenant)

    async def submit_many(self, payloads: list[SubmitItem], *, service: str | None = None,
                          tenant: str | None = None) -> list[Submission | Exception]:
        """Submit many jobs at once; per item, in order, its Submission or the error it met (never raised)."""
        return list(await self._get_producer().submit_many(payloads, service=service, tenant=tenant))

    def submit_sync(self, payload: SubmitItem, *, service: str | None = None, tenant: str | None = None
                    ) -> Submission:
        """:meth:`submit` for synchronous code (not inside a running event loop)."""
        from praisonai_svc.producer import run_sync

        result: Submission = run_sync(self, "submit", payload, service=service, tenant=tenant)
        return result

    def submit_many_sync(self, payloads: list[SubmitItem], *, service: str | None = None,
                         tenant: str | None = None) -> list[Submission | Exception]:
        """:meth:`submit_many` for synchronous code (not inside a running event loop)."""
        from praisonai_svc.producer import run_sync

        result: list[Submission | Exception] = run_sync(self, "submit_many", payloads, service=service,
                                                        tenant=tenant)
        return result

    def __repr__(self) -> str:
        return f"ServiceApp({self.name!r}, services={list(self.services)})"


def _duration_option(name: str, value: str | timedelta | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: {exc}") from exc
