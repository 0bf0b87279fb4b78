"""Process one leased message: the job state machine of DESIGN.md §4.

queued ─receive→ processing ─ok→ done                       (ack)
                            ─raises, attempts left→ queued  (release with backoff)
                            ─raises last time / JobFailed / timeout→ error  (poison)
                            ─cancelled (POST /jobs/{id}/cancel)→ cancelled  (ack; never retried)
                            ─shutdown→ queued, attempt not counted  (release now)
A message whose job is already processing means the previous attempt's worker died (its lease expired): that
attempt counts, like Azure's dequeue count.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.context import JobContext
from praisonai_svc.errors import (
    ConcurrencyConflict,
    JobCancelled,
    JobDeferred,
    JobFailed,
    JobNotFound,
    JobTimeout,
    LeaseLost,
    StorageError,
    StorageUnavailable,
)
from praisonai_svc.events.bus import Event, EventBus
from praisonai_svc.events.job_events import JobEventType, job_event
from praisonai_svc.logs import JobLogger, job_logger
from praisonai_svc.models.job import Job, JobResult, JobStatus, StoredOutput, utcnow
from praisonai_svc.outputs import PendingOutput
from praisonai_svc.outputs.store import remove_outputs, store_outputs
from praisonai_svc.ports import JobQueue, QueueMessage
from praisonai_svc.registry import HandlerSpec
from praisonai_svc.usage.meter import Meter
from praisonai_svc.webhooks.intents import write_intent_if_owed
from praisonai_svc.worker.backoff import retry_delay
from praisonai_svc.worker.batching import JobBatches
from praisonai_svc.worker.cancellation import CancelWatcher
from praisonai_svc.worker.execution import execute
from praisonai_svc.worker.lease import LeaseKeeper

ERROR_MSG_LIMIT = 10_000
BLOB_UPLOAD_ATTEMPTS = 3
# A job's ``started`` event is published this long after it starts, or with its next event if that comes first
# (a progress event flushes it at once): a short job's two events then share one entry of the event feed.
# (A first attempt's started and ending cost no event-log write at all: the job record implies them, events/log.py.)
STARTED_EVENT_DELAY_SECONDS = 0.05
_DEFERRED: set[asyncio.Future[None]] = set()  # deferred started events being published (kept referenced)


def describe(exc: BaseException) -> str:
    """The message a client sees: the handler's own words, never a traceback."""
    if isinstance(exc, JobFailed | JobTimeout):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobRun:
    """One attempt of one job. Serialises its writes to the job record and always holds the newest ETag."""

    def __init__(self, job: Job, spec: HandlerSpec, backend: Backend, log: JobLogger, bus: EventBus | None = None,
                 event_interval: float = 0.2, batches: JobBatches | None = None) -> None:
        self.job = job
        self.spec = spec
        self.backend = backend
        self.batches = batches or JobBatches(backend.jobs)  # shared by the worker's runs: one write per turn
        self.log = log
        self.bus = bus or EventBus()
        self._write_lock = asyncio.Lock()
        self._pending_progress: tuple[float | None, str | None] | None = None
        self._flush_scheduled = False
        self._last_flush = 0.0
        self.handler_seconds = 0.0  # how long this attempt's handler ran (set when it ends)
        self._event_interval = event_interval
        self._pending_event: tuple[float | None, str | None] | None = None
        self._event_scheduled = False
        self._last_event = 0.0
        self._event_lock = asyncio.Lock()
        self._started: Event | None = None  # the started event, until it is published
        self._started_timer: asyncio.TimerHandle | None = None

    async def record_receipt(self, message: QueueMessage) -> None:
        """Keep the newest pop receipt in the row, so crash recovery can release the lease (best effort)."""
        if self.job.status is not JobStatus.PROCESSING:
            return
        try:
            await self.save(pop_receipt=message.pop_receipt)
        except StorageError as exc:  # incl. a conflict: then recovery released us and the lease is lost too
            self.log.warning("could not record the renewed lease", extra={"error": str(exc)})

    async def save(self, **changes: Any) -> None:
        async with self._write_lock:
            changes.setdefault("updated_utc", utcnow())
            try:
                self.job = await self.batches.update(self.job.model_copy(update=changes))
            except ConcurrencyConflict:
                # POST /jobs/{id}/cancel marks a running job (cancel_requested_utc): keep that, apply ours on top.
                # Anything else (another attempt took the job over, crash recovery released it) is a real
                # conflict: the fence that keeps a stale attempt from storing an outcome.
                fresh = await self.backend.jobs.get(self.job.job_id)
                if fresh.status is not self.job.status or fresh.attempts != self.job.attempts:
                    raise
                self.job = await self.batches.update(fresh.model_copy(update=changes))

    def publish_started(self) -> None:
        """Publish ``started`` in STARTED_EVENT_DELAY_SECONDS, or with the job's next event if that is sooner."""
        if self.spec.internal:
            return
        self._started = job_event(self.job, "started")
        self._started_timer = asyncio.get_running_loop().call_later(STARTED_EVENT_DELAY_SECONDS,
                                                                    self._started_due)

    def _started_due(self) -> None:
        self._started_timer = None
        task = asyncio.ensure_future(self._publish_events([]))
        _DEFERRED.add(task)
        task.add_done_callback(_DEFERRED.discard)

    async def publish(self, type_: JobEventType, **extra: Any) -> None:
        """Publish a job event (after the state change it reports was stored); consumers never raise here.

        Built-in services (webhook deliveries) publish none: nobody follows them, and a delivery's own events
        would cost storage writes on the path of every webhook."""
        if self.spec.internal:
            return
        await self._publish_events([job_event(self.job, type_, **extra)])

    async def _publish_events(self, events: list[Event]) -> None:
        async with self._event_lock:  # in order: a progress event never overtakes the terminal one
            if self._started is not None:  # still deferred: it goes first, in the same write
                events = [self._started, *events]
                self._started = None
                if self._started_timer is not None:
                    self._started_timer.cancel()
                    self._started_timer = None
            if events:
                await self.bus.publish_many(events)

    # Progress from the handler thread is coalesced: at most one job write a second and one event per
    # event interval; the last value always lands.
    def progress_sink(self, loop: asyncio.AbstractEventLoop) -> Any:
        def sink(fraction: float | None, message: str | None) -> None:
            self._pending_progress = (fraction, message)
            self._pending_event = (fraction, message)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon_threadsafe(self._schedule_flush)
            if not self._event_scheduled:
                self._event_scheduled = True
                loop.call_soon_threadsafe(self._schedule_event)

        return sink

    def _schedule_event(self) -> None:
        delay = max(0.0, self._event_interval - (time.monotonic() - self._last_event))
        asyncio.get_running_loop().call_later(delay, lambda: asyncio.ensure_future(self._emit_progress()))

    async def _emit_progress(self) -> None:
        self._event_scheduled = False
        pending, self._pending_event = self._pending_event, None
        if pending is None or self.job.status is not JobStatus.PROCESSING:
            return
        self._last_event = time.monotonic()
        fraction, message = pending
        await self.publish("progress", progress=fraction, message=message)

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


# Storage requests a job's own lifecycle makes in the worker besides its uploads (read, mark processing, mark
# the outcome, ack or dead-letter): metered per job as an estimate (lease renewals and SDK retries not counted).
WORKER_REQUESTS = 4


class MessageProcessor:
    """Turns one leased message into exactly one outcome for its job."""

    def __init__(self, app: ServiceApp, backend: Backend, *, config_of: Callable[[str], Any] | None = None,
                 cancels: CancelWatcher | None = None, instance_id: str | None = None,
                 meter: Meter | None = None) -> None:
        self.app = app
        self.backend = backend
        self.settings = app.settings
        self._config_of = config_of
        self.cancels = cancels or CancelWatcher(backend.records, app.settings.cancel_poll_interval_seconds)
        self.instance_id = instance_id  # recorded in each job row it runs (crash recovery, worker/recovery.py)
        self.batches = JobBatches(backend.jobs)
        self.meter = meter or Meter(backend.records, enabled=False)
        # Told (queue name, seconds) when a message is given back with a delay: an idle worker polls that queue
        # when it becomes visible again, since no submit hint announces it.
        self.on_delayed_release: Callable[[str, float], None] | None = None
        self.on_ran: Callable[[float], None] | None = None  # told how long each handler ran (worker/defaults.Slots)

    def _released_later(self, spec: HandlerSpec, delay: float) -> None:
        if self.on_delayed_release is not None and delay > 0:
            self.on_delayed_release(spec.queue_name, delay)

    def _limits(self, spec: HandlerSpec) -> tuple[int, float]:
        attempts = spec.max_attempts or self.settings.max_retry_count
        timeout = spec.timeout_seconds or self.settings.max_job_duration_seconds
        return attempts, timeout

    async def process(self, spec: HandlerSpec, queue: JobQueue, message: QueueMessage) -> None:
        try:
            job = await self.batches.get(message.job_id)
        except JobNotFound:
            job_logger(spec.name, message.job_id, 0).warning("message for unknown job dropped")
            await _quietly(queue.ack(message))
            return
        if job.status.is_terminal:
            await _quietly(queue.ack(message))  # duplicate delivery of a finished (or cancelled) job
            return
        if job.cancel_requested_utc is not None:  # cancelled while its worker died: end it, do not run it again
            run = self._new_run(job, spec, job_logger(spec.name, job.job_id, job.attempts))
            await self._cancelled(run, queue, message)
            return
        max_attempts, timeout = self._limits(spec)
        attempt = job.attempts + 1
        log = job_logger(spec.name, job.job_id, attempt)
        if attempt > max_attempts:
            run = self._new_run(job, spec, log)
            await self._fail(run, queue, message, f"Job failed: its worker was lost on all {max_attempts} attempts")
            return
        try:
            job = await self.batches.update(job.model_copy(update={
                "status": JobStatus.PROCESSING, "attempts": attempt, "started_utc": utcnow(),
                "updated_utc": utcnow(), "progress": None, "progress_msg": None, "worker": self.instance_id,
                "message_id": message.message_id, "pop_receipt": message.pop_receipt if self.instance_id else None,
            }))
        except ConcurrencyConflict:
            log.info("job changed under us; will look again")
            await _quietly(queue.release(message, delay=1.0))
            self._released_later(spec, 1.0)
            return
        queue_wait = (job.started_utc - job.created_utc).total_seconds() if job.started_utc else 0.0
        log.info("job started", extra={"queue_wait_s": round(queue_wait, 3), "max_attempts": max_attempts})
        self.app.metrics.job_started(spec.name, queue_wait if attempt == 1 else None)
        run = self._new_run(job, spec, log)
        run.publish_started()
        with self.app.metrics.running(spec.name):
            await self._run(run, queue, message, timeout, max_attempts)

    def _new_run(self, job: Job, spec: HandlerSpec, log: JobLogger) -> JobRun:
        return JobRun(job, spec, self.backend, log, self.app.events, self.settings.progress_event_interval_seconds,
                      self.batches)

    async def _run(
        self, run: JobRun, queue: JobQueue, message: QueueMessage, timeout: float, max_attempts: int
    ) -> None:
        on_renewed = run.record_receipt if self.instance_id else None
        keeper = LeaseKeeper(queue, message, self.settings.queue_visibility_timeout, run.log, on_renewed)
        keeper.start()
        ctx = JobContext(
            job_id=run.job.job_id, attempt=run.job.attempts, max_attempts=max_attempts, service=run.spec.name,
            logger=run.log, config=self._config_of(run.spec.name) if self._config_of else None,
            _sink=run.progress_sink(asyncio.get_running_loop()), tenant=run.job.tenant,
            _backend=self.backend if run.spec.runs_on_loop else None,
        )
        started = time.monotonic()
        try:
            payload = run.spec.validate_payload(run.job.payload)
            with self.cancels.watch(run.job.job_id) as cancel:
                try:
                    outputs = await execute(run.spec, payload, ctx, timeout, cancel)
                finally:
                    if self.on_ran is not None:
                        self.on_ran(time.monotonic() - started)
            elapsed = time.monotonic() - started
            # Stored while the lease is still renewed: a large (streamed) output may take longer than a lease.
            stored = await _store_with_retries(self.backend, f"{run.spec.name}/{run.job.job_id}", outputs)
        except asyncio.CancelledError:
            message = await keeper.stop()
            await asyncio.shield(self._release_on_shutdown(run, queue, message))
            raise
        except JobCancelled:
            message = await keeper.stop()
            await self._cancelled(run, queue, message)
            return
        except JobDeferred as deferred:
            message = await keeper.stop()
            await self._defer(run, queue, message, deferred.delay)
            return
        except _StoreFailed as failed:  # storage down: not acked, the message reappears and the job runs again
            await keeper.stop()
            raise failed.storage_error from None
        except Exception as exc:
            message = await keeper.stop()
            run.handler_seconds = time.monotonic() - started
            await self._on_failure(run, queue, message, exc, max_attempts)
            return
        message = await keeper.stop()
        if keeper.lost:
            run.log.error("finished after losing its lease; result kept only if the job is still ours")
        await self._succeed(run, queue, message, stored, elapsed)

    async def _succeed(
        self, run: JobRun, queue: JobQueue, message: QueueMessage, stored: list[StoredOutput], elapsed: float
    ) -> None:
        first = stored[0]
        # A single-file job keeps its ``result`` exactly as before; a multi-file job has only ``outputs``.
        result = JobResult(blob_name=first.blob_name, content_type=first.content_type, filename=first.filename,
                           size=first.size) if len(stored) == 1 else None
        # Its webhooks survive a crash after the save (a cheap check for a job without webhooks).
        await write_intent_if_owed(self.app, self.backend, run.job, "done", run.spec)
        now = utcnow()
        try:
            await run.save(status=JobStatus.DONE, result=result, outputs=stored, finished_utc=now, updated_utc=now,
                           progress=1.0, error_msg=None, pop_receipt=None)
        except ConcurrencyConflict:
            # Fenced: another worker released this attempt (we were taken for dead, e.g. paused) and the job
            # runs again there; its outcome is the one that counts. Our message receipt is stale as well.
            # (Its outputs have the same names as ours: whichever upload lands last, the job lists them.)
            run.log.warning("result discarded: this attempt was taken over by another worker")
            return
        await _quietly(self.batches.ack(queue, message), run.log)
        await run.publish("done")
        size = sum(output.size for output in stored)
        run.log.info("job done", extra={"duration_s": round(elapsed, 3), "bytes": size, "files": len(stored)})
        self.meter.record(run.job.tenant, run.spec.name, jobs_done=1, handler_seconds=elapsed, bytes_out=size,
                          storage_requests=WORKER_REQUESTS + len(stored))
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
        spec = run.spec
        delay = retry_delay(run.job.attempts, spec.retry_backoff_seconds or self.settings.retry_backoff_seconds,
                            spec.retry_backoff_max_seconds or self.settings.retry_backoff_max_seconds)
        run.log.warning("attempt failed, will retry", extra={"error": reason, "retry_in_s": delay}, exc_info=True)
        self.meter.record(run.job.tenant, run.spec.name, handler_seconds=run.handler_seconds,
                          storage_requests=WORKER_REQUESTS)
        self.app.metrics.job_retried(run.spec.name)
        await run.save(status=JobStatus.QUEUED, error_msg=f"Attempt {run.job.attempts} failed: {reason}"[
            :ERROR_MSG_LIMIT])
        await _quietly(queue.release(message, delay=delay), run.log)
        self._released_later(spec, delay)
        await run.publish("retrying")

    async def _fail(self, run: JobRun, queue: JobQueue, message: QueueMessage, reason: str) -> None:
        await write_intent_if_owed(self.app, self.backend, run.job, "error", run.spec)
        now = utcnow()
        await run.save(status=JobStatus.ERROR, error_msg=reason[:ERROR_MSG_LIMIT], finished_utc=now, updated_utc=now)
        await _quietly(queue.dead_letter(message, reason), run.log)
        await run.publish("error")
        ran = (now - run.job.started_utc).total_seconds() if run.job.started_utc else None
        self.app.metrics.job_finished(run.spec.name, JobStatus.ERROR, ran)
        self.app.metrics.job_poisoned(run.spec.name)
        self.meter.record(run.job.tenant, run.spec.name, jobs_failed=1, handler_seconds=run.handler_seconds,
                          storage_requests=WORKER_REQUESTS)

    async def _cancelled(self, run: JobRun, queue: JobQueue, message: QueueMessage) -> None:
        """End the job ``cancelled``: acked, never retried, never poison."""
        await write_intent_if_owed(self.app, self.backend, run.job, "cancelled", run.spec)
        now = utcnow()
        try:
            await run.save(status=JobStatus.CANCELLED, finished_utc=now, updated_utc=now,
                           error_msg="Cancelled on request")
        except ConcurrencyConflict:  # changed under us (the API cancelled it too): read and end it once
            run.job = await self.backend.jobs.get(run.job.job_id)
            if not run.job.status.is_terminal:
                await run.save(status=JobStatus.CANCELLED, finished_utc=now, updated_utc=now,
                               error_msg="Cancelled on request")
        await _quietly(queue.ack(message), run.log)
        await run.publish("cancelled")
        run.log.info("job cancelled")
        ran = (now - run.job.started_utc).total_seconds() if run.job.started_utc else None
        self.app.metrics.job_finished(run.spec.name, JobStatus.CANCELLED, ran)

    async def _defer(self, run: JobRun, queue: JobQueue, message: QueueMessage, delay: float) -> None:
        """Queued again after ``delay`` seconds; the attempt is not counted (only crashes and failures are)."""
        await run.save(status=JobStatus.QUEUED, attempts=max(run.job.attempts - 1, 0), started_utc=None)
        await _quietly(queue.release(message, delay=delay), run.log)
        self._released_later(run.spec, delay)
        run.log.debug("job deferred", extra={"delay_s": round(delay, 3)})

    async def _release_on_shutdown(self, run: JobRun, queue: JobQueue, message: QueueMessage) -> None:
        """Give the job back without spending an attempt: status queued, attempts as before this one."""
        try:
            await run.save(status=JobStatus.QUEUED, attempts=max(run.job.attempts - 1, 0), started_utc=None)
            await queue.release(message)
            run.log.info("job released on shutdown")
        except (StorageError, LeaseLost) as exc:
            run.log.warning("could not release job on shutdown; its lease will expire", extra={"error": str(exc)})


class _StoreFailed(Exception):
    """Storing the outputs met a storage outage (not the handler's fault): carries the StorageError."""

    def __init__(self, storage_error: StorageError) -> None:
        super().__init__(str(storage_error))
        self.storage_error = storage_error


async def _store_with_retries(backend: Backend, prefix: str, outputs: list[PendingOutput]) -> list[StoredOutput]:
    """Store the outputs, retrying a storage outage with backoff (1 s, 2 s); a plain loop, not tenacity, whose
    per-call machinery cost more than a small output's whole write. A retry stores every output again under the
    same names (overwriting); if the last try fails, what was stored is removed (best effort) and
    :class:`_StoreFailed` is raised. An output that cannot be read (a path gone, a stream that fails) raises
    what reading raised: the attempt failed."""
    try:
        for attempt in range(1, BLOB_UPLOAD_ATTEMPTS + 1):
            try:
                return await store_outputs(backend.blobs, prefix, outputs)
            except StorageUnavailable as exc:
                if attempt == BLOB_UPLOAD_ATTEMPTS:
                    with contextlib.suppress(StorageError):
                        await remove_outputs(backend.blobs, prefix, outputs)
                    raise _StoreFailed(exc) from exc
                await asyncio.sleep(min(2.0 ** (attempt - 1), 9.0))
            except StorageError as exc:
                raise _StoreFailed(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        for output in outputs:
            output.release()


async def _quietly(awaitable: Any, log: JobLogger | None = None) -> None:
    """Queue housekeeping whose failure only means a harmless re-delivery later."""
    with contextlib.suppress(LeaseLost, StorageError):
        await awaitable
        return
    if log is not None:
        log.warning("queue housekeeping failed; the message may be delivered again (harmless)")
