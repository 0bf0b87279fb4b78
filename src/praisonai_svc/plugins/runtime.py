"""What a running plugin may use: the safe fetcher, the CPU process pool and the output store.

One runtime per process (API or worker), built from that process's backend when it starts; plugins reach it
as ``self.runtime``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from praisonai_svc.errors import FetchFailed, FetchRefused
from praisonai_svc.net import Fetched, FetchLimits, SafeFetcher
from praisonai_svc.plugins.cpu import CpuPool
from praisonai_svc.plugins.outputs import OutputStore, StoredOutput

T = TypeVar("T")


@dataclass
class PluginRuntime:
    fetcher: SafeFetcher
    pool: CpuPool
    outputs: OutputStore
    fetch_timeout_seconds: float = 30.0

    async def download(self, url: str, *, max_bytes: int, what: str = "file") -> Fetched:
        """Fetch ``url`` safely; failures read ``Failed to download <what>: <reason>`` (502), an input over
        ``max_bytes`` is a PayloadTooLarge (413)."""
        limits = FetchLimits(max_bytes=max_bytes, total_timeout=self.fetch_timeout_seconds)
        try:
            return await self.fetcher.fetch(url, limits)
        except FetchRefused as exc:
            raise FetchRefused(f"Failed to download {what}: {exc.message}") from None
        except FetchFailed as exc:
            raise FetchFailed(f"Failed to download {what}: {exc.message}") from None

    async def run_cpu(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func(*args)`` in the process pool (module-level function, picklable arguments)."""
        return await self.pool.run(func, *args)

    async def store_output(self, data: bytes, filename: str, content_type: str) -> StoredOutput:
        return await self.outputs.store(data, filename, content_type)

    async def close(self) -> None:
        await self.fetcher.close()
        await self.pool.close()
