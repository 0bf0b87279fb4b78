"""Process one leased message: the job state machine of DESIGN.md §4.

queued ─receive→ processing ─ok→ done                       (ack)
                            ─raises, attempts left→ queued  (release with backoff)
                            ─raises last time / JobFailed / timeout→ error  (poison)
                            ─shutdown→ queued, attempt not counted  (release now)
A message whose job is already processing means the previous attempt's worker died (its lease expired): that
attempt counts, like Azure's dequeue count.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.context import JobContext
from praisonai_svc.errors import (
    ConcurrencyConflict,
    JobFailed,
    JobNotFound,
    JobTimeout,
    LeaseLost,
    StorageError,
    StorageUnavailable,
)
from praisonai_svc.filenames import safe_filename
from praisonai_svc.logs import JobLogger, job_logger
from praisonai_svc.models.job import Job, JobResult, JobStatus, utcnow
from praisonai_svc.ports import JobQueue, QueueMessage
from praisonai_svc.registry import HandlerOutput, HandlerSpec
from praisonai_svc.worker.backoff import retry_delay
from praisonai_svc.worker.execution import execute
from praisonai_svc.worker.lease import LeaseKeeper

ERROR_MSG_LIMIT = 10_000
BLOB_UPLOAD_ATTEMPTS = 3


def describe(exc: BaseException) -> str:
    """The message a client sees: the handler's own words, never a traceback."""
    if isinstance(exc, JobFailed | JobTimeout):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobRun:
    """One attempt of one job. Serialises its writes to the job record and always holds the newest ETag."""

    def __init__(self, job: Job, spec: HandlerSpec, backend: Backend, log: JobLogger) -> None:
        self.job = job
        self.spec = spec
        self.backend = backend
        self.log = log
        self._write_lock = asyncio.Lock()
        self._pending_progress: tuple[float | None, str | None] | None = None
        self._flush_scheduled = False
        self._last_flush = 0.0

    async def save(self, **changes: Any) -> None:
        async with self._write_lock:
            changes.setdefault("updated_utc", utcnow())
            self.job = await self.backend.jobs.update(self.job.model_copy(update=changes))

    # Progress from the handler thread is coalesced to at most one write a second; the last value wins.
    def progress_sink(self, loop: asyncio.AbstractEventLoop) -> Any:
        def sink(fraction: float | None, message: str | None) -> None:
            self._pending_progress = (fraction, message)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon_threadsafe(self._schedule_flush)

        return sink

    def _schedule_flush(self) -> None:
        delay = max(0.0, 1.0 - (time.monotonic() - self._last_flush))
        asyncio.get_running_loop().call_later(delay, lambda: asyncio.ensure_future(self._flush()))

    async def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending_progress = self._pending_progress, None
        if pending is None or self.job.status is not JobStatus.PROCESSING:
            return
        self._last_flush = time.monotonic()
        fraction, message = pending
        try:
            await self.save(progress=fraction if fraction is not None else self.job.progress,
                            progress_msg=message if message is not None else self.job.progress_msg)
        except StorageError as exc:  # progress is best effort; the outcome write is not
            self.log.warning("progress update failed", extra={"error": str(exc)})


class MessageProcessor:
    """Turns one leased message into exactly one outcome for its job."""

    def __init__(self, app: ServiceApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend
        self.settings = app.settings

    def _limits(self, spec: HandlerSpec) -> tuple[int, float]:
        attempts = spec.max_attempts or self.settings.max_retry_count
        timeout = spec.timeout_seconds or self.settings.max_job_duration_seconds
        return attempts, timeout

    async def process(self, spec: HandlerSpec, queue: JobQueue, message: QueueMessage) -> None:
        try:
            job = await self.backend.jobs.get(message.job_id)
        except JobNotFound:
            job_logger(spec.name, message.job_id, 0).warning("message for unknown job dropped")
            await _quietly(queue.ack(message))
            return
        if job.status.is_terminal:
            await _quietly(queue.ack(message))  # duplicate delivery of a finished job
            return
        max_attempts, timeout = self._limits(spec)
        attempt = job.attempts + 1
        log = job_logger(spec.name, job.job_id, attempt)
        if attempt > max_attempts:
            run = JobRun(job, spec, self.backend, log)
            await self._fail(run, queue, message, f"Job failed: its worker was lost on all {max_attempts} attempts")
            return
        try:
            job = await self.backend.jobs.update(job.model_copy(update={
                "status": JobStatus.PROCESSING, "attempts": attempt, "started_utc": utcnow(),
                "updated_utc": utcnow(), "progress": None, "progress_msg": None,
            }))
        except ConcurrencyConflict:
            log.info("job changed under us; will look again")
            await _quietly(queue.release(message, delay=1.0))
            return
        queue_wait = (job.started_utc - job.created_utc).total_seconds() if job.started_utc else 0.0
        log.info("job started", extra={"queue_wait_s": round(queue_wait, 3), "max_attempts": max_attempts})
        self.app.metrics.job_started(spec.name, queue_wait if attempt == 1 else None)
        with self.app.metrics.running(spec.name):
            await self._run(JobRun(job, spec, self.backend, log), queue, message, timeout, max_attempts)

    async def _run(
        self, run: JobRun, queue: JobQueue, message: QueueMessage, timeout: float, max_attempts: int
    ) -> None:
        keeper = LeaseKeeper(queue, message, self.settings.queue_visibility_timeout, run.log)
        keeper.start()
        ctx = JobContext(
            job_id=run.job.job_id, attempt=run.job.attempts, max_attempts=max_attempts, service=run.spec.name,
            logger=run.log, _sink=run.progress_sink(asyncio.get_running_loop()), tenant=run.job.tenant,
            backend=self.backend,
        )
        started = time.monotonic()
        try:
            payload = run.spec.validate_payload(run.job.payload)
            output = await execute(run.spec, payload, ctx, timeout)
        except asyncio.CancelledError:
            message = await keeper.stop()
            await asyncio.shield(self._release_on_shutdown(run, queue, message))
            raise
        except Exception as exc:
            message = await keeper.stop()
            await self._on_failure(run, queue, message, exc, max_attempts)
            return
        message = await keeper.stop()
        if keeper.lost:
            run.log.error("finished after losing its lease; result kept only if the job is still ours")
        await self._succeed(run, queue, message, output, time.monotonic() - started)

    async def _succeed(
        self, run: JobRun, queue: JobQueue, message: QueueMessage, output: HandlerOutput, elapsed: float
    ) -> None:
        filename = safe_filename(output.filename)
        blob_name = f"{run.spec.name}/{run.job.job_id}/{filename}"
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(BLOB_UPLOAD_ATTEMPTS), wait=wait_exponential(multiplier=1, min=1, max=9),
            retry=retry_if_exception_type(StorageUnavailable), reraise=True,
        ):
            with attempt:
                await self.backend.blobs.put(
                    blob_name, output.data, content_type=output.content_type, filename=filename
                )
        result = JobResult(blob_name=blob_name, content_type=output.content_type, filename=filename,
                           size=len(output.data))
        now = utcnow()
        await run.save(status=JobStatus.DONE, result=result, finished_utc=now, updated_utc=now, progress=1.0,
                       error_msg=None)
        await _quietly(queue.ack(message), run.log)
        run.log.info("job done", extra={"duration_s": round(elapsed, 3), "bytes": len(output.data)})
        self.app.metrics.job_finished(run.spec.name, JobStatus.DONE, elapsed)

    async def _on_failure(
        self, run: JobRun, queue: JobQueue, message: QueueMessage, exc: Exception, max_attempts: int
    ) -> None:
        reason = describe(exc)[:ERROR_MSG_LIMIT]
        final = isinstance(exc, JobFailed | JobTimeout) or run.job.attempts >= max_attempts
        if final:
            run.log.error("job failed", extra={"error": reason}, exc_info=not isinstance(exc, JobFailed | JobTimeout))
            await self._fail(run, queue, message, reason)
            return
        delay = retry_delay(run.job.attempts, self.settings.retry_backoff_seconds,
                            self.settings.retry_backoff_max_seconds)
        run.log.warning("attempt failed, will retry", extra={"error": reason, "retry_in_s": delay}, exc_info=True)
        self.app.metrics.job_retried(run.spec.name)
        await run.save(status=JobStatus.QUEUED, error_msg=f"Attempt {run.job.attempts} failed: {reason}"[
            :ERROR_MSG_LIMIT])
        await _quietly(queue.release(message, delay=delay), run.log)

    async def _fail(self, run: JobRun, queue: JobQueue, message: QueueMessage, reason: str) -> None:
        now = utcnow()
        await run.save(status=JobStatus.ERROR, error_msg=reason[:ERROR_MSG_LIMIT], finished_utc=now, updated_utc=now)
        await _quietly(queue.dead_letter(message, reason), run.log)
        ran = (now - run.job.started_utc).total_seconds() if run.job.started_utc else None
        self.app.metrics.job_finished(run.spec.name, JobStatus.ERROR, ran)
        self.app.metrics.job_poisoned(run.spec.name)

    async def _release_on_shutdown(self, run: JobRun, queue: JobQueue, message: QueueMessage) -> None:
        """Give the job back without spending an attempt: status queued, attempts as before this one."""
        try:
            await run.save(status=JobStatus.QUEUED, attempts=max(run.job.attempts - 1, 0), started_utc=None)
            await queue.release(message)
            run.log.info("job released on shutdown")
        except (StorageError, LeaseLost) as exc:
            run.log.warning("could not release job on shutdown; its lease will expire", extra={"error": str(exc)})


async def _quietly(awaitable: Any, log: JobLogger | None = None) -> None:
    """Queue housekeeping whose failure only means a harmless re-delivery later."""
    with contextlib.suppress(LeaseLost, StorageError):
        await awaitable
        return
    if log is not None:
        log.warning("queue housekeeping failed; the message may be delivered again (harmless)")
