"""``/jobs/{id}/download`` mints a fresh signed link (the local backend serves its links itself, at /blobs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from praisonai_svc.api.auth import principal_of, require_access
from praisonai_svc.api.deps import absolute_url, job_service
from praisonai_svc.api.jobs import GUARDED, ErrorBody
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.job_service import JobService
from praisonai_svc.models.job import DownloadLink

router = APIRouter(tags=["downloads"])


def wants_json(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt.lower() == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get(
    "/jobs/{job_id}/download", dependencies=[Depends(require_access)], response_model=DownloadLink,
    responses={**GUARDED, 307: {"description": "Redirect to a fresh signed URL"},
               404: {"model": ErrorBody, "description": "No such job (or another tenant's)"},
               409: {"model": ErrorBody, "description": "Job not done yet"}},
    summary="Fresh signed download link", openapi_extra=GUARDED_EXTRA,
)
async def download(
    job_id: str, request: Request, service: Annotated[JobService, Depends(job_service)],
    format: Annotated[str | None, Query(description="'json' for a JSON link instead of a redirect")] = None,
) -> Response:
    link = await service.download_link(job_id, tenant=principal_of(request).tenant)
    url = absolute_url(request, link.url)
    if wants_json(request, format):
        return JSONResponse(DownloadLink(download_url=url, expires_utc=link.expires_utc).model_dump(mode="json"))
    return RedirectResponse(url, status_code=307)
