"""``/workflows`` and ``/executions``: a thin router over :class:`~praisonai_svc.workflows.use_cases.WorkflowService`.

The same auth and tenants as ``/jobs``: a tenant sees only its own workflows and executions (another tenant's
ids answer 404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from praisonai_svc.api.auth import principal_of, require_access
from praisonai_svc.api.body import read_limited
from praisonai_svc.api.deps import backend, service_app
from praisonai_svc.api.jobs import GUARDED, _error
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.workflows.cron import CronError, next_runs
from praisonai_svc.workflows.models import ExecutionStatus, WorkflowStatus
from praisonai_svc.workflows.use_cases import WorkflowService
from praisonai_svc.workflows.views import (
    CronCheck,
    CronCheckResult,
    ExecutionBody,
    ExecutionPage,
    TriggerRequest,
    WorkflowBody,
    WorkflowPage,
)

router = APIRouter(tags=["workflows"], dependencies=[Depends(require_access)])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No such workflow or execution (or another tenant's)")}
INVALID: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid workflow definition; the message names the step and field")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _error("Not possible in the current state (inactive, paused, disabled, finished)")}
Skip = Annotated[int, Query(ge=0, le=100_000)]
Limit = Annotated[int, Query(ge=1, le=500)]


async def workflow_service(request: Request) -> WorkflowService:
    return WorkflowService(service_app(request), backend(request))


Service = Annotated[WorkflowService, Depends(workflow_service)]


def _tenant(request: Request) -> str | None:
    return principal_of(request).tenant


async def _document(request: Request) -> Any:
    settings = service_app(request).settings
    raw = await read_limited(request, settings.max_payload_size, settings.body_read_timeout_seconds)
    return await request.app.state.parse_pool.parse(raw, request.headers.get("content-type", ""))  # off the loop


@router.post("/workflows", status_code=201, response_model=WorkflowBody, responses={**GUARDED, **INVALID},
             summary="Create a workflow (JSON or YAML)", openapi_extra=GUARDED_EXTRA)
async def create_workflow(request: Request, service: Service) -> JSONResponse:
    workflow = await service.create(await _document(request), tenant=_tenant(request))
    return JSONResponse(WorkflowBody.of(workflow).model_dump(mode="json"), status_code=201,
                        headers={"Location": f"/workflows/{workflow.id}"})


@router.get("/workflows", response_model=WorkflowPage, responses=GUARDED, summary="List workflows",
            openapi_extra=GUARDED_EXTRA)
async def list_workflows(request: Request, service: Service, skip: Skip = 0, limit: Limit = 50,
                         status: WorkflowStatus | None = None) -> WorkflowPage:
    workflows, total = await service.list(tenant=_tenant(request), status=status, skip=skip, limit=limit)
    return WorkflowPage(workflows=[WorkflowBody.of(w) for w in workflows], total=total, skip=skip, limit=limit)


@router.post("/workflows/validate-cron", response_model=CronCheckResult, responses=GUARDED,
             summary="Check a cron expression and show its next 5 due times (UTC)", openapi_extra=GUARDED_EXTRA)
async def validate_cron(check: CronCheck) -> CronCheckResult:
    try:
        return CronCheckResult(is_valid=True, next_runs=next_runs(check.expression, check.timezone, count=5))
    except CronError as exc:
        return CronCheckResult(is_valid=False, error=exc.message)


@router.get("/workflows/{workflow_id}", response_model=WorkflowBody, responses={**GUARDED, **NOT_FOUND},
            summary="A workflow", openapi_extra=GUARDED_EXTRA)
async def get_workflow(workflow_id: str, request: Request, service: Service) -> WorkflowBody:
    return WorkflowBody.of(await service.get(workflow_id, tenant=_tenant(request)))


@router.put("/workflows/{workflow_id}", response_model=WorkflowBody, responses={**GUARDED, **NOT_FOUND, **INVALID},
            summary="Partial update (any field, status, is_enabled)", openapi_extra=GUARDED_EXTRA)
async def update_workflow(workflow_id: str, request: Request, service: Service) -> WorkflowBody:
    patch = await _document(request)
    return WorkflowBody.of(await service.update(workflow_id, patch, tenant=_tenant(request)))


@router.delete("/workflows/{workflow_id}", response_model=WorkflowBody, responses={**GUARDED, **NOT_FOUND},
               summary="Soft delete; cancels its running executions", openapi_extra=GUARDED_EXTRA)
async def delete_workflow(workflow_id: str, request: Request, service: Service) -> WorkflowBody:
    return WorkflowBody.of(await service.delete(workflow_id, tenant=_tenant(request)))


@router.post("/workflows/{workflow_id}/trigger", status_code=202, response_model=ExecutionBody,
             responses={**GUARDED, **NOT_FOUND, **CONFLICT}, summary="Run it now", openapi_extra=GUARDED_EXTRA)
async def trigger_workflow(workflow_id: str, request: Request, service: Service,
                           body: TriggerRequest | None = None) -> JSONResponse:
    trigger_data = body.trigger_data if body is not None else None
    execution = await service.trigger(workflow_id, trigger_data, tenant=_tenant(request))
    return JSONResponse(ExecutionBody.of(execution).model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/executions/{execution.id}"})


@router.get("/workflows/{workflow_id}/executions", response_model=ExecutionPage,
            responses={**GUARDED, **NOT_FOUND}, summary="A workflow's executions, newest first",
            openapi_extra=GUARDED_EXTRA)
async def workflow_executions(workflow_id: str, request: Request, service: Service, skip: Skip = 0,
                              limit: Limit = 50, status: ExecutionStatus | None = None) -> ExecutionPage:
    items, total = await service.executions(tenant=_tenant(request), workflow_id=workflow_id, status=status,
                                            skip=skip, limit=limit)
    return ExecutionPage(executions=[ExecutionBody.of(e) for e in items], total=total, skip=skip, limit=limit)


@router.get("/executions", response_model=ExecutionPage, responses=GUARDED,
            summary="All executions, newest first (the seed's legacy route)", openapi_extra=GUARDED_EXTRA)
async def all_executions(request: Request, service: Service, skip: Skip = 0, limit: Limit = 50,
                         status: ExecutionStatus | None = None) -> ExecutionPage:
    items, total = await service.executions(tenant=_tenant(request), status=status, skip=skip, limit=limit)
    return ExecutionPage(executions=[ExecutionBody.of(e) for e in items], total=total, skip=skip, limit=limit)


@router.get("/executions/{execution_id}", response_model=ExecutionBody, responses={**GUARDED, **NOT_FOUND},
            summary="An execution", openapi_extra=GUARDED_EXTRA)
async def get_execution(execution_id: str, request: Request, service: Service) -> ExecutionBody:
    return ExecutionBody.of(await service.execution(execution_id, tenant=_tenant(request)))


@router.post("/executions/{execution_id}/cancel", response_model=ExecutionBody,
             responses={**GUARDED, **NOT_FOUND, **CONFLICT}, summary="Cancel at the next step boundary",
             openapi_extra=GUARDED_EXTRA)
async def cancel_execution(execution_id: str, request: Request, service: Service) -> ExecutionBody:
    return ExecutionBody.of(await service.cancel(execution_id, tenant=_tenant(request)))
