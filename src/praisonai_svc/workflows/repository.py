"""Workflows and executions as records (kinds ``workflow`` and ``execution``) in the generic record port."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from praisonai_svc.errors import RecordNotFound
from praisonai_svc.records import Record, RecordPage, RecordStore, update_record
from praisonai_svc.workflows.errors import ExecutionNotFound, WorkflowNotFound
from praisonai_svc.workflows.models import Execution, Workflow, WorkflowStatus

WORKFLOW = "workflow"
EXECUTION = "execution"
# The doorbell (praisonai_svc.cluster, ``hint:@workflows``) rung when a workflow is created, changed or deleted:
# the cron scheduler re-reads the scheduled workflows when it rings, not on a timer. "@" keeps it apart from
# queue names.
WORKFLOWS_HINT = "@workflows"
NO_TENANT = "-"  # the tenant field of records made by untenanted callers


def tenant_field(tenant: str | None) -> str:
    return NO_TENANT if tenant is None else tenant


def workflow_fields(workflow: Workflow) -> dict[str, str]:
    live = workflow.runnable
    definition = workflow.definition
    return {
        "tenant": tenant_field(workflow.tenant),
        "status": workflow.status.value,
        "scheduled": "1" if live and definition.cron_triggers else "0",
        "on_file_upload": "1" if live and definition.file_triggers("file_upload") else "0",
        "on_file_processed": "1" if live and definition.file_triggers("file_processed") else "0",
    }


def execution_fields(execution: Execution) -> dict[str, str]:
    return {
        "workflow_id": execution.workflow_id,
        "tenant": tenant_field(execution.tenant),
        "status": execution.status.value,
        "live": "0" if execution.status.is_terminal else "1",
    }


def workflow_record(workflow: Workflow, etag: str | None = None) -> Record:
    return Record(WORKFLOW, workflow.id, workflow.model_dump(mode="json"), workflow_fields(workflow), etag=etag)


def execution_record(execution: Execution, expires: datetime | None, etag: str | None = None) -> Record:
    return Record(EXECUTION, execution.id, execution.model_dump(mode="json"), execution_fields(execution),
                  expires_utc=expires, etag=etag)


class WorkflowRepository:
    """Reads and conditional writes of workflows and executions; tenants see only their own."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    async def get_workflow(self, workflow_id: str, *, tenant: str | None = None,
                           include_deleted: bool = False) -> Workflow:
        """The workflow; WorkflowNotFound also when ``tenant`` is given and it belongs to another one."""
        try:
            record = await self.records.get(WORKFLOW, workflow_id)
        except RecordNotFound:
            raise WorkflowNotFound() from None
        workflow = Workflow.model_validate(record.body)
        if tenant is not None and workflow.tenant != tenant:
            raise WorkflowNotFound()  # another tenant's ids reveal nothing
        if workflow.status is WorkflowStatus.DELETED and not include_deleted:
            raise WorkflowNotFound()
        return workflow

    async def change_workflow(self, workflow_id: str, change: Callable[[Workflow], Workflow | None]) -> Workflow:
        def apply(record: Record) -> Record | None:
            changed = change(Workflow.model_validate(record.body))
            return None if changed is None else workflow_record(changed, record.etag)

        try:
            record = await update_record(self.records, WORKFLOW, workflow_id, apply)
        except RecordNotFound:
            raise WorkflowNotFound() from None
        assert record is not None
        return Workflow.model_validate(record.body)

    async def get_execution(self, execution_id: str, *,
                            tenant: str | None = None) -> tuple[Execution, Record]:
        try:
            record = await self.records.get(EXECUTION, execution_id)
        except RecordNotFound:
            raise ExecutionNotFound() from None
        execution = Execution.model_validate(record.body)
        if tenant is not None and execution.tenant != tenant:
            raise ExecutionNotFound()
        return execution, record

    async def change_execution(self, execution_id: str,
                               change: Callable[[Execution], Execution | None]) -> Execution:
        def apply(record: Record) -> Record | None:
            changed = change(Execution.model_validate(record.body))
            return None if changed is None else execution_record(changed, record.expires_utc, record.etag)

        try:
            record = await update_record(self.records, EXECUTION, execution_id, apply)
        except RecordNotFound:
            raise ExecutionNotFound() from None
        assert record is not None
        return Execution.model_validate(record.body)

    async def list_executions(self, where: dict[str, str], *, limit: int, cursor: str | None = None) -> RecordPage:
        return await self.records.list(EXECUTION, where=where, limit=limit, cursor=cursor)

    async def live_executions(self, workflow_id: str, *, limit: int = 10) -> list[Execution]:
        page = await self.records.list(EXECUTION, where={"workflow_id": workflow_id, "live": "1"}, limit=limit)
        return [Execution.model_validate(record.body) for record in page.records]

    async def older_live_execution(self, execution: Execution) -> Execution | None:
        """The newest unfinished execution of the same workflow that was created before ``execution``, if any.

        Execution ids list newest first, so it is the first live one after ``execution``'s id: one query.
        """
        page = await self.records.list(EXECUTION, where={"workflow_id": execution.workflow_id, "live": "1"},
                                       limit=1, cursor=execution.id)
        return Execution.model_validate(page.records[0].body) if page.records else None
