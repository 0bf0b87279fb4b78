"""Core benchmarks on the embedded (local) backend, measured in one run on this machine.

1. POST /jobs throughput of our API as a ratio to a bare FastAPI endpoint validating the same body (target >= 0.5).
2. End-to-end jobs per second, no-op handler, one API process + one worker process (target >= 500 jobs/s).
3. Storage polls per minute of an idle worker after backoff (target <= 2), and how fast it still picks up work.

Run: .venv/bin/python bench/bench_core.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from common import BENCH, env_with, free_port, process, python, wrk


def post_throughput(seconds: int) -> tuple[float, float]:
    bare_port, ours_port = free_port(), free_port()
    bare_cmd = [python(), "-m", "uvicorn", "bare_fastapi:app", "--port", str(bare_port), "--log-level", "warning"]
    with process(bare_cmd, env_with(), f"http://127.0.0.1:{bare_port}/docs"):
        wrk(f"http://127.0.0.1:{bare_port}", 2)  # warm-up
        bare = wrk(f"http://127.0.0.1:{bare_port}", seconds)
    with tempfile.TemporaryDirectory() as data:
        ours_cmd = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(ours_port)]
        with process(ours_cmd, env_with(PRAISONAI_DATA_DIR=data), f"http://127.0.0.1:{ours_port}/live"):
            wrk(f"http://127.0.0.1:{ours_port}", 2)
            ours = wrk(f"http://127.0.0.1:{ours_port}", seconds)
    return bare, ours


def end_to_end(seconds: int) -> tuple[float, int, float]:
    """Submit with wrk for ``seconds``, then wait until every job is done.

    Returns (jobs/s end to end = jobs / time from first submit to last done, jobs, submit rate).
    """
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = env_with(PRAISONAI_DATA_DIR=data, PRAISONAI_WORKER_CONCURRENCY="32",
                       PRAISONAI_WORKER_POLL_INTERVAL_MIN="0.05", PRAISONAI_WORKER_POLL_INTERVAL_MAX="0.5")
        api = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(port)]
        worker = [python(), "-m", "praisonai_svc", "worker", "noop_service.py"]
        with process(api, env, f"http://127.0.0.1:{port}/live"), process(worker, env):
            time.sleep(1.0)
            db = sqlite3.connect(Path(data) / "praisonai.sqlite3")
            started = time.perf_counter()
            submit_rate = wrk(f"http://127.0.0.1:{port}", seconds)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # requests in flight when wrk stopped still land: recount
                jobs, finished = db.execute(
                    "SELECT count(*), count(*) FILTER (WHERE status IN ('done', 'error')) FROM jobs").fetchone()
                if jobs == finished:
                    break
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            failed = db.execute("SELECT status, doc FROM jobs WHERE status != 'done' LIMIT 3").fetchall()
            assert not failed, f"jobs did not finish: {failed}"
    return jobs / elapsed, jobs, submit_rate


def idle_polls(window: float) -> tuple[float, float]:
    """(polls per minute once backed off, seconds an idle worker takes to start a new job)."""
    from praisonai_svc import ServiceApp
    from praisonai_svc.backend import open_backend
    from praisonai_svc.job_service import JobService
    from praisonai_svc.models.job import JobRequest
    from praisonai_svc.settings import Settings
    from praisonai_svc.worker import Worker

    async def scenario(data: str) -> tuple[float, float]:
        app = ServiceApp("Idle", settings=Settings(data_dir=Path(data)))  # default 1 s -> 30 s backoff

        @app.job
        def noop(payload: dict) -> tuple[bytes, str, str]:
            return b"", "text/plain", "x"

        backend = await open_backend(app.settings)
        worker = Worker(app, backend)
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(70)  # 1+2+4+8+16+30 s: fully backed off
        polls_before = worker.stats.polls
        await asyncio.sleep(window)
        per_minute = (worker.stats.polls - polls_before) * 60 / window
        job = (await JobService(app, backend).submit(JobRequest(payload={}))).job
        submitted = time.perf_counter()
        # Measures pickup as a client sees it (the job's stored status), not an in-process signal.
        while (await backend.jobs.get(job.job_id)).status.value != "done":  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        pickup = time.perf_counter() - submitted
        worker.stop()
        await task
        await backend.close()
        return per_minute, pickup

    with tempfile.TemporaryDirectory() as data:
        return asyncio.run(scenario(data))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs (less stable figures)")
    args = parser.parse_args()
    seconds, window = (5, 60) if args.quick else (10, 120)
    print(f"bench_core: measured in one run on this machine ({BENCH})")
    bare, ours = post_throughput(seconds)
    print(f"[1] POST /jobs: bare FastAPI {bare:,.0f} req/s, praisonai-svc {ours:,.0f} req/s "
          f"-> ratio {ours / bare:.2f} (target >= 0.5)")
    rate, jobs, submit_rate = end_to_end(seconds)
    print(f"[2] end to end: {jobs} no-op jobs, 1 API + 1 worker process: {rate:,.0f} jobs/s "
          f"(submitted at {submit_rate:,.0f}/s by wrk) (target >= 500 jobs/s)")
    per_minute, pickup = idle_polls(window)
    print(f"[3] idle worker: {per_minute:.1f} storage polls/minute after backoff (target <= 2); "
          f"a job submitted to the backed-off worker finished {pickup * 1000:.0f} ms later")


if __name__ == "__main__":
    main()
