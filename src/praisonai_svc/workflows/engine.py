"""Run an execution one *slice* at a time: from its first unfinished step until it ends or has to wait.

Every step's start and end are written to the execution record before the next step begins, so a worker
killed mid-execution resumes at the first unfinished step and a finished step never runs again. Waiting
(child jobs, extraction, ``delay``, retry backoff) ends the slice: :meth:`ExecutionEngine.advance` returns
the delay and the execution's job goes back to the queue, so no worker slot is held while it waits.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConcurrencyConflict, FetchRefused, PayloadError, PraisonSvcError
from praisonai_svc.logs import JobLogger
from praisonai_svc.models.job import utcnow
from praisonai_svc.workflows.child_jobs import cancel_children
from praisonai_svc.workflows.conditions import ConditionFailed
from praisonai_svc.workflows.gateways import Gateways
from praisonai_svc.workflows.models import Execution, ExecutionStatus, StepRecord
from praisonai_svc.workflows.outcomes import after_finish, mark_finished
from praisonai_svc.workflows.repository import WorkflowRepository, execution_record
from praisonai_svc.workflows.steps import Done, Jump, StepRun, Wait, run_step
from praisonai_svc.workflows.templates import TemplateFailed

MAX_RESULT_BYTES = 16 * 1024
QUEUE_POLL_SECONDS = 2.0  # overlap "queue": how often a queued execution looks whether its turn has come
_NOT_RETRYABLE = (TemplateFailed, ConditionFailed, PayloadError, FetchRefused)


class ExecutionGone(PraisonSvcError):
    """The execution ended elsewhere (cancelled while waiting) while this slice ran."""


class ExecutionEngine:
    def __init__(self, app: ServiceApp, backend: Backend, gateways: Gateways, log: JobLogger) -> None:
        self.app = app
        self.backend = backend
        self.gateways = gateways
        self.log = log
        self.repo = WorkflowRepository(backend.records)
        self._etag: str | None = None
        self._expires: datetime | None = None

    async def advance(self, execution_id: str) -> float | None:
        """Run until the execution ends (None) or must wait (the seconds to wait)."""
        execution, record = await self.repo.get_execution(execution_id)
        self._etag, self._expires = record.etag, record.expires_utc
        if execution.status.is_terminal:
            return None
        try:
            if execution.status is ExecutionStatus.PENDING:
                wait = await self._start(execution)
                if wait is not None:
                    return wait
            return await self._run(execution)
        except ExecutionGone:
            self.log.info("execution ended elsewhere during this slice", extra={"execution_id": execution_id})
            return None

    async def _start(self, execution: Execution) -> float | None:
        if execution.definition.overlap == "queue" and execution.trigger_type == "scheduled":
            # One at a time, oldest first: wait while any older execution is unfinished, running *or* waiting its
            # own turn (else every queued one would start together once the running one ended).
            ahead = await self.repo.older_live_execution(execution)
            if ahead is not None and not execution.cancel_requested:
                return QUEUE_POLL_SECONDS
        now = utcnow()
        execution.status = ExecutionStatus.RUNNING
        execution.started_at = now
        execution.add_log(now, f"execution started ({execution.trigger_type})")
        return None

    async def _run(self, execution: Execution) -> float | None:
        execution.phase = "running"
        await self._save(execution)
        definition = execution.definition
        assert execution.started_at is not None
        deadline = execution.started_at + timedelta(seconds=definition.timeout_seconds)
        while True:
            now = utcnow()
            if execution.cancel_requested:
                await self._finish(execution, ExecutionStatus.CANCELLED, "cancelled on request")
                return None
            if now >= deadline:
                await self._finish(execution, ExecutionStatus.TIMEOUT,
                                   f"the execution exceeded its timeout of {definition.timeout_seconds} s")
                return None
            if execution.cursor >= len(definition.steps):
                await self._finish(execution, ExecutionStatus.COMPLETED)
                return None
            wait = await self._step(execution, now)
            if wait is not None:
                if execution.status.is_terminal:
                    return None
                execution.phase = "waiting"
                await self._save(execution)
                return min(wait, max((deadline - utcnow()).total_seconds(), 0.0))

    async def _step(self, execution: Execution, now: datetime) -> float | None:
        """Run the current step once; the seconds to wait, or None to go on (cursor moved or execution ended)."""
        step = execution.definition.steps[execution.cursor]
        record = execution.step_record(step.id)
        if record.retry_at is not None:
            if now < record.retry_at:
                return (record.retry_at - now).total_seconds()
            record.status, record.retry_at, record.job_id, record.file_id, record.polls = "pending", None, None, None, 0
        if record.status == "pending":
            record.attempt += 1
            record.status, record.started_at, record.error = "running", now, None
            await self._save(execution)  # the attempt is on record before anything is sent
        elif record.status == "running":  # its worker died mid-step: run it again as the same attempt
            execution.add_log(now, f"resuming attempt {record.attempt} after an interruption", step=step.id)
        run = StepRun(self.app, self.backend, self.gateways, execution, step, record, self._scope(execution), now,
                      self.log)
        try:
            outcome = await run_step(run)
        except Exception as exc:  # a step's failure is the execution's data, not the worker's crash
            return await self._failed(execution, step.id, record, exc, now)
        if isinstance(outcome, Wait):
            record.status = "waiting"
            return outcome.delay
        self._completed(record, outcome.result, utcnow())
        if isinstance(outcome, Done) or outcome.action == "continue":
            execution.cursor += 1
        elif outcome.action == "stop":
            execution.add_log(now, "condition stopped the execution", step=step.id)
            execution.cursor = len(execution.definition.steps)
        else:
            self._goto(execution, outcome)
        await self._save(execution)
        return None

    @staticmethod
    def _goto(execution: Execution, jump: Jump) -> None:
        target = execution.definition.step_index(jump.action[5:])
        for later in execution.definition.steps[target:]:  # a loop runs those steps again
            execution.steps.pop(later.id, None)
        execution.cursor = target

    @staticmethod
    def _completed(record: StepRecord, result: Any, now: datetime) -> None:
        record.status, record.finished_at, record.result, record.error = "completed", now, _bounded(result), None

    async def _failed(self, execution: Execution, step_id: str, record: StepRecord, exc: Exception,
                      now: datetime) -> float | None:
        error = str(exc) if isinstance(exc, PraisonSvcError) else f"{type(exc).__name__}: {exc}"
        retryable = not isinstance(exc, _NOT_RETRYABLE) and bool(getattr(exc, "retryable", True))
        definition = execution.definition
        record.error = error[:2000]
        if retryable and record.attempt <= definition.max_retries:
            delay: float = min(self.app.settings.workflow_retry_backoff_seconds * 2.0 ** (record.attempt - 1), 300.0)
            record.status, record.retry_at = "waiting", now + timedelta(seconds=delay)
            execution.retry_count += 1
            execution.add_log(now, f"attempt {record.attempt} failed, retrying in {delay:g} s: {error}",
                              level="warning", step=step_id)
            self.log.warning("workflow step failed, will retry",
                             extra={"step": step_id, "error": error[:500], "retry_in_s": delay})
            return delay
        record.status, record.finished_at = "failed", now
        execution.add_log(now, f"step failed: {error}", level="error", step=step_id)
        if definition.steps[execution.cursor].continue_on_error:
            execution.cursor += 1
            await self._save(execution)
            return None
        await self._finish(execution, ExecutionStatus.FAILED, f"step {step_id} failed: {error}")
        return 0.0

    def _scope(self, execution: Execution) -> dict[str, Any]:
        definition = execution.definition
        return {
            "trigger": {**execution.trigger_data, "type": execution.trigger_type},
            "steps": {sid: rec.result for sid, rec in execution.steps.items() if rec.status == "completed"},
            "workflow": {"id": execution.workflow_id, "name": definition.name, "description": definition.description},
            "execution": {"id": execution.id, "trigger_type": execution.trigger_type,
                          "started_at": execution.started_at.isoformat() if execution.started_at else None,
                          "due_at": execution.due_at.isoformat() if execution.due_at else None,
                          "attempt": execution.retry_count},
        }

    async def _finish(self, execution: Execution, status: ExecutionStatus, error: str | None = None) -> None:
        mark_finished(execution, status, utcnow(), error)
        await self._save(execution)
        if status in (ExecutionStatus.CANCELLED, ExecutionStatus.TIMEOUT):
            await cancel_children(self.app, self.backend, execution)
        self.log.info("workflow execution finished", extra={
            "execution_id": execution.id, "workflow_id": execution.workflow_id, "status": status.value,
            "duration_ms": execution.execution_time_ms})
        await after_finish(self.app, self.repo, execution)

    async def _save(self, execution: Execution) -> None:
        """Conditional write; a cancel request written meanwhile is merged in, an ended execution stops us."""
        execution.updated_at = utcnow()
        for _ in range(10):
            try:
                stored = await self.backend.records.replace(execution_record(execution, self._expires, self._etag))
            except ConcurrencyConflict:
                fresh, record = await self.repo.get_execution(execution.id)
                if fresh.status.is_terminal:
                    raise ExecutionGone() from None
                execution.cancel_requested = execution.cancel_requested or fresh.cancel_requested
                self._etag = record.etag
                continue
            self._etag = stored.etag
            return
        raise ConcurrencyConflict(f"execution {execution.id} kept changing under us")


def _bounded(result: Any) -> Any:
    """Step results stay small: the execution record holds every step's result (records hold 256 KiB)."""
    text = json.dumps(result, default=str)
    if len(text) <= MAX_RESULT_BYTES:
        return result
    if isinstance(result, dict):
        small = {k: v for k, v in result.items() if len(json.dumps(v, default=str)) <= 1024}
        return {**small, "truncated": True, "size": len(text)}
    return {"truncated": True, "size": len(text), "preview": text[:1024]}
