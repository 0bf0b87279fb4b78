"""What is stored: a workflow (its definition and state) and an execution (its steps' records and log)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from praisonai_svc.workflows.definition import WorkflowDefinition

MAX_LOG_ENTRIES = 200
MAX_LOG_MESSAGE = 1000


class WorkflowStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    PAUSED = "paused"
    DELETED = "deleted"


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def is_terminal(self) -> bool:
        return self in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED,
                        ExecutionStatus.TIMEOUT)


TriggerType = Literal["manual", "scheduled", "file_upload", "file_processed"]
StepStatus = Literal["pending", "running", "waiting", "completed", "failed", "skipped"]


class ExecutionStats(BaseModel):
    total: int = 0
    successful: int = 0
    failed: int = 0


class Workflow(BaseModel):
    """A stored workflow. ``tenant`` None: created by an untenanted caller."""

    id: str
    tenant: str | None = None
    definition: WorkflowDefinition
    status: WorkflowStatus = WorkflowStatus.ACTIVE
    execution_stats: ExecutionStats = Field(default_factory=ExecutionStats)
    created_at: datetime
    updated_at: datetime
    last_execution_at: datetime | None = None
    deleted_at: datetime | None = None
    last_scheduled_due: datetime | None = None  # the newest cron due time the scheduler has handled

    @property
    def runnable(self) -> bool:
        """Whether triggers may start it: active, enabled, not deleted."""
        return self.status is WorkflowStatus.ACTIVE and self.definition.is_enabled

    def why_not_runnable(self) -> str:
        if self.status is WorkflowStatus.DELETED:
            return "the workflow is deleted"
        if not self.definition.is_enabled:
            return "the workflow is disabled (set is_enabled to true)"
        return f"the workflow is {self.status.value} (set its status to active)"


class StepRecord(BaseModel):
    """One step's progress inside an execution."""

    status: StepStatus = "pending"
    attempt: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: Any = None
    error: str | None = None
    # What a waiting step waits for: a child job, a file's extraction, a wake-up time, a retry.
    job_id: str | None = None
    file_id: str | None = None
    wake_at: datetime | None = None  # a ``delay`` step's end
    retry_at: datetime | None = None  # a failed attempt's retry (exponential backoff)
    polls: int = 0


class LogEntry(BaseModel):
    at: datetime
    level: str = "info"
    step: str | None = None
    message: str


class Execution(BaseModel):
    id: str
    workflow_id: str
    tenant: str | None = None
    status: ExecutionStatus = ExecutionStatus.PENDING
    trigger_type: TriggerType
    trigger_data: dict[str, Any] = Field(default_factory=dict)
    definition: WorkflowDefinition  # as it was when the execution started: edits do not change a running one
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    cursor: int = 0  # index of the next step to run
    phase: Literal["idle", "running", "waiting"] = "idle"  # running: a worker is inside a slice right now
    cancel_requested: bool = False
    log: list[LogEntry] = Field(default_factory=list)
    input_file_ids: list[str] = Field(default_factory=list)
    output_file_ids: list[str] = Field(default_factory=list)
    error_message: str | None = None
    retry_count: int = 0
    execution_time_ms: int | None = None
    job_id: str | None = None  # the durable job that runs it
    due_at: datetime | None = None  # scheduled executions: the cron due time
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None

    def add_log(self, at: datetime, message: str, *, level: str = "info", step: str | None = None) -> None:
        """Append to the bounded log (the oldest entries go first)."""
        self.log.append(LogEntry(at=at, level=level, step=step, message=message[:MAX_LOG_MESSAGE]))
        if len(self.log) > MAX_LOG_ENTRIES:
            del self.log[: len(self.log) - MAX_LOG_ENTRIES]

    def step_record(self, step_id: str) -> StepRecord:
        if step_id not in self.steps:
            self.steps[step_id] = StepRecord()
        return self.steps[step_id]
