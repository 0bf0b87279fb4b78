"""The app's ``praisonai.yaml``: its sections, validated against the services the app registered.

Precedence, highest first (docs/services.md, tested in tests/unit/test_appconfig.py):

1. ``PRAISONAI_SERVICES__<SERVICE>__<KEY>`` for one service key, and the ``PRAISONAI_*`` variable of a server key
   (``PRAISONAI_CLOSING_TIMEOUT_SECONDS``, ...);
2. the file (after ``${VAR}`` substitution);
3. the decorator's arguments (``@app.job("ppt", timeout_minutes=5)``);
4. the global settings (``PRAISONAI_MAX_JOB_DURATION_MINUTES``, ...) and built-in defaults.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from praisonai_svc.appconfig.document import ConfigDocument
from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import SERVICES_ENV_PREFIX, Duration

# Sections later features own: accepted here, validated by their owners (plugins/config.py, ...).
FOREIGN_SECTIONS = frozenset({"plugins", "tenants"})
SERVICE_ENV_PREFIX = SERVICES_ENV_PREFIX


class AppSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    version: str | None = None
    description: str | None = None


class ServerSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_prefix: str = Field("", pattern=r"^(/[A-Za-z0-9._~-]+)*$")
    closing_timeout_seconds: float = Field(60.0, gt=0)
    leader_lease_seconds: float = Field(60.0, ge=3)
    heartbeat_seconds: float = Field(60.0, ge=1)


class ServiceSection(BaseModel):
    """The keys every service understands; any other key is the service's own setting."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    autostart: bool = True
    concurrency: int | None = Field(None, ge=1, le=256)
    timeout_minutes: float | None = Field(None, gt=0)
    max_attempts: int | None = Field(None, ge=1, le=100)
    retention: Duration | None = None  # job services: overrides PRAISONAI_JOB_RETENTION ("7d", "12h")
    idempotency_window: Duration | None = None  # job services: overrides PRAISONAI_IDEMPOTENCY_WINDOW


COMMON_SERVICE_KEYS = frozenset(ServiceSection.model_fields)
SECTIONS = {"app": AppSection, "server": ServerSection, "services": None}


@dataclass(frozen=True)
class ServiceOptions:
    """One service's resolved options; ``config`` is its own settings (its config model, or a dict)."""

    enabled: bool = True
    autostart: bool = True
    concurrency: int | None = None
    timeout_minutes: float | None = None
    max_attempts: int | None = None
    retention: timedelta | None = None
    idempotency_window: timedelta | None = None
    config: Any = None


@dataclass(frozen=True)
class AppConfig:
    """The whole resolved file. ``document`` keeps the raw sections for the features that own them."""

    app: AppSection = field(default_factory=lambda: AppSection.model_validate({}))
    server: ServerSection = field(default_factory=lambda: ServerSection.model_validate({}))
    services: dict[str, ServiceOptions] = field(default_factory=dict)
    document: ConfigDocument = field(default_factory=lambda: ConfigDocument({}))

    def options(self, service: str) -> ServiceOptions:
        return self.services.get(service) or ServiceOptions()


def did_you_mean(name: str, known: list[str] | set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )


def _validate(model: type[BaseModel], raw: Any, doc: ConfigDocument, *keys: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{doc.where(*keys)}: '{'.'.join(keys)}' must be a mapping.")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"]
        where = doc.where(*keys, *(str(part) for part in first))
        if exc.errors()[0]["type"] == "extra_forbidden" and first:
            known = set(model.model_fields)
            raise ConfigError(f"{where}: unknown key '{'.'.join(keys)}.{first[0]}'."
                              f"{did_you_mean(str(first[0]), known)}") from exc
        raise ConfigError(f"{where}: invalid '{'.'.join(keys)}': {_problems(exc)}") from exc


def service_env_overrides(service: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """``PRAISONAI_SERVICES__TICKER__INTERVAL_SECONDS=9`` → ``{"interval_seconds": 9}`` for service ``ticker``."""
    prefix = SERVICE_ENV_PREFIX + service.upper().replace("-", "_") + "__"
    found: dict[str, Any] = {}
    for name, text in environ.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            value = yaml.safe_load(text) if text.strip() else text
            found[name[len(prefix):].lower()] = value if isinstance(value, str | int | float | bool) else text
    return found


def _service_options(
    name: str, raw: Any, model: type[BaseModel] | None, doc: ConfigDocument, environ: Mapping[str, str],
) -> ServiceOptions:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{doc.where('services', name)}: 'services.{name}' must be a mapping of settings.")
    merged = {**raw, **service_env_overrides(name, environ)}
    common = {k: v for k, v in merged.items() if k in COMMON_SERVICE_KEYS}
    own = {k: v for k, v in merged.items() if k not in COMMON_SERVICE_KEYS}
    section = _validate(ServiceSection, common, doc, "services", name)
    if model is None:
        if own:
            key = next(iter(own))
            raise ConfigError(
                f"{doc.where('services', name, key)}: unknown key 'services.{name}.{key}'."
                f"{did_you_mean(key, COMMON_SERVICE_KEYS)} Service '{name}' declares no config model; give it "
                "one (config_model=...) to have settings of its own."
            )
        config: Any = None
    elif not own and any(field.is_required() for field in model.model_fields.values()):
        config = None  # not configured yet: it waits for POST /services/<name>/configure (requires_configuration)
    else:
        config = _validate(model, own, doc, "services", name)
    return ServiceOptions(config=config, **section.model_dump())


def resolve_app_config(
    doc: ConfigDocument, services: Mapping[str, type[BaseModel] | None], environ: Mapping[str, str],
) -> AppConfig:
    """Validate ``doc`` against the app's ``services`` (name → its config model, or None)."""
    for key in doc.data:
        if key not in SECTIONS and key not in FOREIGN_SECTIONS:
            known = set(SECTIONS) | FOREIGN_SECTIONS
            raise ConfigError(f"{doc.where(key)}: unknown section '{key}'.{did_you_mean(str(key), known)}")
    app = _validate(AppSection, doc.data.get("app"), doc, "app")
    server = _validate(ServerSection, doc.data.get("server"), doc, "server")
    raw_services = doc.data.get("services") or {}
    if not isinstance(raw_services, dict):
        raise ConfigError(f"{doc.where('services')}: 'services' must map service names to their settings.")
    for name in raw_services:
        if name not in services:
            hosted = ", ".join(services) or "none"
            raise ConfigError(f"{doc.where('services', name)}: unknown service '{name}'."
                              f"{did_you_mean(str(name), set(services))} This app hosts: {hosted}.")
    resolved = {name: _service_options(name, raw_services.get(name), model, doc, environ)
                for name, model in services.items()}
    return AppConfig(app=app, server=server, services=resolved, document=doc)
