"""The workflow definition: triggers and steps, validated by Pydantic with errors that name the step and field.

The seed's legacy shape (``config.steps``, a top-level ``cron_expression``, ``trigger_on_file_upload``,
``trigger_file_extensions``) is accepted too and mapped to this one by :func:`parse_definition`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from praisonai_svc.errors import PayloadError
from praisonai_svc.workflows.cron import CronError, check_timezone, parse_cron

STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_STEPS = 100
MAX_DELAY_SECONDS = 6 * 24 * 3600  # a queue message stays hidden for at most 7 days (Azure); keep a day spare


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- triggers ------------------------------------------------------------------------------------------------
class CronTrigger(_Strict):
    """Fire at each due time of a cron expression (5 fields, or 6 with seconds first) in ``timezone``."""

    type: Literal["cron"] = "cron"
    expression: str
    timezone: str = "UTC"

    @field_validator("expression")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            parse_cron(value)
        except CronError as exc:
            raise ValueError(str(exc)) from exc
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            check_timezone(value)
        except CronError as exc:
            raise ValueError(str(exc)) from exc
        return value


class FileTrigger(_Strict):
    """Start on a file event; empty filters match everything."""

    type: Literal["file_upload", "file_processed"]
    file_extensions: list[str] = Field(default_factory=list)
    mime_types: list[str] = Field(default_factory=list)
    max_file_size: int | None = Field(default=None, ge=0)

    @field_validator("file_extensions")
    @classmethod
    def _extensions(cls, value: list[str]) -> list[str]:
        return [ext.strip().lower().lstrip(".") for ext in value if ext.strip()]

    @field_validator("mime_types")
    @classmethod
    def _mimes(cls, value: list[str]) -> list[str]:
        return [mime.strip().lower() for mime in value if mime.strip()]

    def matches(self, filename: str, mime_type: str, size: int) -> bool:
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if self.file_extensions and extension not in self.file_extensions:
            return False
        if self.mime_types and mime_type.split(";")[0].strip().lower() not in self.mime_types:
            return False
        return self.max_file_size is None or size <= self.max_file_size


Trigger = Annotated[CronTrigger | FileTrigger, Field(discriminator="type")]


# --- steps ---------------------------------------------------------------------------------------------------
class _Step(_Strict):
    id: str
    name: str = ""
    continue_on_error: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not STEP_ID.match(value):
            raise ValueError("a step id is 1-64 letters, digits or _ and does not start with a digit")
        return value


class JobStep(_Step):
    """Submit a job to a service or plugin of this app and wait for it without holding a worker slot."""

    type: Literal["job"]
    service: str
    payload: dict[str, Any] = Field(default_factory=dict)
    include_content: bool = True  # small text outputs are read into the step result as ``content``


class FileProcessStep(_Step):
    """Extract a file (or wait for its extraction) and expose its text and metadata."""

    type: Literal["file_process"]
    file_id: str


class HttpStep(_Step):
    """Call a URL through the safe fetcher; ``secret`` adds an HMAC-SHA256 signature header."""

    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    secret: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)


class LogStep(_Step):
    type: Literal["log"]
    message: str
    level: Literal["debug", "info", "warning", "error"] = "info"


class DelayStep(_Step):
    type: Literal["delay"]
    seconds: float = Field(ge=0, le=MAX_DELAY_SECONDS)


Operator = Literal["equals", "not_equals", "contains", "not_contains", "greater_than", "less_than"]


class ConditionStep(_Step):
    """Compare ``left`` with ``right``; then ``continue``, ``stop`` or ``goto`` a step (``on_true``/``on_false``)."""

    type: Literal["condition"]
    left: Any
    operator: Operator
    right: Any = None
    on_true: str = "continue"
    on_false: str = "stop"

    @field_validator("on_true", "on_false")
    @classmethod
    def _action(cls, value: str) -> str:
        if value in ("continue", "stop") or (value.startswith("goto:") and STEP_ID.match(value[5:].strip())):
            return value if not value.startswith("goto:") else f"goto:{value[5:].strip()}"
        raise ValueError("an action is 'continue', 'stop' or 'goto:<step id>'")


Step = Annotated[
    JobStep | FileProcessStep | HttpStep | LogStep | DelayStep | ConditionStep, Field(discriminator="type")
]
OverlapPolicy = Literal["skip", "allow", "queue"]


class WorkflowDefinition(_Strict):
    """What a user writes (JSON or YAML)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    timeout_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    max_retries: int = Field(default=3, ge=0, le=20)
    is_enabled: bool = True
    overlap: OverlapPolicy = "skip"
    misfire_grace_seconds: int = Field(default=60, ge=0, le=24 * 3600)
    triggers: list[Trigger] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _references(self) -> WorkflowDefinition:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice; step ids must be unique")
            seen.add(step.id)
        for index, step in enumerate(self.steps):
            if isinstance(step, ConditionStep):
                for field_name in ("on_true", "on_false"):
                    target = getattr(step, field_name)
                    if target.startswith("goto:") and target[5:] not in seen:
                        raise ValueError(f"steps[{index}] ({step.id}).{field_name}: no step {target[5:]!r}")
        return self

    def step_index(self, step_id: str) -> int:
        return next(i for i, step in enumerate(self.steps) if step.id == step_id)

    @property
    def cron_triggers(self) -> list[CronTrigger]:
        return [t for t in self.triggers if isinstance(t, CronTrigger)]

    def file_triggers(self, event: str) -> list[FileTrigger]:
        return [t for t in self.triggers if isinstance(t, FileTrigger) and t.type == event]


def map_legacy(data: dict[str, Any]) -> dict[str, Any]:
    """The seed's shape → ours: ``config.steps``, ``cron_expression``, ``trigger_on_file_upload``, extensions."""
    data = dict(data)
    config = data.pop("config", None) or data.pop("workflow_config", None)
    if isinstance(config, dict) and "steps" not in data:
        data["steps"] = config.get("steps", [])
    triggers = list(data.get("triggers") or [])
    cron = data.pop("cron_expression", None) or data.pop("cron_schedule", None)
    timezone = data.pop("timezone", "UTC")
    data.pop("is_scheduled", None)
    if cron:
        triggers.append({"type": "cron", "expression": cron, "timezone": timezone})
    on_upload = data.pop("trigger_on_file_upload", False)
    extensions = data.pop("trigger_file_extensions", None) or []
    if on_upload:
        triggers.append({"type": "file_upload", "file_extensions": extensions})
    data["triggers"] = triggers
    data.pop("trigger_config", None)
    data["steps"] = [_legacy_step(step, i) for i, step in enumerate(data.get("steps") or [])]
    return data


def _legacy_step(step: Any, index: int) -> Any:
    """Seed steps may lack ids and call their kind ``action``; give them ``step_<n>`` and ``type``."""
    if not isinstance(step, dict):
        return step
    step = dict(step)
    if "type" not in step and "action" in step:
        step["type"] = step.pop("action")
    step.setdefault("id", f"step_{index + 1}")
    return step


def parse_definition(data: Any) -> WorkflowDefinition:
    """Validate ``data`` (ours or the seed's shape); :class:`PayloadError` naming each step and field at fault."""
    if not isinstance(data, dict):
        raise PayloadError("A workflow definition is a JSON object (or a YAML mapping).")
    try:
        return WorkflowDefinition.model_validate(map_legacy(data))
    except ValidationError as exc:
        raise PayloadError(f"Invalid workflow: {describe_errors(exc, data)}") from exc


def describe_errors(exc: ValidationError, data: Any) -> str:
    """``steps[1] (deck).service: Field required`` — the step's id next to its index, each problem once."""
    problems: list[str] = []
    for error in exc.errors():
        location = [part for part in error["loc"] if not (isinstance(part, str) and part in _STEP_TAGS)]
        problems.append(f"{_where(location, data)}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(dict.fromkeys(problems))


_STEP_TAGS = {"job", "file_process", "http", "log", "delay", "condition", "cron", "file_upload", "file_processed"}


def _where(location: list[Any], data: Any) -> str:
    if not location:
        return "workflow"
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    if len(location) >= 2 and location[0] == "steps" and isinstance(location[1], int):
        steps = data.get("steps") if isinstance(data, dict) else None
        if isinstance(steps, list) and location[1] < len(steps) and isinstance(steps[location[1]], dict):
            step_id = steps[location[1]].get("id")
            if step_id:
                text = text.replace(f"steps[{location[1]}]", f"steps[{location[1]}] ({step_id})", 1)
    return text
