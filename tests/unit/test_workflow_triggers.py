"""The cron scheduler and file triggers on the memory backend, driven with explicit times (no sleeping)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from praisonai_svc import ServiceApp
from praisonai_svc.backend import memory_backend
from praisonai_svc.events import Event
from praisonai_svc.models.job import utcnow
from praisonai_svc.settings import Settings
from praisonai_svc.workflows.file_triggers import install_file_triggers
from praisonai_svc.workflows.ids import cron_execution_id
from praisonai_svc.workflows.models import Workflow
from praisonai_svc.workflows.repository import EXECUTION
from praisonai_svc.workflows.scheduler import CronScheduler
from praisonai_svc.workflows.use_cases import WorkflowService

LOG_STEP = [{"id": "a", "type": "log", "message": "m"}]


def make_app() -> ServiceApp:
    app = ServiceApp("Triggers", settings=Settings(), backend=memory_backend())

    @app.job("echo")
    def echo(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"x", "text/plain", "x.txt"

    return app


async def executions(app: ServiceApp) -> list[dict[str, Any]]:
    assert app.backend is not None
    page = await app.backend.records.list(EXECUTION, limit=1000)
    return [record.body for record in page.records]


async def scheduled(app: ServiceApp, expression: str = "* * * * * */2", **extra: Any) -> Workflow:
    assert app.backend is not None
    service = WorkflowService(app, app.backend)
    return await service.create({"name": "Cron", "triggers": [{"type": "cron", "expression": expression}],
                                 "steps": LOG_STEP, **extra}, tenant=None)


async def test_two_schedulers_fire_a_due_time_once() -> None:
    app = make_app()
    assert app.backend is not None
    workflow = await scheduled(app)
    due = (utcnow() + timedelta(seconds=10)).replace(microsecond=0)
    first, second = CronScheduler(app, app.backend, instance="a"), CronScheduler(app, app.backend, instance="b")
    await asyncio.gather(first._fire(workflow, due), second._fire(workflow, due), first._fire(workflow, due))
    made = await executions(app)
    assert [body["id"] for body in made] == [cron_execution_id(workflow.id, due)]
    assert made[0]["trigger_type"] == "scheduled" and made[0]["trigger_data"]["due_at"] == due.isoformat()
    assert first.status.fired + second.status.fired == 1
    stored = await WorkflowService(app, app.backend).get(workflow.id, tenant=None)
    assert stored.last_scheduled_due == due


async def test_overlap_skip_does_not_start_a_second_execution() -> None:
    app = make_app()
    assert app.backend is not None
    workflow = await scheduled(app)  # overlap defaults to skip
    scheduler = CronScheduler(app, app.backend)
    due = utcnow().replace(microsecond=0)
    await scheduler._fire(workflow, due)
    await scheduler._fire(workflow, due + timedelta(seconds=2))  # the first is still pending: skipped
    assert len(await executions(app)) == 1 and scheduler.status.skipped == 1
    allowing = await scheduled(app, overlap="allow")
    await scheduler._fire(allowing, due)
    await scheduler._fire(allowing, due + timedelta(seconds=2))
    assert len([b for b in await executions(app) if b["workflow_id"] == allowing.id]) == 2


async def test_misfires_run_the_newest_missed_time_within_grace_else_skip() -> None:
    app = make_app()
    assert app.backend is not None
    workflow = await scheduled(app, "*/5 * * * *")
    workflow.updated_at = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)
    trigger = workflow.definition.cron_triggers[0]
    scheduler = CronScheduler(app, app.backend)
    late = scheduler._first_slot(workflow, trigger, datetime(2026, 1, 1, 12, 20, 30, tzinfo=UTC))
    assert late is not None and late.next_due == datetime(2026, 1, 1, 12, 20, tzinfo=UTC)  # 30 s late: run it
    assert scheduler.status.skipped == 3  # 12:05, 12:10, 12:15 are older than the newest: skipped
    too_late = scheduler._first_slot(workflow, trigger, datetime(2026, 1, 1, 12, 21, 30, tzinfo=UTC))
    assert too_late is not None and too_late.next_due == datetime(2026, 1, 1, 12, 25, tzinfo=UTC)
    assert scheduler.status.skipped == 3 + 4  # 90 s late is past the 60 s grace: all four skipped
    workflow.last_scheduled_due = datetime(2026, 1, 1, 12, 20, tzinfo=UTC)  # a previous scheduler fired 12:20
    resumed = scheduler._first_slot(workflow, trigger, datetime(2026, 1, 1, 12, 21, 30, tzinfo=UTC))
    assert resumed is not None and resumed.next_due == datetime(2026, 1, 1, 12, 25, tzinfo=UTC)
    assert scheduler.status.skipped == 7


async def test_refresh_sees_only_runnable_scheduled_workflows() -> None:
    app = make_app()
    assert app.backend is not None
    active = await scheduled(app)
    paused = await scheduled(app)
    service = WorkflowService(app, app.backend)
    await service.update(paused.id, {"status": "paused"}, tenant=None)
    await service.create({"name": "Manual", "steps": LOG_STEP}, tenant=None)
    scheduler = CronScheduler(app, app.backend)
    await scheduler.refresh(utcnow())
    assert {key[0] for key in scheduler._slots} == {active.id}
    assert scheduler.status.scheduled_workflows == 1


async def test_the_scheduler_loop_fires_and_stops() -> None:
    app = make_app()
    assert app.backend is not None
    workflow = await scheduled(app, "* * * * * *")  # every second
    scheduler = CronScheduler(app, app.backend)
    task = asyncio.create_task(scheduler.run())
    for _ in range(300):
        if scheduler.status.fired:
            break
        await asyncio.sleep(0.01)
    scheduler.stop()
    await asyncio.wait_for(task, 5)
    made = await executions(app)
    assert made and all(body["workflow_id"] == workflow.id for body in made)
    assert scheduler.status.last_tick is not None and not scheduler.status.running


def file_event(topic: str, file_id: str, filename: str, *, tenant: str | None = None, size: int = 10) -> Event:
    return Event(topic=topic, subject=file_id, tenant=tenant,
                 data={"file_id": file_id, "filename": filename, "original_filename": filename,
                       "mime_type": "text/csv", "file_size": size})


async def test_file_events_start_matching_workflows_once_per_workflow_file_and_event() -> None:
    app = make_app()
    assert app.backend is not None
    service = WorkflowService(app, app.backend)
    csv = await service.create({"name": "CSV", "steps": LOG_STEP, "triggers": [
        {"type": "file_processed", "file_extensions": ["csv"], "max_file_size": 100}]}, tenant=None)
    await service.create({"name": "PDF", "steps": LOG_STEP, "triggers": [
        {"type": "file_processed", "file_extensions": ["pdf"]}]}, tenant=None)
    upload = await service.create({"name": "Any upload", "steps": LOG_STEP, "trigger_on_file_upload": True},
                                  tenant=None)
    await service.create({"name": "Other tenant", "steps": LOG_STEP, "triggers": [
        {"type": "file_processed"}]}, tenant="globex")
    unsubscribe = install_file_triggers(app, app.backend)
    try:
        for _ in range(2):  # a repeated event starts nothing new
            await app.events.publish(file_event("file.processed", "f1", "data.csv"))
            await app.events.publish(file_event("file.uploaded", "f1", "data.csv"))
        await app.events.publish(file_event("file.processed", "f2", "big.csv", size=1000))  # too large
    finally:
        unsubscribe()
    made = await executions(app)
    started = sorted((body["workflow_id"], body["trigger_type"]) for body in made)
    assert started == sorted([(csv.id, "file_processed"), (upload.id, "file_upload")])
    by_workflow = {body["workflow_id"]: body for body in made}
    assert by_workflow[csv.id]["trigger_data"]["file_id"] == "f1"
    assert by_workflow[csv.id]["input_file_ids"] == ["f1"]
    await app.events.publish(file_event("file.processed", "f3", "data.csv"))  # unsubscribed: nothing
    assert len(await executions(app)) == 2


async def test_file_events_stay_in_their_tenant() -> None:
    app = make_app()
    assert app.backend is not None
    service = WorkflowService(app, app.backend)
    acme = await service.create({"name": "Acme", "steps": LOG_STEP, "triggers": [{"type": "file_upload"}]},
                                tenant="acme")
    unsubscribe = install_file_triggers(app, app.backend)
    await app.events.publish(file_event("file.uploaded", "g1", "x.csv", tenant="globex"))
    await app.events.publish(file_event("file.uploaded", "a1", "x.csv", tenant="acme"))
    unsubscribe()
    made = await executions(app)
    assert [(body["workflow_id"], body["tenant"]) for body in made] == [(acme.id, "acme")]


def test_due_ids_are_stable_across_processes() -> None:
    due = datetime(2026, 12, 3, 18, 0, 2, 123456, tzinfo=UTC)
    assert cron_execution_id("wf", due) == cron_execution_id("wf", due.replace(microsecond=0))


async def test_resume_after_a_crash_starts_at_the_first_unfinished_step() -> None:
    from praisonai_svc.logs import job_logger
    from praisonai_svc.workflows.engine import ExecutionEngine
    from praisonai_svc.workflows.gateways import Gateways
    from praisonai_svc.workflows.models import ExecutionStatus, StepRecord
    from praisonai_svc.workflows.repository import WorkflowRepository

    app = make_app()
    assert app.backend is not None
    service = WorkflowService(app, app.backend)
    workflow = await service.create({"name": "Three", "steps": [
        {"id": "one", "type": "log", "message": "one"}, {"id": "two", "type": "log", "message": "two"},
        {"id": "three", "type": "log", "message": "three {{ steps.one.message }}"}]}, tenant=None)
    execution = await service.trigger(workflow.id, {}, tenant=None)
    repo = WorkflowRepository(app.backend.records)

    def crashed_in_step_two(current: Any) -> Any:  # what a kill -9 inside step "two" leaves behind
        now = utcnow()
        current.status, current.started_at, current.phase, current.cursor = ExecutionStatus.RUNNING, now, "running", 1
        current.steps = {"one": StepRecord(status="completed", attempt=1, result={"message": "one"}),
                         "two": StepRecord(status="running", attempt=1, started_at=now)}
        return current

    await repo.change_execution(execution.id, crashed_in_step_two)
    engine = ExecutionEngine(app, app.backend, Gateways(), job_logger("workflow-execution", "j", 2))
    assert await engine.advance(execution.id) is None
    done = await service.execution(execution.id, tenant=None)
    assert done.status == "completed"
    assert [entry.step for entry in done.log if entry.step] == ["two", "two", "three"]  # resumed, then ran on
    assert done.steps["one"].attempt == 1 and done.steps["two"].attempt == 1  # same attempt, not a new one
    assert done.steps["three"].result == {"message": "three one"}
    assert await engine.advance(execution.id) is None  # a finished execution does nothing more
    assert (await service.execution(execution.id, tenant=None)).log == done.log


async def test_overlap_queue_runs_scheduled_executions_one_at_a_time_oldest_first() -> None:
    from praisonai_svc.logs import job_logger
    from praisonai_svc.workflows.engine import ExecutionEngine
    from praisonai_svc.workflows.gateways import Gateways
    from praisonai_svc.workflows.models import ExecutionStatus

    app = make_app()
    assert app.backend is not None
    workflow = await scheduled(app, overlap="queue")
    scheduler = CronScheduler(app, app.backend)
    due = utcnow().replace(microsecond=0)
    for offset in (0, 2, 4):  # three due times while none has run yet
        await scheduler._fire(workflow, due + timedelta(seconds=offset))
    first, second, third = (cron_execution_id(workflow.id, due + timedelta(seconds=s)) for s in (0, 2, 4))
    engine = ExecutionEngine(app, app.backend, Gateways(), job_logger("workflow-execution", "j", 1))
    service = WorkflowService(app, app.backend)

    async def status(execution_id: str) -> ExecutionStatus:
        return (await service.execution(execution_id, tenant=None)).status

    assert await engine.advance(third) is not None  # two older ones are unfinished: it waits
    assert await engine.advance(second) is not None
    assert await engine.advance(first) is None and await status(first) == "completed"
    assert await engine.advance(third) is not None  # the second is still waiting its turn: not both at once
    assert await status(third) == "pending"
    assert await engine.advance(second) is None and await status(second) == "completed"
    assert await engine.advance(third) is None and await status(third) == "completed"


async def test_a_workflow_keeps_its_newest_max_executions_and_counts_them_all() -> None:
    from praisonai_svc.logs import job_logger
    from praisonai_svc.workflows.engine import ExecutionEngine
    from praisonai_svc.workflows.gateways import Gateways
    from praisonai_svc.workflows.outcomes import PRUNE_EVERY

    app = ServiceApp("Retention", settings=Settings(workflow_max_executions=3), backend=memory_backend())
    assert app.backend is not None
    service = WorkflowService(app, app.backend)
    workflow = await service.create({"name": "Many", "steps": LOG_STEP}, tenant=None)
    engine = ExecutionEngine(app, app.backend, Gateways(), job_logger("workflow-execution", "j", 1))
    started: list[str] = []
    for _ in range(PRUNE_EVERY):
        execution = await service.trigger(workflow.id, {}, tenant=None)
        assert await engine.advance(execution.id) is None
        started.append(execution.id)
    kept = [body["id"] for body in await executions(app)]
    assert kept == sorted(started)[:3]  # the newest three (ids list newest first)
    stored = await service.get(workflow.id, tenant=None)
    assert (stored.execution_stats.total, stored.execution_stats.successful) == (PRUNE_EVERY, PRUNE_EVERY)
    assert stored.last_execution_at is not None
