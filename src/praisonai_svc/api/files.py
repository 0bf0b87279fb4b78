"""``/files``: the seed's file routes (upload, list, read, process, extracted content, download, delete).

Thin: the use cases are in :mod:`praisonai_svc.files.service`. Every route is behind the same access check
(auth, tenants, rate limits) as ``/jobs``; another tenant's file answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from praisonai_svc.api.auth import principal_of, require_access
from praisonai_svc.api.deps import absolute_url, backend, service_app
from praisonai_svc.api.downloads import wants_json
from praisonai_svc.api.jobs import GUARDED, _error
from praisonai_svc.api.multipart import MultipartFile
from praisonai_svc.api.openapi_security import GUARDED_EXTRA
from praisonai_svc.errors import PayloadError
from praisonai_svc.files.errors import FileTooLarge
from praisonai_svc.files.models import DeletedFile, ExtractedContent, FileBody, FileEnvelope, FilePage, FileStatus
from praisonai_svc.files.service import FileService
from praisonai_svc.files.sizes import format_size
from praisonai_svc.models.job import DownloadLink

MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries a form adds around the file
DRAIN_LIMIT = 64 * 1024 * 1024  # bytes of a refused upload read and dropped so that the client sees the answer
DRAIN_SECONDS = 10.0

router = APIRouter(tags=["files"], dependencies=[Depends(require_access)])
FILES_USAGE_SERVICE = "files"
UPLOAD_REQUESTS = 3  # the blob, the file record, the extraction job's message (an estimate, like every count)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No such file (or another tenant's)")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _error("Not possible in the file's status (the detail says why)")}


async def file_service(request: Request) -> FileService:
    service: FileService | None = getattr(request.app.state, "file_service", None)
    if service is None:
        service = request.app.state.file_service = FileService(service_app(request), backend(request))
    return service


Files = Annotated[FileService, Depends(file_service)]


def _tenant(request: Request) -> str | None:
    return principal_of(request).tenant


UPLOAD_DOC: dict[str, Any] = {
    "status_code": 201, "response_model": FileEnvelope,
    "responses": {**GUARDED, 400: _error("Not an accepted type, content does not match the extension, empty, or "
                                         "not multipart"), 413: _error("Larger than PRAISONAI_FILES_MAX_SIZE"),
                  408: _error("The upload stalled (nothing arrived for PRAISONAI_BODY_READ_TIMEOUT_SECONDS)")},
    "openapi_extra": {**GUARDED_EXTRA, "requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"],
                   "properties": {"file": {"type": "string", "format": "binary"}}}}}}},
}


@router.post("/files/upload", summary="Upload a file (multipart field 'file'); extraction is queued", **UPLOAD_DOC)
@router.post("/files", summary="Upload a file (same as POST /files/upload)", **UPLOAD_DOC)
async def upload_file(
    request: Request, files: Files,
    process: Annotated[bool, Query(description="Queue extraction at once")] = True,
) -> Response:
    max_size = files.app.settings.files_max_size
    form = MultipartFile.of(request, idle_timeout=files.app.settings.body_read_timeout_seconds)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_size + MULTIPART_OVERHEAD:  # refused before reading any of it
        if int(declared) <= max_size + DRAIN_LIMIT:
            await form.discard_rest(limit=DRAIN_LIMIT, seconds=DRAIN_SECONDS)
        raise FileTooLarge(f"The upload is {format_size(int(declared))}; files may be at most {format_size(max_size)} "
                           "(PRAISONAI_FILES_MAX_SIZE). Nothing was stored.")
    try:
        stored, message = await files.upload(await form.open(), tenant=_tenant(request), process=process)
    except PayloadError:  # refused (400, 413): drop the rest so that the client reads the answer
        await form.discard_rest(limit=DRAIN_LIMIT, seconds=DRAIN_SECONDS)
        raise
    await form.discard_rest(limit=MULTIPART_OVERHEAD, seconds=DRAIN_SECONDS)
    # Metered like a submission (docs/usage.md): the upload's bytes in, under the service "files"; its extraction
    # is metered by the worker as a job of the built-in extract service.
    request.app.state.job_service.meter.record(_tenant(request), FILES_USAGE_SERVICE, bytes_in=stored.file_size,
                                               storage_requests=UPLOAD_REQUESTS)
    body = FileEnvelope(message=message, file=FileBody.of(stored)).model_dump(mode="json")
    return JSONResponse(body, status_code=201, headers={"Location": f"/files/{stored.id}"})


@router.get("/files", response_model=FilePage, responses={**GUARDED, 400: _error("Invalid status or paging")},
            summary="List files, newest first (a tenant sees only its own)", openapi_extra=GUARDED_EXTRA)
async def list_files(
    request: Request, files: Files,
    skip: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[FileStatus | None, Query(description="Only files in this status (deleted: only then)")] = None,
) -> FilePage:
    found, total = await files.list(tenant=_tenant(request), status=status, skip=skip, limit=limit)
    return FilePage(files=[FileBody.of(stored) for stored in found], total=total, skip=skip, limit=limit)


@router.get("/files/{file_id}", response_model=FileEnvelope, response_model_exclude_none=False,
            responses={**GUARDED, **NOT_FOUND}, summary="A file's record", openapi_extra=GUARDED_EXTRA)
async def get_file(file_id: str, request: Request, files: Files) -> dict[str, Any]:
    stored = await files.get(file_id, tenant=_tenant(request))
    return {"file": FileBody.of(stored).model_dump(mode="json")}


@router.post("/files/{file_id}/process", status_code=202, response_model=FileEnvelope,
             responses={**GUARDED, **NOT_FOUND, **CONFLICT, 200: {"model": FileEnvelope,
                                                                  "description": "Already processed: nothing to do"}},
             summary="Queue extraction (again, for a failed file)", openapi_extra=GUARDED_EXTRA)
async def process_file(file_id: str, request: Request, files: Files) -> Response:
    stored, started = await files.process(file_id, tenant=_tenant(request))
    message = "File processing started" if started else "File processed"
    body = FileEnvelope(message=message, file=FileBody.of(stored)).model_dump(mode="json")
    return JSONResponse(body, status_code=202 if started else 200)


@router.get("/files/{file_id}/extract", response_model=ExtractedContent, response_model_exclude_none=True,
            responses={**GUARDED, **NOT_FOUND, 409: _error("File not processed yet (or deleted)")},
            summary="The extracted text and metadata", openapi_extra=GUARDED_EXTRA)
async def extract_file(file_id: str, request: Request, files: Files) -> ExtractedContent:
    return await files.extracted(file_id, tenant=_tenant(request))


@router.get("/files/{file_id}/download", response_model=DownloadLink,
            responses={**GUARDED, **NOT_FOUND, **CONFLICT, 307: {"description": "Redirect to a fresh signed URL"}},
            summary="Fresh signed link to the uploaded file", openapi_extra=GUARDED_EXTRA)
async def download_file(
    file_id: str, request: Request, files: Files,
    format: Annotated[str | None, Query(description="'json' for a JSON link instead of a redirect")] = None,
) -> Response:
    link = await files.download_link(file_id, tenant=_tenant(request))
    url = absolute_url(request, link.url)
    if wants_json(request, format):
        return JSONResponse(DownloadLink(download_url=url, expires_utc=link.expires_utc).model_dump(mode="json"))
    return RedirectResponse(url, status_code=307)


@router.delete("/files/{file_id}", response_model=DeletedFile, responses={**GUARDED, **NOT_FOUND},
               summary="Delete a file (soft: the record stays as deleted; the bytes go)", openapi_extra=GUARDED_EXTRA)
async def delete_file(file_id: str, request: Request, files: Files) -> DeletedFile:
    deleted = await files.delete(file_id, tenant=_tenant(request))
    return DeletedFile(message="File deleted successfully", file_id=deleted.id, file=FileBody.of(deleted))
