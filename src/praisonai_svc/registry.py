"""Handler registration: what a decorated function takes and how to call it.

Handlers may be ``def`` or ``async def``; they take the payload as a ``dict`` or as a Pydantic model (then the
API validates it against that model and publishes its schema), and optionally a second argument, the
:class:`~praisonai_svc.context.JobContext`.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from praisonai_svc.errors import ConfigError, HandlerResultError, PayloadError

Handler = Callable[..., Any]
_SERVICE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
# RFC 9110 §8.3.1 media type: token "/" token, then parameters ";" token "=" (token / quoted-string). No control
# characters anywhere, so the value is always a safe Content-Type header (and a safe Azure rsct override).
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e]|\\[\t\x20-\x7e])*"'
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*")
MAX_MEDIA_TYPE_LENGTH = 255


def is_media_type(text: str) -> bool:
    """Whether ``text`` is a well-formed media type (``type/subtype`` with optional parameters)."""
    return len(text) <= MAX_MEDIA_TYPE_LENGTH and _MEDIA_TYPE.fullmatch(text) is not None


def normalize_service_name(name: str) -> str:
    """``generate_ppt`` → ``generate-ppt``: service names are used in queue names, so lowercase and hyphens."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


@dataclass(frozen=True)
class HandlerOutput:
    data: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class HandlerSpec:
    """One registered service."""

    name: str
    func: Handler
    is_async: bool
    payload_model: type[BaseModel] | None
    wants_context: bool
    queue_name: str
    timeout_seconds: float | None = None
    max_attempts: int | None = None
    description: str = ""
    concurrency: int | None = None  # most jobs of this service one worker process runs at once (None: no cap)
    config_model: type[BaseModel] | None = None  # its own keys in praisonai.yaml → context.config
    retention: timedelta | None = None  # overrides PRAISONAI_JOB_RETENTION for this service
    idempotency_window: timedelta | None = None  # overrides PRAISONAI_IDEMPOTENCY_WINDOW for this service
    # Awaited on the worker's own event loop instead of a thread of its own: for handlers that never block it
    # (plugins, whose CPU work goes to a process pool) and use the worker process's clients.
    runs_on_loop: bool = False
    # An extra check of the raw payload at submission (a plugin's validate_input); raises PayloadError.
    check: Callable[[dict[str, Any]], None] | None = None
    isolation: str = "thread"  # "process": a child process that is killed on timeout or cancel
    webhook_url: str | None = None  # POSTed every job of this service when it ends (docs/api.md, webhooks)
    internal: bool = False  # a built-in service (webhook deliveries, workflow executions): never via POST /jobs
    retry_backoff_seconds: float | None = None  # overrides PRAISONAI_RETRY_BACKOFF_SECONDS for this service
    retry_backoff_max_seconds: float | None = None

    def validate_payload(self, payload: dict[str, Any]) -> Any:
        """Return what the handler receives; raise :class:`PayloadError` with every problem listed."""
        if self.check is not None:
            self.check(payload)
        if self.payload_model is None:
            return payload
        try:
            return self.payload_model.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"payload.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else err["msg"]
                for err in exc.errors()
            )
            raise PayloadError(f"Invalid payload for service '{self.name}': {problems}") from exc


def _payload_model(func: Handler) -> tuple[type[BaseModel] | None, bool]:
    params = [
        p for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not params or len(params) > 2:
        raise ConfigError(f"Handler {func.__qualname__} must take (payload) or (payload, context).")
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: treat the payload as a plain dict
        hints = {}
    annotation = hints.get(params[0].name)
    model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model, len(params) == 2


def check_service_name(name: str) -> str:
    """``name`` normalised, or ConfigError when it cannot name a service (queue names are made from it)."""
    service = normalize_service_name(name)
    if not _SERVICE_NAME.match(service):
        raise ConfigError(
            f"Service name {name!r} is not usable: use 1-40 lowercase letters, digits and hyphens."
        )
    return service


def make_spec(func: Handler, name: str, queue_name: str, **options: Any) -> HandlerSpec:
    service = check_service_name(name)
    model, wants_context = _payload_model(func)
    if options.get("isolation", "thread") not in ("thread", "process"):
        raise ConfigError(f"Service {name!r}: isolation must be 'thread' or 'process', not {options['isolation']!r}.")
    return HandlerSpec(
        name=service, func=func, is_async=inspect.iscoroutinefunction(func), payload_model=model,
        wants_context=wants_context, queue_name=queue_name, description=(func.__doc__ or "").strip(), **options,
    )


def coerce_output(value: Any) -> HandlerOutput:
    """Check a handler's return value is ``(bytes, content_type, filename)``."""
    if isinstance(value, HandlerOutput):
        return value
    if not isinstance(value, tuple) or len(value) != 3:
        raise HandlerResultError(
            f"Handler must return (bytes, content_type, filename); it returned {type(value).__name__}."
        )
    data, content_type, filename = value
    if not isinstance(data, bytes | bytearray | memoryview):
        raise HandlerResultError(f"Handler's first return value must be bytes, not {type(data).__name__}.")
    if not isinstance(content_type, str) or not is_media_type(content_type):
        raise HandlerResultError(
            f"Handler's content type {content_type!r} is not a valid media type: return one such as "
            "'application/pdf' or 'text/plain; charset=utf-8' (type/subtype, then optional ; name=value)."
        )
    if not isinstance(filename, str) or not filename.strip():
        raise HandlerResultError(f"Handler's filename must be a non-empty string, not {filename!r}.")
    return HandlerOutput(bytes(data), content_type, filename)
