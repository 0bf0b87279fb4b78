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
from praisonai_svc.errors import JobNotFound
from praisonai_svc.files import events
from praisonai_svc.files.content import read_blob
from praisonai_svc.files.errors import FILE_NOT_PROCESSED, FileConflict, FileNotFound
from praisonai_svc.files.extraction_queue import queue_extraction
from praisonai_svc.files.models import KIND, ExtractedContent, FileStatus, PendingEvent, StoredFile
from praisonai_svc.files.outbox import FileOutbox, pending, with_event
from praisonai_svc.files.repository import FileRepository
from praisonai_svc.files.upload import StreamCheck, choose_extractor, client_filename
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import JobStatus, utcnow
from praisonai_svc.ports import SignedUrl
from praisonai_svc.records import newest_first_id
from praisonai_svc.retention import expiry_for

log = get_logger("files")
UPLOADED_MESSAGE = "File uploaded successfully"
NOT_QUEUED_MESSAGE = ("File uploaded, but its extraction could not be queued yet (storage unavailable); it is "
                      "retried later, or POST /files/{id}/process to queue it now.")


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
        self.outbox = FileOutbox(app, backend)

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
        # The record is created with its file.uploaded event (and the wish to extract it) in it: a crash before
        # the event is delivered and the extraction queued leaves both to the outbox sweep.
        uploaded = pending(events.UPLOADED, now, extract=process)
        stored = StoredFile(
            id=file_id, filename=stored_name, original_filename=original, extension=extension,
            mime_type=extractor.mime_type, file_size=check.size, file_hash=check.sha256, created_at=now,
            updated_at=now, tenant=tenant, blob_name=blob_name, expires_at=expiry_for(KIND, settings, start=now),
            pending_events=[uploaded],
        )
        try:
            stored = await self.repo.create(stored)
        except BaseException:
            await asyncio.shield(self.backend.blobs.delete(blob_name))
            raise
        log.info("file uploaded", extra={"file_id": file_id, "bytes": check.size, "extension": extension})
        delivery = await self.outbox.deliver(stored, uploaded)
        return stored, UPLOADED_MESSAGE if delivery.extraction_queued else NOT_QUEUED_MESSAGE

    async def queue_extraction(self, stored: StoredFile) -> None:
        """Enqueue the extraction job of the file's current run (once: its id derives from the file and run)."""
        await queue_extraction(self.app, self.backend, stored)

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
        failed = pending(events.FAILED)

        def fail(current: StoredFile) -> StoredFile | None:
            if current.status is not FileStatus.PROCESSING or current.extraction_job_id != job.job_id:
                return None
            return current.model_copy(update={"status": FileStatus.FAILED, "error_message": reason,
                                              "updated_at": failed.at, "pending_events": with_event(current, failed)})

        final = await self.repo.change(stored.id, fail)
        if _announces(final, failed):
            await self.outbox.deliver(final, failed)
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
        gone = pending(events.DELETED)
        deleted = await self.repo.change(stored.id, lambda current: _deleted(current, gone))
        await self.backend.blobs.delete(deleted.blob_name)
        if stored.content_blob:
            await self.backend.blobs.delete(stored.content_blob)
        log.info("file deleted", extra={"file_id": stored.id})
        if _announces(deleted, gone):
            await self.outbox.deliver(deleted, gone)
        return deleted


def _announces(stored: StoredFile, event: PendingEvent) -> bool:
    """Whether the write that returned ``stored`` recorded ``event`` (a change that was refused did not)."""
    return any(event.same(entry) for entry in stored.pending_events)


def _requeued(current: StoredFile) -> StoredFile | None:
    if current.status is not FileStatus.FAILED:
        return None
    return current.model_copy(update={"status": FileStatus.UPLOADED, "runs": current.runs + 1,
                                      "error_message": None, "updated_at": utcnow()})


def _deleted(current: StoredFile, event: PendingEvent) -> StoredFile | None:
    if current.status is FileStatus.DELETED:
        return None
    now = event.at
    return current.model_copy(update={"status": FileStatus.DELETED, "deleted_at": now, "updated_at": now,
                                      "extracted_content": None, "pending_events": with_event(current, event)})
