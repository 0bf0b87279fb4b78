"""What happens once an execution ends, wherever it ended (the engine, or a cancel of a waiting execution):
the workflow's ``execution_stats`` and ``last_execution_at``, an ``execution.<status>`` event, retention."""

from __future__ import annotations

from datetime import datetime

from praisonai_svc.app import ServiceApp
from praisonai_svc.errors import ConcurrencyConflict, StorageError
from praisonai_svc.events import Event
from praisonai_svc.logs import get_logger
from praisonai_svc.workflows.errors import WorkflowNotFound
from praisonai_svc.workflows.models import Execution, ExecutionStatus, Workflow
from praisonai_svc.workflows.repository import EXECUTION, WorkflowRepository

log = get_logger("workflows")
PRUNE_EVERY = 20  # executions per workflow between two checks of its cap


def mark_finished(execution: Execution, status: ExecutionStatus, now: datetime, error: str | None = None) -> None:
    execution.status = status
    execution.phase = "idle"
    execution.completed_at = now
    execution.updated_at = now
    execution.error_message = error if error is not None else execution.error_message
    started = execution.started_at or execution.created_at
    execution.execution_time_ms = max(0, int((now - started).total_seconds() * 1000))
    execution.add_log(now, f"execution {status.value}" + (f": {error}" if error else ""),
                      level="error" if status is not ExecutionStatus.COMPLETED else "info")


async def after_finish(app: ServiceApp, repo: WorkflowRepository, execution: Execution) -> None:
    """Stats, event and retention for a finished execution; best effort (the execution itself is stored)."""
    try:
        workflow = await repo.change_workflow(execution.workflow_id, lambda wf: _counted(wf, execution))
    except (WorkflowNotFound, StorageError, ConcurrencyConflict) as exc:
        log.warning("could not update workflow stats", extra={"workflow_id": execution.workflow_id,
                                                               "error": str(exc)})
        workflow = None
    await app.events.publish(Event(
        topic=f"execution.{execution.status.value}", subject=execution.id, tenant=execution.tenant,
        data={"workflow_id": execution.workflow_id, "status": execution.status.value,
              "trigger_type": execution.trigger_type, "error_message": execution.error_message}))
    if workflow is not None and workflow.execution_stats.total % PRUNE_EVERY == 0:
        await prune_executions(repo, execution.workflow_id, app.settings.workflow_max_executions)


def _counted(workflow: Workflow, execution: Execution) -> Workflow:
    stats = workflow.execution_stats
    stats.total += 1
    if execution.status is ExecutionStatus.COMPLETED:
        stats.successful += 1
    elif execution.status in (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT):
        stats.failed += 1
    workflow.last_execution_at = execution.completed_at
    return workflow


async def prune_executions(repo: WorkflowRepository, workflow_id: str, keep: int) -> int:
    """Delete the finished executions of ``workflow_id`` beyond the newest ``keep`` (ids list newest first)."""
    seen, removed, cursor = 0, 0, None
    while True:
        page = await repo.list_executions({"workflow_id": workflow_id}, limit=500, cursor=cursor)
        for record in page.records:
            seen += 1
            if seen > keep and record.fields.get("live") == "0":
                await repo.records.delete(EXECUTION, record.id)
                removed += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    if removed:
        log.info("old executions removed", extra={"workflow_id": workflow_id, "removed": removed, "kept": keep})
    return removed
