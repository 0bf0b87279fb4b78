"""The app the services acceptance tests start with the real CLI (its praisonai.yaml sits beside it).

``ticker`` (runs_on="one") appends ``<time>`` to ``<tick_dir>/<pid>`` every 0.1 s while it runs, so a test can
prove that exactly one process ran it at any time; ``broken`` fails to start; ``video`` is disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

from pydantic import BaseModel

from praisonai_svc import ServiceApp
from praisonai_svc.services import Service

app = ServiceApp("Services acceptance")


@app.job("work")
def work(payload: dict) -> tuple[bytes, str, str]:
    time.sleep(float(payload.get("seconds", 0)))
    return b"work", "text/plain", "work.txt"


@app.job("other")
def other(payload: dict) -> tuple[bytes, str, str]:
    return b"other", "text/plain", "other.txt"


@app.job("video")
def video(payload: dict) -> tuple[bytes, str, str]:
    return b"video", "text/plain", "video.txt"


class TickerConfig(BaseModel):
    tick_dir: str
    interval_seconds: float = 0.1


@app.service("ticker", runs_on="one")
class Ticker(Service):
    config_model = TickerConfig

    async def start(self) -> None:
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        path = Path(self.config.tick_dir) / str(os.getpid())
        while True:
            with path.open("a") as handle:
                handle.write(f"{time.time()}\n")
            await asyncio.sleep(self.config.interval_seconds)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@app.service("broken", runs_on="api")
class Broken(Service):
    async def start(self) -> None:
        raise RuntimeError("cannot reach the printer")

    async def stop(self) -> None:
        pass
