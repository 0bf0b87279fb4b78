"""A job service plus a background service: ``report`` jobs summarise what the ``ticker`` has counted.

    praisonai-svc run handlers.py --workers 2        # reads praisonai.yaml beside this file
    praisonai-svc services list
    curl -s localhost:8080/services/ticker/count

``ticker`` runs in exactly one process of the deployment (``runs_on="one"``): however many API replicas and
workers run, one of them counts; if that process dies, another takes over within the lease (30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from fastapi import APIRouter
from pydantic import BaseModel, Field

from praisonai_svc import JobContext, ServiceApp
from praisonai_svc.services import Service

app = ServiceApp("Ticker example")


class TickerConfig(BaseModel):
    interval_seconds: float = Field(5.0, gt=0, description="Seconds between ticks")
    label: str = "tick"


ticker_routes = APIRouter()


@app.service("ticker", runs_on="one")
class Ticker(Service):
    """Counts ticks while it runs; GET /services/ticker/count shows the count (in the process that leads)."""

    config_model = TickerConfig
    router = ticker_routes

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.logger.info("ticker starting", extra={"interval_s": self.config.interval_seconds})
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval_seconds)
            self.count += 1
            self.status.metadata["count"] = self.count

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@ticker_routes.get("/count")
async def count() -> dict[str, int]:
    ticker = app.background["ticker"].service
    assert isinstance(ticker, Ticker)
    return {"count": ticker.count}


class ReportConfig(BaseModel):
    heading: str = "Report"


@app.job("report", config_model=ReportConfig)
def report(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
    """Writes a small JSON report; its heading comes from praisonai.yaml (context.config)."""
    body = {"heading": ctx.config.heading, "payload": payload, "at": time.time()}
    return json.dumps(body).encode(), "application/json", "report.json"
