"""The workflow use cases behind the API, the CLI, the scheduler and the file triggers.

Starting an execution writes its record (exactly one create wins for a deterministic id) and then its durable
job (a deterministic job id too), so a retried start never makes a second execution nor a second job.
"""

from __future__ import annotations

import builtins
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import PayloadError, RecordExists, StorageError, StorageUnavailable
from praisonai_svc.hashing import payload_hash
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import Job, utcnow
from praisonai_svc.ports import DuplicateJob
from praisonai_svc.retention import expiry_for
from praisonai_svc.workflows.child_jobs import cancel_children
from praisonai_svc.workflows.definition import WorkflowDefinition, map_legacy, parse_definition
from praisonai_svc.workflows.errors import ExecutionFinished, WorkflowNotRunnable
from praisonai_svc.workflows.ids import new_execution_id, new_workflow_id
from praisonai_svc.workflows.models import Execution, ExecutionStatus, TriggerType, Workflow, WorkflowStatus
from praisonai_svc.workflows.outcomes import after_finish, mark_finished
from praisonai_svc.workflows.repository import (
    EXECUTION,
    WORKFLOW,
    WORKFLOWS_HINT,
    WorkflowRepository,
    execution_record,
    tenant_field,
    workflow_record,
)
from praisonai_svc.workflows.service import EXECUTION_SERVICE, execution_job_id

log = get_logger("workflows")
_STATUS_UPDATES = {"active": WorkflowStatus.ACTIVE, "inactive": WorkflowStatus.INACTIVE,
                   "paused": WorkflowStatus.PAUSED}


@dataclass(frozen=True)
class Started:
    execution: Execution
    created: bool


class WorkflowService:
    def __init__(self, app: ServiceApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend
        self.repo = WorkflowRepository(backend.records)

    # --- workflows -----------------------------------------------------------------------------------------
    async def create(self, data: Any, *, tenant: str | None) -> Workflow:
        status = _status_of(data)
        definition = parse_definition(_without(data, "status"))
        now = utcnow()
        workflow = Workflow(id=new_workflow_id(now), tenant=tenant, definition=definition, status=status,
                            created_at=now, updated_at=now)
        await self._storage(self.backend.records.create(workflow_record(workflow)))
        self.backend.hints.ring(WORKFLOWS_HINT)  # the cron scheduler re-reads the scheduled workflows
        log.info("workflow created", extra={"workflow_id": workflow.id, "tenant": tenant})
        return workflow

    async def get(self, workflow_id: str, *, tenant: str | None) -> Workflow:
        return await self.repo.get_workflow(workflow_id, tenant=tenant)

    async def list(self, *, tenant: str | None, status: WorkflowStatus | None, skip: int,
                   limit: int) -> tuple[list[Workflow], int]:
        where: dict[str, str] = {}
        if tenant is not None:
            where["tenant"] = tenant_field(tenant)
        if status is not None:
            where["status"] = status.value
        found: list[Workflow] = []
        cursor: str | None = None
        while True:
            page = await self.backend.records.list(WORKFLOW, where=where, limit=500, cursor=cursor)
            found.extend(w for w in (Workflow.model_validate(r.body) for r in page.records)
                         if status is not None or w.status is not WorkflowStatus.DELETED)
            cursor = page.next_cursor
            if cursor is None:
                break
        return found[skip: skip + limit], len(found)

    async def update(self, workflow_id: str, patch: Any, *, tenant: str | None) -> Workflow:
        """Partial update: any definition field, ``status`` (active | inactive | paused) and ``is_enabled``."""
        if not isinstance(patch, dict):
            raise PayloadError("A workflow update is a JSON object of the fields to change.")
        await self.repo.get_workflow(workflow_id, tenant=tenant)  # 404 for other tenants before anything else
        status = _status_of(patch) if "status" in patch else None
        changes = _definition_changes(_without(patch, "status"))

        def apply(workflow: Workflow) -> Workflow:
            if changes:
                merged = {**workflow.definition.model_dump(mode="json"), **changes}
                workflow.definition = parse_definition(merged)
            if status is not None:
                workflow.status = status
            workflow.updated_at = utcnow()
            return workflow

        updated = await self.repo.change_workflow(workflow_id, apply)
        self.backend.hints.ring(WORKFLOWS_HINT)
        return updated

    async def delete(self, workflow_id: str, *, tenant: str | None) -> Workflow:
        """Soft delete; its running executions are cancelled."""
        await self.repo.get_workflow(workflow_id, tenant=tenant)

        def apply(workflow: Workflow) -> Workflow:
            workflow.status, workflow.deleted_at = WorkflowStatus.DELETED, utcnow()
            workflow.updated_at = workflow.deleted_at
            return workflow

        workflow = await self.repo.change_workflow(workflow_id, apply)
        self.backend.hints.ring(WORKFLOWS_HINT)
        for execution in await self.repo.live_executions(workflow_id, limit=1000):
            await self.cancel(execution.id, tenant=None)
        log.info("workflow deleted", extra={"workflow_id": workflow_id})
        return workflow

    # --- executions ----------------------------------------------------------------------------------------
    async def trigger(self, workflow_id: str, trigger_data: dict[str, Any] | None, *,
                      tenant: str | None) -> Execution:
        workflow = await self.repo.get_workflow(workflow_id, tenant=tenant)
        if not workflow.runnable:
            raise WorkflowNotRunnable(f"Cannot trigger workflow {workflow_id}: {workflow.why_not_runnable()}.")
        started = await self.start(workflow, "manual", trigger_data or {}, new_execution_id(utcnow()))
        return started.execution

    async def start(self, workflow: Workflow, trigger_type: TriggerType, trigger_data: dict[str, Any],
                    execution_id: str, *, due_at: datetime | None = None) -> Started:
        """Create the execution ``execution_id`` and its job; an existing one is returned (created=False)."""
        now = utcnow()
        execution = Execution(
            id=execution_id, workflow_id=workflow.id, tenant=workflow.tenant, trigger_type=trigger_type,
            trigger_data=trigger_data, definition=workflow.definition, created_at=now, updated_at=now,
            due_at=due_at, job_id=execution_job_id(execution_id),
            input_file_ids=[str(trigger_data["file_id"])] if "file_id" in trigger_data else [],
        )
        created = True
        try:
            await self._storage(self.backend.records.create(
                execution_record(execution, expiry_for("execution", self.app.settings))))
        except RecordExists:
            execution, _ = await self.repo.get_execution(execution_id)
            created = False
        await self._ensure_job(execution)
        if created:
            log.info("execution created", extra={"execution_id": execution.id, "workflow_id": workflow.id,
                                                  "trigger_type": trigger_type})
        return Started(execution, created)

    async def _ensure_job(self, execution: Execution) -> None:
        spec = self.app.job_spec(EXECUTION_SERVICE)
        payload = {"execution_id": execution.id}
        now = utcnow()
        job = Job(job_id=execution_job_id(execution.id), service=spec.name, payload=payload,
                  payload_hash=payload_hash(payload, scope=f"{spec.name}\x00execution"), tenant=execution.tenant,
                  created_utc=now, updated_utc=now)
        with contextlib.suppress(DuplicateJob):  # made by an earlier or concurrent start of this execution
            await self._storage(self.backend.create_and_enqueue(job, spec.queue_name))

    async def execution(self, execution_id: str, *, tenant: str | None) -> Execution:
        execution, _ = await self.repo.get_execution(execution_id, tenant=tenant)
        return execution

    async def executions(self, *, tenant: str | None, workflow_id: str | None = None,
                         status: ExecutionStatus | None = None, skip: int = 0,
                         limit: int = 50) -> tuple[builtins.list[Execution], int]:
        if workflow_id is not None:
            await self.repo.get_workflow(workflow_id, tenant=tenant, include_deleted=True)
        where: dict[str, str] = {}
        if workflow_id is not None:
            where["workflow_id"] = workflow_id
        if tenant is not None:
            where["tenant"] = tenant_field(tenant)
        if status is not None:
            where["status"] = status.value
        page = await self.backend.records.list(EXECUTION, where=where, limit=min(skip + limit, 5000))
        total = await self.backend.records.count(EXECUTION, where=where, limit=100_000)
        items = [Execution.model_validate(r.body) for r in page.records[skip: skip + limit]]
        return items, total

    async def cancel(self, execution_id: str, *, tenant: str | None) -> Execution:
        """Cancel: at once when no worker is inside the execution, else at its next step boundary."""
        await self.repo.get_execution(execution_id, tenant=tenant)
        ended_here = False

        def apply(execution: Execution) -> Execution | None:
            nonlocal ended_here
            if execution.status.is_terminal:
                raise ExecutionFinished(f"Execution {execution_id} has already finished "
                                        f"({execution.status.value}).")
            execution.cancel_requested = True
            ended_here = execution.phase != "running"
            if ended_here:
                mark_finished(execution, ExecutionStatus.CANCELLED, utcnow(), "cancelled on request")
            return execution

        execution = await self.repo.change_execution(execution_id, apply)
        if ended_here:
            await cancel_children(self.app, self.backend, execution)
            await after_finish(self.app, self.repo, execution)
        log.info("execution cancel requested", extra={"execution_id": execution_id, "immediate": ended_here})
        return execution

    @staticmethod
    async def _storage(awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RecordExists, DuplicateJob):
            raise
        except StorageUnavailable:
            raise
        except StorageError as exc:
            raise StorageUnavailable(f"Storage failed; nothing was changed ({exc}). Retry shortly.") from exc


def _status_of(data: Any) -> WorkflowStatus:
    value = data.get("status", "active") if isinstance(data, dict) else "active"
    if value not in _STATUS_UPDATES:
        raise PayloadError(f"status: {value!r} is not one of active, inactive, paused.")
    return _STATUS_UPDATES[value]


def _without(data: Any, key: str) -> Any:
    return {k: v for k, v in data.items() if k != key} if isinstance(data, dict) else data


_LEGACY_KEYS = frozenset({"config", "workflow_config", "cron_expression", "cron_schedule", "timezone", "is_scheduled",
                          "trigger_on_file_upload", "trigger_file_extensions", "trigger_config"})


def _definition_changes(patch: dict[str, Any]) -> dict[str, Any]:
    """The definition fields a partial update sets (legacy keys mapped; absent fields left alone)."""
    if not patch:
        return {}
    mapped = map_legacy(patch)
    keep = set(patch) - _LEGACY_KEYS
    if "config" in patch or "workflow_config" in patch:
        keep.add("steps")
    if any(k in patch for k in ("cron_expression", "cron_schedule", "trigger_on_file_upload")):
        keep.add("triggers")
    return {key: mapped[key] for key in keep if key in mapped}


__all__ = ["Started", "WorkflowDefinition", "WorkflowService"]
