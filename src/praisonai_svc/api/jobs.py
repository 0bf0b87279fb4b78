"""``/jobs``: submit (:func:`add_submit_route`), read, list (``router``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from praisonai_svc.api.auth import principal_of, require_access
from praisonai_svc.api.body import header, read_limited, to_job_request
from praisonai_svc.api.deps import absolute_url, job_body, job_service, service_app
from praisonai_svc.api.direct_route import DirectRoute
from praisonai_svc.api.job_json import job_json
from praisonai_svc.api.long_poll import MAX_WAIT_SECONDS, long_poll
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.api.receipts import submission_receipt
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import JobPage, JobResponse, JobStatus
from praisonai_svc.security.receipts import RECEIPT_HEADER


class ErrorBody(BaseModel):
    detail: str


def _error(text: str, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"model": ErrorBody, "description": text}
    if retry_after:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return response


# What every authenticated job route may answer besides its own outcomes.
GUARDED: dict[int | str, dict[str, Any]] = {
    401: _error("Missing or invalid API key or bearer token"),
    429: _error("Rate limit reached, or too many failed authentications; retry after Retry-After", True),
    503: _error("Storage unavailable; retry after Retry-After seconds", True),
}
ERRORS: dict[int | str, dict[str, Any]] = {
    **GUARDED, 400: _error("Malformed or invalid request; nothing queued"), 413: _error("Body too large"),
    408: _error("The body did not arrive in time; nothing queued"),
}

router = APIRouter(tags=["jobs"], dependencies=[Depends(require_access)])
Service = Annotated[JobService, Depends(job_service)]
RECEIPT_DOC = {RECEIPT_HEADER: {"description": "Bearer-token submissions only: the receipt (same as the body's)",
                                "schema": {"type": "string"}}}
SERVICE_HELP = "Service to run (default: the first)"
# Documented here because the endpoint reads it itself (a DirectRoute injects no parameters).
SERVICE_QUERY = {"name": "service", "in": "query", "required": False, "description": SERVICE_HELP,
                 "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": SERVICE_HELP}}


class JSONBytes(Response):
    """A JSON answer whose body and raw headers are ready: what ``Response(content, status_code,
    media_type="application/json", headers=...)`` would hold, without encoding the headers again."""

    def __init__(self, content: bytes, status_code: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.media_type = "application/json"
        self.background = None
        self.body = content
        self.raw_headers = [*headers, (b"content-length", b"%d" % len(content)), JSON_TYPE]


JSON_TYPE = (b"content-type", b"application/json")
RECEIPT_NAME = RECEIPT_HEADER.lower().encode("latin-1")


async def submit_job(request: Request) -> Response:
    state = request.app.state
    service: JobService = state.job_service
    settings = service.app.settings
    scope = request.scope
    raw = await read_limited(request, settings.max_payload_size, settings.body_read_timeout_seconds)
    document = await state.parse_pool.parse(raw, header(scope, b"content-type"))
    named = request.query_params.get("service") if scope.get("query_string") else None  # parse only if any
    job_request = to_job_request(document, named)
    submission = await service.submit(job_request, tenant=principal_of(request).tenant, size=len(raw))
    job = submission.job
    download = absolute_url(request, f"/jobs/{job.job_id}/download") if job.status is JobStatus.DONE else None
    receipt = submission_receipt(request, job)  # bearer tokens only: proof of who submitted
    content = job_json(job, receipt, download)  # what JobResponse.from_job(...).model_dump_json() gives
    headers = [(RECEIPT_NAME, receipt.encode("latin-1"))] if receipt else []
    if not submission.created:
        return JSONBytes(content, 200, headers)
    location = f"{scope.get('root_path', '')}/jobs/{job.job_id}"  # server.api_prefix
    headers.append((b"location", location.encode("latin-1")))
    return JSONBytes(content, 202, headers)


def add_submit_route(api: FastAPI) -> APIRoute:
    """``POST /jobs`` on the app's own router, as a DirectRoute (see direct_route.py), behind require_access
    like every job route. Not on ``router``: FastAPI matches the routes of an included APIRouter through an extra
    layer per request, a twentieth of a submission's CPU, and this is the hot path. Returns the route, which the
    fast lane (fast_lane.py) hands ``POST /jobs`` requests to directly."""
    api.router.add_api_route(
        "/jobs", submit_job, methods=["POST"], route_class_override=DirectRoute, status_code=202, tags=["jobs"],
        dependencies=[Depends(require_access)], response_model=JobResponse, summary="Submit a job (JSON or YAML)",
        responses={**ERRORS, 202: {"description": "Queued", "headers": RECEIPT_DOC},
                   200: {"model": JobResponse, "description": "Identical payload already submitted",
                         "headers": RECEIPT_DOC}},
        openapi_extra={**GUARDED_EXTRA, "parameters": [SERVICE_QUERY], "requestBody": {
            "required": True, "content": {media: {"schema": {"$ref": "#/components/schemas/JobSubmission"}}
                                          for media in ("application/json", "application/yaml", "text/yaml")},
        }},
    )
    route = api.router.routes[-1]
    assert isinstance(route, APIRoute)
    return route


# Where a job's body leads: its first output's own download (clients and schemathesis follow OpenAPI links).
OUTPUT_LINK = {"FirstOutput": {"operationId": "download_output", "parameters": {
    "job_id": "$response.body#/job_id", "name": "$response.body#/outputs/0/filename"}}}


@router.get("/jobs/{job_id}", response_model=JobResponse,
            responses={**GUARDED, 200: {"links": OUTPUT_LINK}, 404: _error("No such job (or another tenant's)")},
            summary="Job status",
            openapi_extra=GUARDED_EXTRA)
async def get_job(
    job_id: str, request: Request, service: Service,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS,
                                 description="Long-poll: answer when the job changes, or after this many seconds")] = 0,
) -> JobResponse:
    job = await service.get(job_id, tenant=principal_of(request).tenant)
    if wait > 0:
        job = await long_poll(request, service, job, wait)
    return job_body(request, job)


@router.get("/jobs", response_model=JobPage, responses={**GUARDED, 400: _error("Invalid filter or cursor")},
            summary="List jobs (a tenant sees only its own)", openapi_extra=GUARDED_EXTRA)
async def list_jobs(
    request: Request, service: Service,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    service_name: Annotated[str | None, Query(alias="service", description="Only this service's jobs")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> JobPage:
    name = service_app(request).job_spec(service_name).name if service_name is not None else None
    page = await service.list(service=name, status=status, limit=limit, cursor=cursor,
                              tenant=principal_of(request).tenant)
    return JobPage(jobs=[job_body(request, job) for job in page.jobs], next_cursor=page.next_cursor)
