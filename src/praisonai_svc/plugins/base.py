"""The plugin model (seed 004's shape): a named capability with input validation, ``process()`` and a health
check, answered synchronously by the API or run as a job by the worker."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from praisonai_svc.errors import ConfigError, PraisonSvcError

if TYPE_CHECKING:
    from praisonai_svc.plugins.runtime import PluginRuntime

Category = Literal["image", "video", "document", "ai", "storage"]
CATEGORIES: tuple[str, ...] = ("image", "video", "document", "ai", "storage")
DEFAULT_MAX_FILE_SIZE = 50 * 1024 * 1024


class ProcessingMode(enum.StrEnum):
    """SYNC: ``POST /api/v1/...`` answers with the result. ASYNC: it queues a job and answers 202."""

    SYNC = "sync"
    ASYNC = "async"


class PluginConfig(BaseModel):
    """Settings every plugin has; a plugin's ``config_model`` subclasses this with its own."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    sync_timeout_seconds: float = Field(30.0, gt=0, description="Time budget of one synchronous call (504 after).")
    max_file_size: int = Field(DEFAULT_MAX_FILE_SIZE, ge=1, description="Largest input (download or upload), bytes.")


@dataclass(frozen=True)
class Upload:
    """A file sent as the multipart field ``file`` (the API puts it in the input under ``"file"``)."""

    data: bytes
    filename: str
    content_type: str


def first_problem(exc: ValidationError, prefix: str = "") -> str:
    """The seed's style of message for the first problem: ``Missing required parameter: image_url``."""
    error = exc.errors()[0]
    where = prefix + ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"Missing required parameter: {where}"
    return f"Invalid parameter {where}: {message}" if error["loc"] else message


class BasePlugin(ABC):
    """Subclass, set the class attributes, implement :meth:`process`; register with ``app.register_plugin``.

    ``name`` is ``{category}-{action}`` and is served at ``POST /api/v1/{category}/{action}``; it is also the
    name of the plugin's job service (``POST /jobs`` with ``"service": name``). ``input_model`` (optional) gives
    the OpenAPI schema and the default :meth:`validate_input`. Inside :meth:`process`, ``self.runtime`` offers the
    safe fetcher, the CPU process pool and the output store.
    """

    name: ClassVar[str]
    display_name: ClassVar[str] = ""
    category: ClassVar[Category]
    processing_mode: ClassVar[ProcessingMode] = ProcessingMode.SYNC
    description: ClassVar[str] = ""
    config_model: ClassVar[type[PluginConfig]] = PluginConfig
    input_model: ClassVar[type[BaseModel] | None] = None
    # Whether process() uses runtime.run_cpu: the API then starts the pool's processes at start-up.
    uses_process_pool: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any] | PluginConfig | None = None) -> None:
        self._runtime: PluginRuntime | None = None
        self._code_config: dict[str, Any] = (
            config.model_dump(exclude_unset=True) if isinstance(config, BaseModel) else dict(config or {})
        )
        self.config: PluginConfig = self._validated(self._code_config, "its constructor")

    # --- configuration -------------------------------------------------------------------------------------
    def _validated(self, values: Mapping[str, Any], source: str) -> PluginConfig:
        try:
            return self.config_model.model_validate(dict(values))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"Invalid configuration of plugin '{self.name}' from {source}: {problems}") from None

    def configure(self, values: Mapping[str, Any], source: str = "the configuration") -> None:
        """Apply file settings on top of the constructor's (the file wins, key by key)."""
        self.config = self._validated({**self._code_config, **values}, source)

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self.config = self.config.model_copy(update={"enabled": value})

    # --- runtime -------------------------------------------------------------------------------------------
    @property
    def runtime(self) -> PluginRuntime:
        if self._runtime is None:
            raise PraisonSvcError(f"Plugin '{self.name}' is not started: register it with app.register_plugin().")
        return self._runtime

    def bind(self, runtime: PluginRuntime | None) -> None:
        self._runtime = runtime

    # --- the capability ------------------------------------------------------------------------------------
    @abstractmethod
    async def process(self, input: dict[str, Any]) -> dict[str, Any]:
        """Do the work; return the JSON-able ``data`` of the answer. Raise PayloadError (400), FetchFailed
        (502) or PayloadTooLarge (413) for the client's mistakes; anything else is a 500."""

    def validate_input(self, input: dict[str, Any]) -> tuple[bool, str | None]:
        """(True, None), or (False, the message the client gets with a 400)."""
        if self.input_model is None:
            return True, None
        try:
            self.input_model.model_validate(input)
        except ValidationError as exc:
            return False, first_problem(exc)
        return True, None

    async def health_check(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, enabled={self.enabled})"
