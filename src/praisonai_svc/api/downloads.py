"""Downloads: ``/jobs/{id}/download`` mints a fresh signed link (single-file job) or streams a ZIP of every
output (multi-file job); ``/jobs/{id}/outputs/{name}/download`` links one output. The local backend serves its
links itself, at /blobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from praisonai_svc.api.auth import principal_of, require_access
from praisonai_svc.api.deps import absolute_url, backend, job_service
from praisonai_svc.api.jobs import GUARDED, ErrorBody
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.filenames import content_disposition
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import DownloadLink, Job
from praisonai_svc.models.job import output_files as outputs_of
from praisonai_svc.outputs.archive import zip_outputs
from praisonai_svc.ports import SignedUrl

router = APIRouter(tags=["downloads"])


def wants_json(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt.lower() == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


NOT_FOUND = {"model": ErrorBody, "description": "No such job (or another tenant's)"}
NOT_DONE = {"model": ErrorBody, "description": "Job not done yet"}
FORMAT = Query(description="'json' for a JSON link instead of a redirect (single files)")


def link_response(request: Request, link: SignedUrl, fmt: str | None) -> Response:
    url = absolute_url(request, link.url)
    if wants_json(request, fmt):
        return JSONResponse(DownloadLink(download_url=url, expires_utc=link.expires_utc).model_dump(mode="json"))
    return RedirectResponse(url, status_code=307)


def zip_response(request: Request, job: Job) -> Response:
    """Every output in one ZIP, streamed as it is built (the API serves it: there is no blob to sign)."""
    zipped = zip_outputs(backend(request).blobs, outputs_of(job), job.finished_utc or job.updated_utc)
    return StreamingResponse(zipped, media_type="application/zip", headers={
        "Content-Disposition": content_disposition(f"{job.service}-{job.job_id}.zip")})


@router.get(
    "/jobs/{job_id}/download", dependencies=[Depends(require_access)], response_model=DownloadLink,
    responses={**GUARDED, 307: {"description": "Redirect to a fresh signed URL (single-file job)"},
               200: {"content": {"application/zip": {}}, "description": "ZIP of every output (multi-file job)"},
               404: NOT_FOUND, 409: NOT_DONE},
    summary="Fresh signed download link, or the ZIP of a multi-file job", openapi_extra=GUARDED_EXTRA,
)
async def download(
    job_id: str, request: Request, service: Annotated[JobService, Depends(job_service)],
    format: Annotated[str | None, FORMAT] = None,
) -> Response:
    job = await service.finished(job_id, tenant=principal_of(request).tenant)
    outputs = outputs_of(job)
    # A job finished before outputs were recorded has no CRC for the ZIP: it keeps its plain link.
    if len(outputs) > 1 or ((format or "").lower() == "zip" and job.outputs):
        return zip_response(request, job)
    return link_response(request, await service.link(outputs[0]), format)


@router.get(
    "/jobs/{job_id}/outputs/{name}/download", dependencies=[Depends(require_access)], response_model=DownloadLink,
    responses={**GUARDED, 307: {"description": "Redirect to a fresh signed URL of that output"},
               404: {"model": ErrorBody, "description": "No such job, or no output of that name"}, 409: NOT_DONE},
    summary="Fresh signed download link of one output file", openapi_extra=GUARDED_EXTRA,
    operation_id="download_output",
)
async def download_output(
    job_id: str, name: str, request: Request, service: Annotated[JobService, Depends(job_service)],
    format: Annotated[str | None, FORMAT] = None,
) -> Response:
    link = await service.output_link(job_id, name, tenant=principal_of(request).tenant)
    return link_response(request, link, format)
