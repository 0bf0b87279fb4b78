"""The app bench_services.py runs: two job services and a background ticker.

``ppt`` sleeps ``seconds`` (default 0.05); ``other`` returns at once (absent with ``BENCH_SECOND_SERVICE=0``).
The ticker appends the time to ``$BENCH_TICK_DIR/<pid>`` every 0.1 s while it runs; it runs on
``$BENCH_TICKER_RUNS_ON`` (default ``one``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any

from praisonai_svc import ServiceApp
from praisonai_svc.services import Service

app = ServiceApp("Services bench")


@app.job("ppt")
def ppt(payload: dict[str, Any]) -> tuple[bytes, str, str]:
    time.sleep(float(payload.get("seconds", 0.05)))
    return b"ppt", "text/plain", "ppt.txt"


async def other(payload: dict[str, Any]) -> tuple[bytes, str, str]:
    return b"other", "text/plain", "other.txt"


if os.environ.get("BENCH_SECOND_SERVICE", "1") != "0":
    app.job("other")(other)


class Ticker(Service):
    async def start(self) -> None:
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        directory = os.environ.get("BENCH_TICK_DIR")
        while True:
            if directory:
                with (Path(directory) / str(os.getpid())).open("a") as handle:
                    handle.write(f"{time.time()}\n")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


app.register_service(Ticker, "ticker", runs_on=os.environ.get("BENCH_TICKER_RUNS_ON", "one"))  # type: ignore[arg-type]
