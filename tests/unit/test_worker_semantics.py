"""Worker semantics on the in-memory backend (the same rules are proven on real backends in acceptance/)."""

from __future__ import annotations

import asyncio
import threading
import time

from praisonai_svc import JobContext, JobFailed, ServiceApp
from praisonai_svc.backend import memory_backend
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import JobRequest
from praisonai_svc.settings import Settings
from praisonai_svc.testing import arun_job, run_job
from praisonai_svc.worker import Worker


def fast(**extra: object) -> Settings:
    return Settings(worker_poll_interval_min=0.01, worker_poll_interval_max=0.05, retry_backoff_seconds=0,
                    **extra)  # type: ignore[arg-type]


def test_sync_async_dict_and_context_handlers():
    app = ServiceApp("S", settings=fast())
    seen: dict[str, object] = {}

    @app.job
    def plain(payload: dict) -> tuple[bytes, str, str]:
        return b"p", "text/plain", "p.txt"

    @app.job("with-ctx")
    async def with_ctx(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
        seen.update(job_id=ctx.job_id, attempt=ctx.attempt, service=ctx.service)
        ctx.logger.info("inside the handler")
        return bytearray(b"c"), "text/plain", "c.txt"

    assert run_job(app, {"a": 1}).data == b"p"
    outcome = run_job(app, {"a": 1}, service="with-ctx")
    assert outcome.data == b"c" and seen == {"job_id": outcome.job.job_id, "attempt": 1, "service": "with-ctx"}


def test_retry_then_success_keeps_attempt_count():
    app = ServiceApp("S", settings=fast())
    calls: list[int] = []

    @app.job
    def flaky(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
        calls.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("transient")
        return b"ok", "text/plain", "ok.txt"

    outcome = run_job(app, {})
    assert (outcome.status, outcome.attempts, calls) == ("done", 3, [1, 2, 3])
    assert outcome.job.retry_count == 2 and outcome.error_msg is None


def test_per_service_max_attempts_and_job_failed():
    app = ServiceApp("S", settings=fast())

    @app.job("once", max_attempts=1)
    def once(payload: dict) -> tuple[bytes, str, str]:
        raise ValueError("bad")

    @app.job("fatal")
    def fatal(payload: dict) -> tuple[bytes, str, str]:
        raise JobFailed("will never work")

    assert (run_job(app, {}, service="once").attempts, run_job(app, {}, service="fatal").attempts) == (1, 1)


def test_async_handler_timeout_cancels_it():
    app = ServiceApp("S", settings=fast())
    cancelled = threading.Event()

    @app.job(timeout_minutes=0.01)
    async def slow(payload: dict) -> tuple[bytes, str, str]:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b"", "text/plain", "x"

    started = time.monotonic()
    outcome = run_job(app, {})
    assert outcome.status == "error" and outcome.error_msg == "Job exceeded 0.01 minute timeout"
    assert time.monotonic() - started < 5
    assert cancelled.wait(2)


def test_progress_is_recorded_and_coalesced():
    app = ServiceApp("S", settings=fast())
    backend = memory_backend()
    snapshots: list[tuple[object, object]] = []

    @app.job
    def steps(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
        for i in range(200):
            ctx.progress(i / 200, f"step {i}")
        time.sleep(1.3)
        return b"x", "text/plain", "x.txt"

    async def scenario() -> None:
        task = asyncio.create_task(arun_job(app, {}, backend=backend))
        for _ in range(150):
            await asyncio.sleep(0.01)
            listing = await backend.jobs.list()
            if listing.jobs and listing.jobs[0].status.value == "processing" and listing.jobs[0].progress is not None:
                snapshots.append((listing.jobs[0].progress, listing.jobs[0].progress_msg))
        outcome = await task
        assert outcome.job.progress == 1.0

    asyncio.run(scenario())
    assert snapshots and snapshots[-1] == (199 / 200, "step 199")
    assert len(set(snapshots)) <= 3, "200 reports must collapse into a few writes"


def test_lease_is_renewed_for_jobs_longer_than_the_visibility_timeout():
    app = ServiceApp("S", settings=fast(queue_visibility_timeout=1))
    runs: list[int] = []

    @app.job
    def long_job(payload: dict) -> tuple[bytes, str, str]:
        runs.append(1)
        time.sleep(3)
        return b"x", "text/plain", "x.txt"

    async def scenario() -> None:
        backend = memory_backend()
        workers = [Worker(app, backend) for _ in range(2)]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        job = (await JobService(app, backend).submit(JobRequest(payload={}))).job
        while not (await backend.jobs.get(job.job_id)).status.is_terminal:  # noqa: ASYNC110 - polls storage
            await asyncio.sleep(0.05)
        for worker in workers:
            worker.stop()
        await asyncio.gather(*tasks)
        assert (await backend.jobs.get(job.job_id)).attempts == 1

    asyncio.run(scenario())
    assert runs == [1]


def test_reaper_fixes_only_jobs_stuck_past_the_limit():
    from datetime import timedelta

    from praisonai_svc.events import Event
    from praisonai_svc.models.job import Job, JobStatus, utcnow
    from praisonai_svc.worker.reaper import reap_stuck_jobs

    app = ServiceApp("S", settings=fast(max_job_duration_minutes=1, queue_visibility_timeout=10))

    @app.job
    def noop(payload: dict) -> tuple[bytes, str, str]:
        return b"", "text/plain", "x"

    async def scenario() -> tuple[Job, Job]:
        backend = memory_backend()
        now = utcnow()

        async def processing_since(seconds: float, n: int) -> Job:
            job = Job(job_id=f"job{n}", service="noop", payload={"n": n}, payload_hash=f"h{n}",
                      created_utc=now, updated_utc=now)
            job = await backend.jobs.create(job)
            started = now - timedelta(seconds=seconds)
            return await backend.jobs.update(job.model_copy(update={
                "status": JobStatus.PROCESSING, "attempts": 1, "started_utc": started}))

        stuck = await processing_since(60 + 2 * 10 + 61, 1)  # past limit + two leases + a minute
        running = await processing_since(30, 2)
        published: list[str] = []

        async def note(event: Event) -> None:
            published.append(f"{event.topic} {event.subject}")

        app.events.subscribe("job.*", note)
        assert await reap_stuck_jobs(app, backend) == 1
        assert published == ["job.error job1"]  # so its streams end and its webhooks go out
        return await backend.jobs.get(stuck.job_id), await backend.jobs.get(running.job_id)

    stuck, running = asyncio.run(scenario())
    assert stuck.status is JobStatus.ERROR and "timeout" in (stuck.error_msg or "")
    assert running.status is JobStatus.PROCESSING
