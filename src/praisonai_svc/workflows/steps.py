"""What each step type does in one slice of an execution: finish, wait (without holding a slot), or jump.

A step never sleeps: waiting for a child job, an extraction or a ``delay`` returns :class:`Wait` and the
engine gives the execution's job back to the queue with that delay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import JobFailed
from praisonai_svc.logs import JobLogger
from praisonai_svc.models.job import Job, JobStatus
from praisonai_svc.webhooks.signing import DELIVERY_HEADER, HEADER, sign
from praisonai_svc.workflows.child_jobs import child_result, read_child, submit_child
from praisonai_svc.workflows.conditions import evaluate
from praisonai_svc.workflows.definition import (
    ConditionStep,
    DelayStep,
    FileProcessStep,
    HttpStep,
    JobStep,
    LogStep,
    Step,
)
from praisonai_svc.workflows.gateways import FileView, Gateways
from praisonai_svc.workflows.models import Execution, StepRecord
from praisonai_svc.workflows.templates import render_value

MAX_HTTP_RESPONSE = 64 * 1024
MAX_FILE_TEXT = 16 * 1024
MAX_FILE_RESULT = 15 * 1024  # JSON bytes of a file_process result: under the engine's 16 KiB per step result
POLL_FIRST, POLL_MAX = 0.5, 5.0


class StepFailed(JobFailed):
    """The step failed; ``retryable`` says whether another attempt could succeed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Done:
    result: Any


@dataclass(frozen=True)
class Wait:
    delay: float


@dataclass(frozen=True)
class Jump:
    action: str  # continue | stop | goto:<step>
    result: Any


Outcome = Done | Wait | Jump


@dataclass
class StepRun:
    app: ServiceApp
    backend: Backend
    gateways: Gateways
    execution: Execution
    step: Step
    record: StepRecord
    scope: dict[str, Any]
    now: datetime
    log: JobLogger

    def render(self, value: Any, field: str) -> Any:
        return render_value(value, self.scope, where=f"steps.{self.step.id}.{field}")

    def poll(self) -> Wait:
        self.record.polls += 1
        return Wait(min(POLL_FIRST * 1.5 ** (self.record.polls - 1), POLL_MAX))


async def run_step(run: StepRun) -> Outcome:
    step = run.step
    if isinstance(step, JobStep):
        return await _job(run, step)
    if isinstance(step, FileProcessStep):
        return await _file(run, step)
    if isinstance(step, HttpStep):
        return await _http(run, step)
    if isinstance(step, LogStep):
        return _log(run, step)
    if isinstance(step, DelayStep):
        return _delay(run, step)
    return _condition(run, step)


async def _job(run: StepRun, step: JobStep) -> Outcome:
    if run.record.job_id is None:
        payload = run.render(step.payload, "payload")
        if not isinstance(payload, dict):
            raise StepFailed(f"steps.{step.id}.payload must render to an object", retryable=False)
        service = run.render(step.service, "service")
        job = await submit_child(run.app, run.backend, service=str(service), payload=payload,
                                 tenant=run.execution.tenant, execution_id=run.execution.id,
                                 step_key=f"{step.id}#{run.record.attempt}")
        run.record.job_id = job.job_id
        run.log.info("child job submitted", extra={"step": step.id, "child_job_id": job.job_id})
        return run.poll()
    child = await read_child(run.backend, run.record.job_id)
    if child is None:
        raise StepFailed(f"child job {run.record.job_id} no longer exists")
    return await _child_outcome(run, step, child)


async def _child_outcome(run: StepRun, step: JobStep, job: Job) -> Outcome:
    if job.status is JobStatus.DONE:
        return Done(await child_result(run.app, run.backend, job, include_content=step.include_content))
    if job.status.is_terminal:
        raise StepFailed(f"job {job.job_id} of service '{job.service}' ended {job.status.value}: {job.error_msg}")
    return run.poll()


async def _file(run: StepRun, step: FileProcessStep) -> Outcome:
    files = run.gateways.files
    if files is None:
        raise StepFailed("file_process steps need the files feature (praisonai_svc.files), which this app lacks",
                         retryable=False)
    file_id = str(run.render(step.file_id, "file_id"))
    tenant = run.execution.tenant
    if run.record.file_id is None:
        view = await files.process(file_id, tenant=tenant, backend=run.backend)
        run.record.file_id = file_id
        if file_id not in run.execution.input_file_ids:
            run.execution.input_file_ids.append(file_id)
    else:
        view = await files.view(file_id, tenant=tenant, backend=run.backend)
    if view.status == "processed":
        return Done(file_result(view))
    if view.status in ("failed", "deleted"):
        # The extraction had its own attempts (a failed file is one no attempt could read): retrying the step
        # would only read the same failure again.
        raise StepFailed(f"file {file_id} is {view.status}: {view.error or 'no extracted content'}",
                         retryable=False)
    return run.poll()


def file_result(view: FileView) -> dict[str, Any]:
    """What later steps see of an extracted file: its text cut to fit the step-result budget (the metadata
    first, so ``steps.x.metadata.columns`` survives a long text), with ``content_truncated`` saying so."""
    result: dict[str, Any] = {"file_id": view.file_id, "filename": view.filename, "mime_type": view.mime_type,
                              "file_size": view.file_size, "content": "", "content_truncated": False,
                              "metadata": view.metadata}
    room = MAX_FILE_RESULT - len(json.dumps(result, default=str))
    content = view.content or ""
    text = content[:MAX_FILE_TEXT]
    while text and len(json.dumps(text)) - 2 > room:  # JSON escapes non-ASCII: measure, cut, measure again
        text = text[: max(0, len(text) * room // (len(json.dumps(text)) - 2) - 1)]
    result["content"], result["content_truncated"] = text, len(text) < len(content)
    return result


def _body(value: Any, headers: dict[str, str]) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return value.encode()
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def _http(run: StepRun, step: HttpStep) -> Outcome:
    http = run.gateways.http
    if http is None:
        raise StepFailed("http steps need the safe fetcher (praisonai_svc.net), which this build lacks",
                         retryable=False)
    url = str(run.render(step.url, "url"))
    headers = {str(k): str(v) for k, v in run.render(step.headers, "headers").items()}
    content = _body(run.render(step.body, "body"), headers)
    headers[DELIVERY_HEADER] = f"{run.execution.id}:{step.id}"
    if step.secret:
        headers[HEADER] = sign(str(run.render(step.secret, "secret")), content or b"")
    reply = await http.request(step.method, url, headers=headers, content=content, timeout=step.timeout_seconds,
                               max_bytes=MAX_HTTP_RESPONSE)
    text = reply.body.decode("utf-8", errors="replace")
    if reply.status >= 300:  # redirects are not followed: a webhook that moved is a configuration error
        raise StepFailed(f"{step.method} {url} answered HTTP {reply.status}: {text[:200]}",
                         retryable=reply.status >= 500 or reply.status in (408, 429))
    body: Any = text
    if reply.content_type.startswith("application/json"):
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    return Done({"status_code": reply.status, "content_type": reply.content_type, "body": body})


def _log(run: StepRun, step: LogStep) -> Outcome:
    message = str(run.render(step.message, "message"))
    run.execution.add_log(run.now, message, level=step.level, step=step.id)
    run.log.log(_LEVELS[step.level], "workflow log", extra={"step": step.id, "workflow_message": message[:500]})
    return Done({"message": message})


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _delay(run: StepRun, step: DelayStep) -> Outcome:
    if run.record.wake_at is None:
        run.record.wake_at = run.now + timedelta(seconds=step.seconds)
    remaining = (run.record.wake_at - run.now).total_seconds()
    if remaining <= 0:
        return Done({"waited_seconds": step.seconds})
    return Wait(remaining)


def _condition(run: StepRun, step: ConditionStep) -> Outcome:
    left = run.render(step.left, "left")
    right = run.render(step.right, "right")
    outcome = evaluate(left, step.operator, right)
    return Jump(step.on_true if outcome else step.on_false, {"result": outcome, "left": left, "right": right})
