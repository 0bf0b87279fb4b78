"""What the API returns for workflows and executions (the seed's field names; secrets never leave)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from praisonai_svc.workflows.definition import CronTrigger, FileTrigger
from praisonai_svc.workflows.models import (
    Execution,
    ExecutionStats,
    ExecutionStatus,
    LogEntry,
    Workflow,
    WorkflowStatus,
)

SECRET_MASK = "********"


class WorkflowBody(BaseModel):
    id: str
    name: str
    description: str
    status: WorkflowStatus
    is_enabled: bool
    timeout_seconds: int
    max_retries: int
    overlap: str
    misfire_grace_seconds: int
    triggers: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    cron_expression: str | None = Field(None, description="The first cron trigger's expression (the seed's field)")
    is_scheduled: bool = False
    trigger_on_file_upload: bool = False
    trigger_file_extensions: list[str] = Field(default_factory=list)
    execution_stats: ExecutionStats
    created_at: datetime
    updated_at: datetime
    last_execution_at: datetime | None = None
    deleted_at: datetime | None = None

    @classmethod
    def of(cls, workflow: Workflow) -> WorkflowBody:
        definition = workflow.definition
        crons = definition.cron_triggers
        uploads = [t for t in definition.triggers if isinstance(t, FileTrigger) and t.type == "file_upload"]
        steps = [step.model_dump(mode="json") for step in definition.steps]
        for step in steps:
            if step.get("secret"):
                step["secret"] = SECRET_MASK
        return cls(
            id=workflow.id, name=definition.name, description=definition.description, status=workflow.status,
            is_enabled=definition.is_enabled, timeout_seconds=definition.timeout_seconds,
            max_retries=definition.max_retries, overlap=definition.overlap,
            misfire_grace_seconds=definition.misfire_grace_seconds,
            triggers=[t.model_dump(mode="json") for t in definition.triggers], steps=steps,
            cron_expression=crons[0].expression if crons else None, is_scheduled=bool(crons),
            trigger_on_file_upload=bool(uploads),
            trigger_file_extensions=sorted({ext for t in uploads for ext in t.file_extensions}),
            execution_stats=workflow.execution_stats, created_at=workflow.created_at,
            updated_at=workflow.updated_at, last_execution_at=workflow.last_execution_at,
            deleted_at=workflow.deleted_at,
        )


class WorkflowPage(BaseModel):
    workflows: list[WorkflowBody]
    total: int
    skip: int
    limit: int


class StepBody(BaseModel):
    id: str
    type: str
    status: str
    attempt: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: Any = None
    error: str | None = None
    job_id: str | None = None


class ExecutionBody(BaseModel):
    id: str
    workflow_id: str
    workflow_name: str
    status: ExecutionStatus
    trigger_type: str
    trigger_data: dict[str, Any]
    steps: list[StepBody]
    current_step: str | None = None
    cancel_requested: bool = False
    log: list[LogEntry]
    input_file_ids: list[str]
    output_file_ids: list[str]
    error_message: str | None = None
    retry_count: int = 0
    execution_time_ms: int | None = None
    due_at: datetime | None = None
    job_id: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def of(cls, execution: Execution) -> ExecutionBody:
        definition = execution.definition
        steps = []
        for step in definition.steps:
            record = execution.steps.get(step.id)
            steps.append(StepBody(id=step.id, type=step.type, status=record.status if record else "pending",
                                  attempt=record.attempt if record else 0,
                                  started_at=record.started_at if record else None,
                                  finished_at=record.finished_at if record else None,
                                  result=record.result if record else None, error=record.error if record else None,
                                  job_id=record.job_id if record else None))
        current = (definition.steps[execution.cursor].id
                   if not execution.status.is_terminal and execution.cursor < len(definition.steps) else None)
        return cls(
            id=execution.id, workflow_id=execution.workflow_id, workflow_name=definition.name,
            status=execution.status, trigger_type=execution.trigger_type, trigger_data=execution.trigger_data,
            steps=steps, current_step=current, cancel_requested=execution.cancel_requested, log=execution.log,
            input_file_ids=execution.input_file_ids, output_file_ids=execution.output_file_ids,
            error_message=execution.error_message, retry_count=execution.retry_count,
            execution_time_ms=execution.execution_time_ms, due_at=execution.due_at, job_id=execution.job_id,
            created_at=execution.created_at, updated_at=execution.updated_at, started_at=execution.started_at,
            completed_at=execution.completed_at,
        )


class ExecutionPage(BaseModel):
    executions: list[ExecutionBody]
    total: int
    skip: int
    limit: int


class TriggerRequest(BaseModel):
    trigger_data: dict[str, Any] | None = None


class CronCheck(BaseModel):
    expression: str
    timezone: str = "UTC"


class CronCheckResult(BaseModel):
    is_valid: bool
    error: str | None = None
    next_runs: list[datetime] = Field(default_factory=list)


__all__ = ["CronCheck", "CronCheckResult", "CronTrigger", "ExecutionBody", "ExecutionPage", "TriggerRequest",
           "WorkflowBody", "WorkflowPage"]
