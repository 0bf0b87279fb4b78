"""File triggers: ``file.uploaded`` and ``file.processed`` events start the matching workflows of the file's tenant.

A trigger is claimed once per (workflow, file, event) with a deterministic claim record, which also names the
execution it started, so a repeated event (or a publisher that retries) starts nothing new and a start that
was interrupted after the claim is finished by the next attempt.

File events are durable (praisonai_svc.files.outbox): each stays recorded on its file until every subscriber has
handled it, and is delivered again after a crash. So a start that storage failed makes this handler raise once
every matching workflow has been tried: the event stays pending and comes back, and the workflows it already
started are found again by their claims. A permanent failure (e.g. an invalid definition) is logged and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import PraisonSvcError, RecordExists, RecordTooLarge, StorageError
from praisonai_svc.events import Event
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record
from praisonai_svc.retention import expiry_for
from praisonai_svc.workflows.ids import file_trigger_id, new_execution_id
from praisonai_svc.workflows.models import TriggerType, Workflow
from praisonai_svc.workflows.repository import WORKFLOW, tenant_field
from praisonai_svc.workflows.service import gateways_for
from praisonai_svc.workflows.use_cases import WorkflowService

log = get_logger("workflows.triggers")
CLAIM = "wf_trigger"
TOPICS: dict[str, TriggerType] = {"file.uploaded": "file_upload", "file.processed": "file_processed"}


def install_file_triggers(app: ServiceApp, backend: Backend) -> Callable[[], None]:
    """Subscribe this process's file events to workflows; returns the unsubscribe function.

    An API process with an embedded worker installs them twice (API and worker): the second install shares the
    first subscription, which ends when both have unsubscribed.
    """
    app.retention.track(CLAIM)
    holders: list[Callable[[], None]] = getattr(app, "_file_trigger_holders", [])
    if not holders:
        triggers = FileTriggers(app, backend)
        undo = [app.events.subscribe(topic, triggers.on_event) for topic in TOPICS]
        app._file_trigger_undo = undo  # type: ignore[attr-defined]
    app._file_trigger_holders = holders  # type: ignore[attr-defined]

    def unsubscribe() -> None:
        if unsubscribe in holders:
            holders.remove(unsubscribe)
        if not holders:
            for step in getattr(app, "_file_trigger_undo", []):
                step()
            app._file_trigger_undo = []  # type: ignore[attr-defined]

    holders.append(unsubscribe)
    return unsubscribe


class FileTriggers:
    def __init__(self, app: ServiceApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend
        self.service = WorkflowService(app, backend)

    async def on_event(self, event: Event) -> None:
        trigger_type = TOPICS.get(event.topic)
        if trigger_type is None:
            return
        data = event.data
        filename = str(data.get("original_filename") or data.get("filename") or "")
        mime_type, size = str(data.get("mime_type") or ""), int(data.get("file_size") or 0)
        retry: StorageError | None = None
        for workflow in await self._candidates(trigger_type, event.tenant):
            if any(t.matches(filename, mime_type, size) for t in workflow.definition.file_triggers(trigger_type)):
                retry = await self._start_quietly(workflow, trigger_type, event) or retry
        if retry is not None:
            raise retry  # the event stays pending on its file and is delivered again (claims dedupe the rest)

    async def _candidates(self, trigger_type: TriggerType, tenant: str | None) -> list[Workflow]:
        where = {f"on_{trigger_type}": "1", "tenant": tenant_field(tenant)}
        found: list[Workflow] = []
        cursor: str | None = None
        while True:
            page = await self.backend.records.list(WORKFLOW, where=where, limit=200, cursor=cursor)
            found.extend(Workflow.model_validate(record.body) for record in page.records)
            cursor = page.next_cursor
            if cursor is None:
                return [workflow for workflow in found if workflow.runnable]

    async def _start_quietly(self, workflow: Workflow, trigger_type: TriggerType, event: Event) -> StorageError | None:
        """Start one workflow; the storage error to retry the event for, if any (other failures are logged)."""
        try:
            await self.start(workflow, trigger_type, event)
        except StorageError as exc:
            if isinstance(exc, RecordTooLarge):
                log.error("file trigger failed", extra={"workflow_id": workflow.id, "file_id": event.subject,
                                                         "event": event.topic, "error": str(exc)})
                return None
            log.warning("file trigger failed; the event is delivered again", extra={
                "workflow_id": workflow.id, "file_id": event.subject, "event": event.topic, "error": str(exc)})
            return exc
        except PraisonSvcError as exc:
            log.error("file trigger failed", extra={"workflow_id": workflow.id, "file_id": event.subject,
                                                     "event": event.topic, "error": str(exc)})
        return None

    async def start(self, workflow: Workflow, trigger_type: TriggerType, event: Event) -> str:
        """Claim (workflow, file, event) and start its execution; the execution id either way."""
        claim_id = file_trigger_id(workflow.id, event.subject, trigger_type)
        execution_id = new_execution_id(utcnow())
        claim = Record(CLAIM, claim_id, {"execution_id": execution_id, "workflow_id": workflow.id,
                                         "file_id": event.subject, "event": trigger_type},
                       expires_utc=expiry_for("execution", self.app.settings))
        first = True
        try:
            await self.backend.records.create(claim)
        except RecordExists:
            execution_id = str((await self.backend.records.get(CLAIM, claim_id)).body["execution_id"])
            first = False
        trigger_data: dict[str, Any] = {**event.data, "file_id": event.subject, "event": event.topic}
        started = await self.service.start(workflow, trigger_type, trigger_data, execution_id)
        files = gateways_for(self.app).files
        if files is not None:
            await files.mark_triggered(event.subject, workflow.id, backend=self.backend)
        if first:
            log.info("file trigger started a workflow", extra={
                "workflow_id": workflow.id, "file_id": event.subject, "event": event.topic,
                "execution_id": started.execution.id})
        return started.execution.id
