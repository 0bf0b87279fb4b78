"""The cron scheduler: fires each scheduled workflow at its due times, exactly once per due time.

It is meant to run in one process (a ``runs_on="one"`` leader service), but does not rely on it: the execution
id of a firing is derived from (workflow id, due time) and created with the record port's exactly-one-wins
``create``, so two schedulers that overlap during a failover still start one execution.

Costs nothing per due time it does not fire, and almost nothing while nothing changes: it re-reads the scheduled
workflows (one list request) when the workflows' doorbell rings (``WORKFLOWS_HINT``, rung by every create,
update and delete, and seen in the copy of the cluster partition its process reads anyway, within a poll cycle
or a heartbeat), and besides every :data:`SAFETY_REFRESH_FACTOR` x PRAISONAI_WORKFLOW_SCHEDULE_REFRESH_SECONDS
(20 minutes by default) in case a ring was lost; in between it sleeps until the next due time (at most 30 s).
A due time missed while a change was on its way still fires within ``misfire_grace_seconds``. Its status
(last tick, next due time, counts) rides on the leader's heartbeat (:meth:`CronScheduler.details`), which
``/health`` reads from the leader lease: no write of its own.

Misfires (the scheduler was not running): the most recent missed due time runs once if it is at most the
workflow's ``misfire_grace_seconds`` old, else it is skipped and logged; older missed times are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import PraisonSvcError, StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.workflows.cron import CronError, due_between, next_due
from praisonai_svc.workflows.definition import CronTrigger
from praisonai_svc.workflows.ids import cron_execution_id, due_key
from praisonai_svc.workflows.models import Workflow
from praisonai_svc.workflows.repository import WORKFLOW, WORKFLOWS_HINT
from praisonai_svc.workflows.use_cases import WorkflowService

log = get_logger("workflows.scheduler")
MAX_SLEEP_SECONDS = 30.0
SAFETY_REFRESH_FACTOR = 40  # without a ring of the workflows' doorbell, re-read them every this many intervals
MAX_CATCH_UP = 100  # due times one slot fires in one tick after a stall (older ones wait for the next tick)


@dataclass
class Slot:
    """One cron trigger of one workflow and its next due time."""

    workflow: Workflow
    trigger: CronTrigger
    next_due: datetime


@dataclass
class SchedulerStatus:
    """What /health shows: who schedules, when it last looked, what is due next."""

    instance: str | None = None
    running: bool = False
    last_tick: datetime | None = None
    next_due: datetime | None = None
    scheduled_workflows: int = 0
    fired: int = 0
    skipped: int = 0
    lateness_ms: list[float] = field(default_factory=list)


class CronScheduler:
    def __init__(self, app: ServiceApp, backend: Backend, *, instance: str = "") -> None:
        self.app = app
        self.backend = backend
        self.service = WorkflowService(app, backend)
        self.status = SchedulerStatus(instance=instance or None)
        self._slots: dict[tuple[str, int], Slot] = {}
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._seen_hint: tuple[str | None, int] = ("-", 0)  # the doorbell at the last refresh ("-": none yet)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Schedule until :meth:`stop`; storage errors are logged and retried at the next refresh."""
        self.status.running = True
        self.status.last_tick = utcnow()
        refresh_every = self.app.settings.workflow_schedule_refresh_seconds
        next_refresh = utcnow()
        log.info("cron scheduler started", extra={"instance": self.status.instance})
        try:
            while not self._stop.is_set():
                now = utcnow()
                hint = (self.backend.cluster.snapshot.hint_tag(WORKFLOWS_HINT),
                        self.backend.hints.rung.get(WORKFLOWS_HINT, 0))  # rung elsewhere, or in this process
                if now >= next_refresh or hint != self._seen_hint:
                    if await self._refresh_quietly(now):
                        self._seen_hint = hint
                    next_refresh = now + timedelta(seconds=refresh_every * SAFETY_REFRESH_FACTOR)
                self._fire_due(utcnow())
                self.status.last_tick = utcnow()
                wake = min([slot.next_due for slot in self._slots.values()] + [next_refresh])
                self.status.next_due = min((s.next_due for s in self._slots.values()), default=None)
                delay = min(max((wake - utcnow()).total_seconds(), 0.0), MAX_SLEEP_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
        finally:
            if self._inflight:
                await asyncio.wait(set(self._inflight), timeout=10)
            self.status.running = False
            log.info("cron scheduler stopped", extra={"fired": self.status.fired})

    def details(self) -> dict[str, object]:
        """What /health shows of the scheduler; the leader's heartbeat (its lease renewals) carries it."""
        status = self.status
        return {"instance": status.instance,
                "last_tick": status.last_tick.isoformat() if status.last_tick else None,
                "next_due": status.next_due.isoformat() if status.next_due else None,
                "scheduled_workflows": status.scheduled_workflows, "fired": status.fired}

    async def _refresh_quietly(self, now: datetime) -> bool:
        try:
            await self.refresh(now)
        except StorageError as exc:
            log.warning("could not read the scheduled workflows; will try again", extra={"error": str(exc)})
            return False
        return True

    async def refresh(self, now: datetime) -> None:
        """Re-read the scheduled workflows; new ones get their misfire check, removed ones are dropped."""
        workflows: dict[str, Workflow] = {}
        cursor: str | None = None
        while True:
            page = await self.backend.records.list(WORKFLOW, where={"scheduled": "1"}, limit=500, cursor=cursor)
            for record in page.records:
                workflow = Workflow.model_validate(record.body)
                if workflow.runnable:
                    workflows[workflow.id] = workflow
            cursor = page.next_cursor
            if cursor is None:
                break
        slots: dict[tuple[str, int], Slot] = {}
        for workflow in workflows.values():
            for index, trigger in enumerate(workflow.definition.cron_triggers):
                key = (workflow.id, index)
                known = self._slots.get(key)
                if known is not None and known.trigger == trigger:
                    known.workflow = workflow
                    slots[key] = known
                    continue
                slot = self._first_slot(workflow, trigger, now)
                if slot is not None:
                    slots[key] = slot
        self._slots = slots
        self.status.scheduled_workflows = len(workflows)

    def _first_slot(self, workflow: Workflow, trigger: CronTrigger, now: datetime) -> Slot | None:
        """The slot of a trigger seen for the first time: a recent missed due time first (misfire grace)."""
        since = workflow.last_scheduled_due or workflow.updated_at
        try:
            missed = due_between(trigger.expression, trigger.timezone, since, now, limit=1000)
            upcoming = next_due(trigger.expression, trigger.timezone, now)
        except CronError as exc:
            log.error("cron trigger cannot be scheduled", extra={"workflow_id": workflow.id, "error": str(exc)})
            return None
        if missed:
            grace = timedelta(seconds=workflow.definition.misfire_grace_seconds)
            newest = missed[-1]
            if now - newest <= grace:
                if len(missed) > 1:
                    self._log_skipped(workflow, len(missed) - 1, "older than the newest missed due time")
                return Slot(workflow, trigger, newest)
            self._log_skipped(workflow, len(missed), f"missed by more than {grace.total_seconds():g} s")
        return Slot(workflow, trigger, upcoming)

    def _log_skipped(self, workflow: Workflow, count: int, why: str) -> None:
        self.status.skipped += count
        log.warning("missed cron due times skipped", extra={"workflow_id": workflow.id, "count": count, "why": why})

    def _fire_due(self, now: datetime) -> None:
        """Fire every due time that has come; a busy process that woke late still fires each one (within grace)."""
        for slot in self._slots.values():
            grace = timedelta(seconds=slot.workflow.definition.misfire_grace_seconds)
            try:
                if now - slot.next_due > grace:  # stalled past the grace: skip to the due times still in it
                    self._log_skipped(slot.workflow, 1, f"late by more than {grace.total_seconds():g} s")
                    slot.next_due = next_due(slot.trigger.expression, slot.trigger.timezone, now - grace)
                fired = 0
                while slot.next_due <= now and fired < MAX_CATCH_UP:
                    self._spawn_fire(slot.workflow, slot.next_due)
                    fired += 1
                    slot.next_due = next_due(slot.trigger.expression, slot.trigger.timezone, slot.next_due)
            except CronError:
                slot.next_due = now + timedelta(days=365)

    def _spawn_fire(self, workflow: Workflow, due: datetime) -> None:
        task = asyncio.create_task(self._fire(workflow, due), name=f"cron-{workflow.id[:12]}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _fire(self, workflow: Workflow, due: datetime) -> None:
        """Start the execution of ``workflow`` for ``due`` (once, whoever else tries too)."""
        try:
            if workflow.definition.overlap == "skip":
                live = await self.service.repo.live_executions(workflow.id, limit=1)
                if live:
                    self.status.skipped += 1
                    log.info("cron firing skipped: the previous execution still runs",
                             extra={"workflow_id": workflow.id, "due": due_key(due), "running": live[0].id})
                    return
            started = await self.service.start(
                workflow, "scheduled", {"due_at": due_key(due), "expression": _expression(workflow, due),
                                        "timezone": _timezone(workflow)},
                cron_execution_id(workflow.id, due), due_at=due)
        except (PraisonSvcError, StorageError) as exc:
            log.error("cron firing failed", extra={"workflow_id": workflow.id, "due": due_key(due), "error": str(exc)})
            return
        if started.created:
            lateness = (started.execution.created_at - due).total_seconds() * 1000
            self.status.fired += 1
            self.status.lateness_ms = [*self.status.lateness_ms[-999:], lateness]
            log.info("cron fired", extra={"workflow_id": workflow.id, "due": due_key(due),
                                          "execution_id": started.execution.id, "lateness_ms": round(lateness, 1)})
            await self._remember(workflow.id, due)

    async def _remember(self, workflow_id: str, due: datetime) -> None:
        """Keep the newest handled due time on the workflow, for the misfire check of the next scheduler."""

        def change(workflow: Workflow) -> Workflow | None:
            if workflow.last_scheduled_due is not None and workflow.last_scheduled_due >= due:
                return None
            workflow.last_scheduled_due = due
            return workflow

        try:
            await self.service.repo.change_workflow(workflow_id, change)
        except (PraisonSvcError, StorageError) as exc:
            log.warning("could not record the last due time", extra={"workflow_id": workflow_id, "error": str(exc)})


def _expression(workflow: Workflow, due: datetime) -> str:
    crons = workflow.definition.cron_triggers
    return crons[0].expression if len(crons) == 1 else ", ".join(t.expression for t in crons)


def _timezone(workflow: Workflow) -> str:
    crons = workflow.definition.cron_triggers
    return crons[0].timezone if crons else "UTC"
