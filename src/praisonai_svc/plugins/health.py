"""Plugin health for ``GET /api/v1/health``: every check runs with a timeout, and answers are reused for a few
seconds so that probes (and a crowd of them) cost the plugins nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from praisonai_svc.logs import get_logger
from praisonai_svc.plugins.base import BasePlugin

log = get_logger("plugins")
CHECK_TIMEOUT_SECONDS = 2.0
CACHE_SECONDS = 5.0


async def _healthy(plugin: BasePlugin, timeout: float) -> bool:
    if not plugin.enabled:
        return False
    try:
        return bool(await asyncio.wait_for(plugin.health_check(), timeout))
    except Exception as exc:  # a failing check means unhealthy, never a failing health endpoint
        log.warning("plugin health check failed", extra={"plugin": plugin.name, "error": repr(exc)})
        return False


class HealthCache:
    def __init__(self, *, ttl: float = CACHE_SECONDS, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._at = float("-inf")
        self._answer: list[dict[str, Any]] = []
        self._refreshing: asyncio.Task[list[dict[str, Any]]] | None = None

    async def report(self, plugins: list[BasePlugin]) -> list[dict[str, Any]]:
        """One entry per plugin: name, display_name, category, enabled, healthy."""
        if time.monotonic() - self._at < self.ttl:
            return self._answer
        if self._refreshing is None or self._refreshing.done():  # concurrent callers share one refresh
            self._refreshing = asyncio.ensure_future(self._refresh(plugins))
        return await asyncio.shield(self._refreshing)

    async def _refresh(self, plugins: list[BasePlugin]) -> list[dict[str, Any]]:
        results = await asyncio.gather(*(_healthy(plugin, self.timeout) for plugin in plugins))
        self._answer = [
            {"name": p.name, "display_name": p.display_name or p.name, "category": p.category, "enabled": p.enabled,
             "healthy": ok}
            for p, ok in zip(plugins, results, strict=True)
        ]
        self._at = time.monotonic()
        return self._answer
