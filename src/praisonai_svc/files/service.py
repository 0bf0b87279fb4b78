"""Use cases behind the /files routes: upload, read, list, process, extracted content, download, delete.

Lives above the ports (records, blobs, the job queue), so every backend gets the same behaviour. Nothing
here parses a document: extraction is the ``extract`` job, run by the worker (praisonai_svc.files.processing).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import JobNotFound, StorageError, StorageUnavailable
from praisonai_svc.files import events
from praisonai_svc.files.content import read_blob
from praisonai_svc.files.errors import FILE_NOT_PROCESSED, FileConflict, FileNotFound
from praisonai_svc.files.models import KIND, ExtractedContent, FileStatus, StoredFile
from praisonai_svc.files.processing import EXTRACT_SERVICE, extraction_job_id
from praisonai_svc.files.repository import FileRepository
from praisonai_svc.files.upload import StreamCheck, choose_extractor, client_filename
from praisonai_svc.hashing import payload_hash
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import Job, JobStatus, utcnow
from praisonai_svc.ports import DuplicateJob, SignedUrl
from praisonai_svc.records import newest_first_id
from praisonai_svc.retention import expiry_for

log = get_logger("files")
UPLOADED_MESSAGE = "File uploaded successfully"
NOT_QUEUED_MESSAGE = ("File uploaded, but its extraction could not be queued (storage unavailable); "
                      "POST /files/{id}/process to queue it.")


@dataclass(frozen=True)
class Upload:
    """An upload as it arrives: the client's filename and the body's chunks."""

    filename: str
    chunks: AsyncIterable[bytes]


class FileService:
    def __init__(self, app: ServiceApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend
        self.repo = FileRepository(backend.records)

    async def upload(self, upload: Upload, *, tenant: str | None, process: bool = True) -> tuple[StoredFile, str]:
        """Stream the upload into the blob store (checked, hashed, size-limited), record it, queue extraction."""
        settings = self.app.settings
        original = client_filename(upload.filename)
        extension, extractor = choose_extractor(original, settings.files_allowed_extensions)
        file_id = newest_first_id()
        stored_name = f"{file_id}.{extension}"
        blob_name = f"files/{file_id}/{stored_name}"
        check = StreamCheck(original, extension, extractor, settings.files_max_size)
        await self.backend.blobs.put_stream(blob_name, check.stream(upload.chunks), content_type=extractor.mime_type,
                                            filename=original)
        now = utcnow()
        stored = StoredFile(
            id=file_id, filename=stored_name, original_filename=original, extension=extension,
            mime_type=extractor.mime_type, file_size=check.size, file_hash=check.sha256, created_at=now,
            updated_at=now, tenant=tenant, blob_name=blob_name, expires_at=expiry_for(KIND, settings, start=now),
        )
        try:
            await self.repo.create(stored)
        except BaseException:
            await asyncio.shield(self.backend.blobs.delete(blob_name))
            raise
        log.info("file uploaded", extra={"file_id": file_id, "bytes": check.size, "extension": extension})
        await events.publish_file_event(self.app, events.UPLOADED, stored)
        if not process:
            return stored, UPLOADED_MESSAGE
        try:
            await self.queue_extraction(stored)
        except StorageError as exc:
            log.warning("extraction not queued", extra={"file_id": file_id, "error": str(exc)})
            return stored, NOT_QUEUED_MESSAGE
        return stored, UPLOADED_MESSAGE

    async def queue_extraction(self, stored: StoredFile) -> None:
        """Enqueue the extraction job of the file's current run (once: its id derives from the file and run)."""
        spec = self.app.job_spec(EXTRACT_SERVICE)
        payload = {"file_id": stored.id, "run": stored.runs}
        now = utcnow()
        job = Job(job_id=extraction_job_id(stored.id, stored.runs), service=spec.name, payload=payload,
                  tenant=stored.tenant, payload_hash=payload_hash(payload, scope=f"{spec.name}\x00file"),
                  created_utc=now, updated_utc=now)
        try:
            await self.backend.create_and_enqueue(job, spec.queue_name)
        except DuplicateJob:  # queued by an earlier call for this run
            return
        except StorageError as exc:
            raise StorageUnavailable("Storage is unavailable; the extraction was not queued. Retry shortly.") from exc

    async def get(self, file_id: str, *, tenant: str | None) -> StoredFile:
        """The file (FileNotFound for another tenant's); a file whose extraction job died for good is failed."""
        stored = await self.repo.get(file_id, tenant=tenant)
        if stored.status is FileStatus.PROCESSING and stored.extraction_job_id:
            return await self._settle_abandoned(stored)
        return stored

    async def _settle_abandoned(self, stored: StoredFile) -> StoredFile:
        """The extraction job ran out of attempts without finishing (its worker was lost every time)."""
        try:
            job = await self.backend.jobs.get(stored.extraction_job_id or "")
        except JobNotFound:
            return stored
        if job.status is not JobStatus.ERROR:
            return stored
        reason = f"Extraction failed: {job.error_msg or 'its job ended in error'}"

        def fail(current: StoredFile) -> StoredFile | None:
            if current.status is not FileStatus.PROCESSING or current.extraction_job_id != job.job_id:
                return None
            return current.model_copy(update={"status": FileStatus.FAILED, "error_message": reason,
                                              "updated_at": utcnow()})

        final = await self.repo.change(stored.id, fail)
        if final.status is FileStatus.FAILED and final.error_message == reason:
            await events.publish_file_event(self.app, events.FAILED, final)
        return final

    async def mark_triggered(self, file_id: str, workflow_id: str) -> StoredFile | None:
        """List ``workflow_id`` in the file's ``triggered_workflows`` (once); None when the file does not exist."""

        def add(current: StoredFile) -> StoredFile | None:
            if workflow_id in current.triggered_workflows:
                return None
            return current.model_copy(update={"triggered_workflows": [*current.triggered_workflows, workflow_id],
                                              "updated_at": utcnow()})

        try:
            return await self.repo.change(file_id, add)
        except FileNotFound:
            return None

    async def list(
        self, *, tenant: str | None, status: FileStatus | None, skip: int, limit: int
    ) -> tuple[list[StoredFile], int]:
        """A page of files, newest first, and how many match; deleted files only when ``status`` asks for them."""
        where: dict[str, str] = {}
        if tenant is not None:
            where["tenant"] = tenant
        if status is None:
            where["live"] = "1"
        else:
            where["status"] = status.value
        files = await self.repo.page(where, skip=skip, limit=limit)
        return files, await self.repo.count(where)

    async def process(self, file_id: str, *, tenant: str | None) -> tuple[StoredFile, bool]:
        """Queue extraction (again, for a failed file); (file, False) when it is processed already."""
        stored = await self.get(file_id, tenant=tenant)
        if stored.status is FileStatus.DELETED:
            raise FileConflict("File was deleted; upload it again.", stored.status.value)
        if stored.status is FileStatus.PROCESSING:
            raise FileConflict("File is being processed; poll GET /files/{id} until it is processed or failed.",
                               stored.status.value)
        if stored.status is FileStatus.PROCESSED:
            return stored, False
        if stored.status is FileStatus.FAILED:
            stored = await self.repo.change(stored.id, _requeued)
        await self.queue_extraction(stored)
        return stored, True

    async def extracted(self, file_id: str, *, tenant: str | None) -> ExtractedContent:
        stored = await self.get(file_id, tenant=tenant)
        if stored.status is FileStatus.DELETED:
            raise FileConflict("File was deleted; its content is gone.", stored.status.value)
        if stored.status is FileStatus.FAILED:
            return ExtractedContent(file_id=stored.id, content="", metadata=stored.extraction_metadata,
                                    status=stored.status, error=stored.error_message)
        if stored.status is not FileStatus.PROCESSED:
            raise FileConflict(FILE_NOT_PROCESSED, stored.status.value)
        content, metadata = await self.content_of(stored)
        return ExtractedContent(file_id=stored.id, content=content, metadata=metadata, status=stored.status)

    async def content_of(self, stored: StoredFile) -> tuple[str, dict[str, Any]]:
        """A processed file's extracted text and metadata: from the record, or from its blob when large."""
        if stored.content_blob:
            return read_blob(await self.backend.blobs.open(stored.content_blob))
        return stored.extracted_content or "", stored.extraction_metadata

    async def download_link(self, file_id: str, *, tenant: str | None) -> SignedUrl:
        stored = await self.get(file_id, tenant=tenant)
        if stored.status is FileStatus.DELETED:
            raise FileConflict("File was deleted; there is nothing to download.", stored.status.value)
        expires = timedelta(seconds=self.app.settings.download_url_expiry_seconds)
        return await self.backend.blobs.signed_url(stored.blob_name, expires_in=expires,
                                                   filename=stored.original_filename, content_type=stored.mime_type)

    async def delete(self, file_id: str, *, tenant: str | None) -> StoredFile:
        """Soft delete: the record stays (status deleted, deleted_at), the stored bytes and content go."""
        stored = await self.repo.get(file_id, tenant=tenant)
        if stored.status is FileStatus.DELETED:
            return stored
        deleted = await self.repo.change(stored.id, _deleted)
        await self.backend.blobs.delete(deleted.blob_name)
        if stored.content_blob:
            await self.backend.blobs.delete(stored.content_blob)
        log.info("file deleted", extra={"file_id": stored.id})
        await events.publish_file_event(self.app, events.DELETED, deleted)
        return deleted


def _requeued(current: StoredFile) -> StoredFile | None:
    if current.status is not FileStatus.FAILED:
        return None
    return current.model_copy(update={"status": FileStatus.UPLOADED, "runs": current.runs + 1,
                                      "error_message": None, "updated_at": utcnow()})


def _deleted(current: StoredFile) -> StoredFile | None:
    if current.status is FileStatus.DELETED:
        return None
    now = utcnow()
    return current.model_copy(update={"status": FileStatus.DELETED, "deleted_at": now, "updated_at": now,
                                      "extracted_content": None})
