"""``/jobs``: submit, read, list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from praisonai_svc.api.auth import require_api_key
from praisonai_svc.api.body import parse_document, read_limited, to_job_request
from praisonai_svc.api.deps import job_body, job_service, service_app
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import JobPage, JobResponse, JobStatus


class ErrorBody(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in [(400, "Malformed or invalid request; nothing queued"), (401, "Missing or invalid API key"),
                       (413, "Body too large"), (503, "Storage unavailable; retry after Retry-After seconds")]
}

router = APIRouter(tags=["jobs"], dependencies=[Depends(require_api_key)])
Service = Annotated[JobService, Depends(job_service)]


@router.post(
    "/jobs", status_code=202, response_model=JobResponse,
    responses={**ERRORS, 200: {"model": JobResponse, "description": "Identical payload already submitted"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        media: {"schema": {"$ref": "#/components/schemas/JobSubmission"}}
        for media in ("application/json", "application/yaml", "text/yaml")
    }}},
    summary="Submit a job (JSON or YAML)",
)
async def submit_job(request: Request, service_name: Annotated[
        str | None, Query(alias="service", description="Service to run (default: the first)")] = None,
) -> Response:
    service: JobService = request.app.state.job_service  # not a Depends: this is the hot path
    raw = await read_limited(request, service.app.settings.max_payload_size)
    job_request = to_job_request(parse_document(raw, request.headers.get("content-type", "")), service_name)
    submission = await service.submit(job_request)
    body = job_body(request, submission.job).model_dump_json()
    if not submission.created:
        return Response(body, status_code=200, media_type="application/json")
    return Response(body, status_code=202, media_type="application/json",
                    headers={"Location": f"/jobs/{submission.job.job_id}"})


@router.get("/jobs/{job_id}", response_model=JobResponse, responses={404: {"model": ErrorBody}},
            summary="Job status")
async def get_job(job_id: str, request: Request, service: Service) -> JobResponse:
    return job_body(request, await service.get(job_id))


@router.get("/jobs", response_model=JobPage, responses={400: {"model": ErrorBody}}, summary="List jobs")
async def list_jobs(
    request: Request, service: Service,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    service_name: Annotated[str | None, Query(alias="service", description="Only this service's jobs")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> JobPage:
    name = service_app(request).service(service_name).name if service_name else None
    page = await service.list(service=name, status=status, limit=limit, cursor=cursor)
    return JobPage(jobs=[job_body(request, job) for job in page.jobs], next_cursor=page.next_cursor)
