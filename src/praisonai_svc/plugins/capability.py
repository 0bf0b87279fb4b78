"""``@app.capability("image-thumbnail", category="image")``: a plugin from one function with a Pydantic input.

An ``async def`` runs on the event loop (it must not block); a plain ``def`` is CPU work and runs in the
process pool, so it must be defined at module level (the pool's processes import it by name).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel

from praisonai_svc.errors import ConfigError
from praisonai_svc.plugins.base import BasePlugin, Category, PluginConfig, ProcessingMode

CapabilityFunc = Callable[..., Any]


def input_model_of(func: CapabilityFunc) -> type[BaseModel]:
    params = list(inspect.signature(func).parameters.values())
    hints = typing.get_type_hints(func) if params else {}
    model = hints.get(params[0].name) if len(params) == 1 else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigError(f"Capability {func.__qualname__} must take one argument annotated with a Pydantic model.")
    return model


def _call_validated(func: CapabilityFunc, model: type[BaseModel], input: dict[str, Any]) -> Any:
    """What the pool's process runs: validate there too (the model instance is rebuilt from plain data)."""
    return func(model.model_validate(input))


def capability_plugin(
    func: CapabilityFunc, name: str, *, category: Category, display_name: str = "",
    processing_mode: ProcessingMode = ProcessingMode.SYNC, config: dict[str, Any] | None = None,
) -> BasePlugin:
    """A :class:`BasePlugin` instance whose ``process`` calls ``func`` with the validated input."""
    model = input_model_of(func)
    is_async = inspect.iscoroutinefunction(func)
    if not is_async and "<locals>" in func.__qualname__:
        raise ConfigError(f"Capability {func.__qualname__} is a plain def, so it runs in the process pool and must be "
                          f"defined at module level (or make it async def).")

    class FunctionPlugin(BasePlugin):
        input_model: ClassVar[type[BaseModel] | None] = model
        config_model: ClassVar[type[PluginConfig]] = PluginConfig

        async def process(self, input: dict[str, Any]) -> dict[str, Any]:
            if is_async:
                result = await func(model.model_validate(input))
            else:
                result = await self.runtime.run_cpu(_call_validated, func, model, input)
            if isinstance(result, BaseModel):
                result = result.model_dump(mode="json")
            if not isinstance(result, dict):
                raise TypeError(f"Capability {func.__qualname__} returned {type(result).__name__}, not a dict")
            return result

    FunctionPlugin.name = name
    FunctionPlugin.category = category
    FunctionPlugin.display_name = display_name or (func.__doc__ or "").strip().split("\n")[0] or name
    FunctionPlugin.description = (func.__doc__ or "").strip()
    FunctionPlugin.processing_mode = processing_mode
    FunctionPlugin.uses_process_pool = not is_async
    FunctionPlugin.__name__ = FunctionPlugin.__qualname__ = f"Capability_{func.__name__}"
    return FunctionPlugin(config)
