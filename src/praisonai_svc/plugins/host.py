"""The app's plugins: registration, configuration, the per-process runtime, and running one call.

``ServiceApp.plugins`` is a :class:`PluginHost`. The API lifespan and every worker call :meth:`start` with
their backend (and :meth:`stop` at the end); in between, :meth:`call` runs a plugin with its time budget.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from praisonai_svc.context import JobContext
from praisonai_svc.errors import (
    ConfigError,
    FetchRefused,
    JobFailed,
    PayloadError,
    PluginDisabled,
    PluginNotFound,
    PluginTimeout,
)
from praisonai_svc.logs import get_logger
from praisonai_svc.net import AllowList, SafeFetcher
from praisonai_svc.plugins.base import CATEGORIES, BasePlugin
from praisonai_svc.plugins.config import PluginSection
from praisonai_svc.plugins.cpu import CpuPool, Preload
from praisonai_svc.plugins.health import HealthCache
from praisonai_svc.plugins.outputs import OutputStore
from praisonai_svc.plugins.runtime import PluginRuntime
from praisonai_svc.registry import HandlerOutput

if TYPE_CHECKING:
    from praisonai_svc.ports import BlobStore
    from praisonai_svc.settings import Settings

log = get_logger("plugins")
_ACTION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


def check_plugin(plugin: BasePlugin) -> None:
    """Refuse a plugin whose class attributes cannot be served (ConfigError naming the fix)."""
    name = getattr(plugin, "name", None)
    category = getattr(plugin, "category", None)
    if category not in CATEGORIES:
        raise ConfigError(f"Plugin {type(plugin).__name__}: category must be one of {', '.join(CATEGORIES)}.")
    if not isinstance(name, str) or not name.startswith(f"{category}-") or not _ACTION.match(name):
        raise ConfigError(
            f"Plugin {type(plugin).__name__}: name must be '{category}-<action>' (lowercase letters, digits, "
            f"hyphens), so that it is served at /api/v1/{category}/<action>; got {name!r}."
        )


class PluginHost:
    def __init__(self) -> None:
        self.plugins: dict[str, BasePlugin] = {}
        self.health = HealthCache()
        self.runtime: PluginRuntime | None = None
        self._users = 0
        self._lock = asyncio.Lock()

    def __bool__(self) -> bool:
        return bool(self.plugins)

    def __iter__(self) -> Iterator[BasePlugin]:
        return iter(list(self.plugins.values()))

    def add(self, plugin: BasePlugin) -> None:
        check_plugin(plugin)
        if plugin.name in self.plugins:
            raise ConfigError(f"Plugin '{plugin.name}' is registered twice.")
        self.plugins[plugin.name] = plugin

    def find(self, category: str, action: str) -> BasePlugin:
        """The plugin served at /api/v1/{category}/{action}: PluginNotFound (501), PluginDisabled (503)."""
        plugin = self.plugins.get(f"{category}-{action}")
        if plugin is None or plugin.category != category:
            raise PluginNotFound()
        if not plugin.enabled:
            raise PluginDisabled(f"Plugin '{plugin.name}' is disabled; enable it in the plugins: configuration.")
        return plugin

    # --- configuration -------------------------------------------------------------------------------------
    def configure(self, sections: Mapping[str, PluginSection]) -> None:
        """Apply the YAML files' plugin settings; a section naming no registered plugin is refused."""
        for name, section in sections.items():
            plugin = self.plugins.get(name)
            if plugin is None:
                close = difflib.get_close_matches(name, list(self.plugins), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                known = ", ".join(self.plugins) or "none"
                raise ConfigError(f"{section.source}: no plugin '{name}' is registered.{hint} Registered: {known}.")
            plugin.configure(section.values, section.source)

    # --- lifecycle (one runtime per process, shared by the API and an embedded worker) ---------------------
    async def start(
        self, blobs: BlobStore, settings: Settings, sections: Mapping[str, PluginSection], *,
        preload: Preload | None = None,
    ) -> None:
        """Configure the plugins from their file ``sections`` and give them a runtime on ``blobs``;
        ``preload`` runs in each pool process first (see :class:`CpuPool`)."""
        async with self._lock:
            self._users += 1
            if self._users > 1 or not self.plugins:
                return
            self.configure(sections)
            self.runtime = PluginRuntime(
                fetcher=SafeFetcher(AllowList(settings.fetch_allowed_hosts)),
                pool=CpuPool(settings.plugin_workers, preload=preload),
                outputs=OutputStore(blobs, public_base=settings.public_blob_base,
                                    link_lifetime=timedelta(seconds=settings.download_url_expiry_seconds)),
                fetch_timeout_seconds=settings.fetch_timeout_seconds,
            )
            for plugin in self.plugins.values():
                plugin.bind(self.runtime)
            log.info("plugins started", extra={"plugins": list(self.plugins)})

    async def warm_up(self) -> None:
        """Start the process pool's children now (the API does, so the first request does not wait)."""
        if self.runtime is not None and any(plugin.uses_process_pool for plugin in self.plugins.values()):
            await self.runtime.pool.start()

    async def stop(self) -> None:
        async with self._lock:
            self._users = max(self._users - 1, 0)
            if self._users or self.runtime is None:
                return
            runtime, self.runtime = self.runtime, None
            for plugin in self.plugins.values():
                plugin.bind(None)
            await runtime.close()

    # --- running -------------------------------------------------------------------------------------------
    async def call(self, plugin: BasePlugin, input: dict[str, Any]) -> dict[str, Any]:
        """Validate, then process within ``sync_timeout_seconds``: PayloadError (400), PluginTimeout (504)."""
        ok, problem = plugin.validate_input(input)
        if not ok:
            raise PayloadError(problem or "Invalid input")
        budget = plugin.config.sync_timeout_seconds
        try:
            async with asyncio.timeout(budget):
                result = await plugin.process(input)
        except TimeoutError:
            raise PluginTimeout(f"Plugin '{plugin.name}' did not finish within {budget:g} s; "
                                f"send large inputs with ?mode=async.") from None
        if not isinstance(result, dict):
            raise TypeError(f"Plugin '{plugin.name}' returned {type(result).__name__}, not a dict")
        return result

    def job_handler(self, plugin: BasePlugin) -> Callable[[Any, JobContext], Awaitable[HandlerOutput]]:
        """The job service of ``plugin``: runs it on the worker's loop; the job's output is the JSON answer."""

        async def run_plugin_job(payload: Any, context: JobContext) -> HandlerOutput:
            # The job spec validates against the plugin's input model; process() takes the plain input.
            data = payload.model_dump(mode="json", exclude_unset=True) if isinstance(payload, BaseModel) else payload
            started = time.perf_counter()
            try:
                ok, problem = plugin.validate_input(data)
                if not ok:
                    raise PayloadError(problem or "Invalid input")
                result = await plugin.process(data)
            except (PayloadError, FetchRefused) as exc:  # no retry can help these
                raise JobFailed(exc.message) from exc
            answer = {"success": True, "data": result,
                      "execution_time_ms": round((time.perf_counter() - started) * 1000)}
            return HandlerOutput(json.dumps(answer).encode(), "application/json", f"{plugin.name}.json")

        run_plugin_job.__name__ = f"plugin_{plugin.name.replace('-', '_')}"
        return run_plugin_job
