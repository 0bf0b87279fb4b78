"""Worker drain rate on the local backend: pre-fill N no-op jobs in-process, then time one worker draining them.

Used to profile the worker (``py-spy record -- .venv/bin/python bench/drain.py``) without an API process.
Run: .venv/bin/python bench/drain.py [--jobs 5000] [--concurrency N] [--async-handler]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def _app(data: str, concurrency: int | None, use_async: bool, synchronous: str):  # type: ignore[no-untyped-def]
    from praisonai_svc import ServiceApp
    from praisonai_svc.settings import Settings

    options: dict = {"worker_concurrency": concurrency} if concurrency else {}
    options["sqlite_synchronous"] = synchronous
    app = ServiceApp("Drain", settings=Settings(data_dir=Path(data), worker_poll_interval_min=0.05,
                                                worker_poll_interval_max=0.5, **options))
    if use_async:
        @app.job("noop")
        async def noop_async(payload: dict) -> tuple[bytes, str, str]:
            return b"ok", "text/plain", "ok.txt"
    else:
        @app.job("noop")
        def noop(payload: dict) -> tuple[bytes, str, str]:
            return b"ok", "text/plain", "ok.txt"
    return app


async def fill(app, jobs: int) -> float:  # type: ignore[no-untyped-def]
    from praisonai_svc.backend import open_backend
    from praisonai_svc.job_service import JobService
    from praisonai_svc.models.job import JobRequest

    backend = await open_backend(app.settings)
    service = JobService(app, backend)
    started = time.perf_counter()
    for start in range(0, jobs, 200):
        await asyncio.gather(*(service.submit(JobRequest(payload={"i": i}))
                               for i in range(start, min(start + 200, jobs))))
    elapsed = time.perf_counter() - started
    await backend.close()
    return elapsed


async def drain(app, jobs: int) -> float:  # type: ignore[no-untyped-def]
    from praisonai_svc.worker import Worker

    worker = Worker(app)
    db = sqlite3.connect(Path(app.settings.data_dir) / "praisonai.sqlite3")
    started = time.perf_counter()
    cpu = time.process_time()
    task = asyncio.create_task(worker.run())
    while True:
        await asyncio.sleep(0.02)
        done = db.execute("SELECT count(*) FROM jobs WHERE status IN ('done','error')").fetchone()[0]
        if done >= jobs:
            break
    elapsed = time.perf_counter() - started
    DRAIN_CPU.append(time.process_time() - cpu)
    worker.stop()
    await task
    return elapsed


DRAIN_CPU: list[float] = []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--async-handler", action="store_true")
    parser.add_argument("--synchronous", choices=["normal", "full"], default="normal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        app = _app(data, args.concurrency, args.async_handler, args.synchronous)
        fill_s = asyncio.run(fill(app, args.jobs))
        drain_s = asyncio.run(drain(app, args.jobs))
    cpu_ms = DRAIN_CPU[0] * 1000 / args.jobs
    concurrency = app.settings.worker_concurrency or "default"
    print(f"fill {args.jobs / fill_s:,.0f} jobs/s; drain {args.jobs / drain_s:,.0f} jobs/s ({cpu_ms:.2f} CPU ms per "
          f"job; concurrency {concurrency}, synchronous {args.synchronous}, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
