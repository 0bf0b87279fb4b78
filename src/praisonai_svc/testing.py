"""Test helpers for handler authors: run jobs end to end in memory, with the real worker semantics.

    from praisonai_svc.testing import run_job
    outcome = run_job(app, {"title": "x"})
    assert outcome.status == "done"
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from praisonai_svc.adapters.memory import MemoryBlobStore, MemoryJobQueue, MemoryJobStore
from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend, memory_backend
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import Job, JobRequest, output_files
from praisonai_svc.worker import Worker

FAST_TEST_SETTINGS = {
    "worker_poll_interval_min": 0.01, "worker_poll_interval_max": 0.05, "retry_backoff_seconds": 0.0,
}


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended, and its output when it is done: ``data`` of a single-file job, ``files`` (name → bytes)
    of every job (a multi-file job has ``data`` None)."""

    job: Job
    data: bytes | None
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.job.status.value

    @property
    def error_msg(self) -> str | None:
        return self.job.error_msg

    @property
    def attempts(self) -> int:
        return self.job.attempts

    @property
    def filename(self) -> str | None:
        return self.job.result.filename if self.job.result else None

    @property
    def content_type(self) -> str | None:
        return self.job.result.content_type if self.job.result else None


async def arun_job(
    app: ServiceApp, payload: dict[str, object], *, service: str | None = None, timeout: float = 60.0,
    backend: Backend | None = None,
) -> JobOutcome:
    """Submit ``payload`` and run a worker on an in-memory backend until the job is done or error."""
    backend = backend or memory_backend()
    original = app.settings
    app.settings = original.model_copy(update=FAST_TEST_SETTINGS)
    worker = Worker(app, backend)
    runner = asyncio.create_task(worker.run())
    try:
        submission = await JobService(app, backend).submit(JobRequest(payload=payload, service=service))
        job = await _wait_terminal(backend, submission.job.job_id, timeout)
        files = {output.filename: await backend.blobs.open(output.blob_name) for output in output_files(job)}
        data = files[job.result.filename] if job.result else None
        return JobOutcome(job=job, data=data, files=files)
    finally:
        worker.stop()
        await runner
        app.settings = original


async def _wait_terminal(backend: Backend, job_id: str, timeout: float) -> Job:
    async with asyncio.timeout(timeout):
        while True:
            job = await backend.jobs.get(job_id)
            if job.status.is_terminal:
                return job
            await asyncio.sleep(0.01)


def run_job(app: ServiceApp, payload: dict[str, object], **kwargs: object) -> JobOutcome:
    """Synchronous :func:`arun_job` for plain pytest tests."""
    return asyncio.run(arun_job(app, payload, **kwargs))  # type: ignore[arg-type]


__all__ = [
    "JobOutcome", "MemoryBlobStore", "MemoryJobQueue", "MemoryJobStore", "arun_job", "memory_backend", "run_job",
]
