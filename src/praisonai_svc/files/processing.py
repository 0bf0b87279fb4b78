"""The ``extract`` built-in job service: the worker's side of a file's life (uploaded → processing → processed |
failed), with the job's retries, lease renewal, timeout and poison queue around it.

Exactly once: the run that *claims* the file (status processing, with its job id and attempt) is the only one
whose outcome is written; a duplicate delivery, a stale job or an attempt that lost its claim to a newer one
changes nothing. So a worker killed mid-extraction leaves the file to the next attempt, which claims it again
and ends it processed once, with one ``file.processed`` event. The event is recorded by that final write
(files.outbox): a worker killed right after it leaves the event pending, and the job's next attempt, which finds
the file finished, delivers it (as does any process that starts, and the pruner).

A document that cannot be extracted (hostile, damaged, encrypted, too big) fails the *file*, with the reason in
``error_message``; the job itself ends done (its output is a small JSON summary), because retrying cannot help
and a user's bad upload is no operator's alarm. Storage outages are retried like any job's failure.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from praisonai_svc.context import JobContext
from praisonai_svc.errors import ConfigError
from praisonai_svc.files import events
from praisonai_svc.files.content import content_blob_name, place
from praisonai_svc.files.extraction_queue import EXTRACT_SERVICE, extraction_job_id
from praisonai_svc.files.extractors import Extraction, ExtractionError, Limits
from praisonai_svc.files.models import KIND, FileStatus, PendingEvent, StoredFile
from praisonai_svc.files.outbox import FileOutbox, pending, register_file_outbox, with_event
from praisonai_svc.files.repository import FileRepository
from praisonai_svc.files.retention import drop_file_blobs
from praisonai_svc.files.sandbox import extract_isolated
from praisonai_svc.models.job import utcnow
from praisonai_svc.registry import make_spec

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

ERROR_LIMIT = 2000
Output = tuple[bytes, str, str]
__all__ = ["EXTRACT_SERVICE", "ExtractFile", "extraction_job_id", "register_extract_service"]


def register_extract_service(app: ServiceApp) -> None:
    """Host ``extract`` (internal, awaited on the worker's loop), keep files as long as PRAISONAI_FILE_RETENTION,
    and sweep the files' outbox with the app's others."""
    extract = ExtractFile(app)

    async def extract_file(payload: dict[str, Any], ctx: JobContext) -> Output:
        """Extract an uploaded file's text and structure (built in; upload through /files)."""
        return await extract(payload, ctx)

    app.add_builtin(make_spec(extract_file, EXTRACT_SERVICE, EXTRACT_SERVICE))
    app.retention.track(KIND, drop_file_blobs)
    register_file_outbox(app)


def limits_of(app: ServiceApp) -> Limits:
    settings = app.settings
    return Limits(max_pages=settings.files_max_pages, max_rows=settings.files_max_rows,
                  max_unzipped_bytes=settings.files_max_unzipped_size)


def summary(file_id: str, outcome: str, **extra: Any) -> Output:
    return json.dumps({"file_id": file_id, "outcome": outcome, **extra}).encode(), "application/json", "summary.json"


class ExtractFile:
    """One extraction job: claim the file, extract it in a child process, store the outcome once."""

    def __init__(self, app: ServiceApp) -> None:
        self.app = app

    async def __call__(self, payload: dict[str, Any], ctx: JobContext) -> Output:
        backend: Backend | None = ctx._backend
        if backend is None:
            raise ConfigError("extract runs only inside a worker (it needs the worker's backend).")
        file_id = str(payload.get("file_id", ""))
        repo = FileRepository(backend.records)
        stored = await repo.find(file_id)
        if stored is None or stored.tenant != ctx.tenant:
            return summary(file_id, "skipped", reason="no such file")
        claimed = await repo.change(file_id, lambda f: _claim(f, ctx, int(payload.get("run", 0))))
        if not _holds_claim(claimed, ctx):
            if claimed.pending_events:  # e.g. the attempt before was killed between its final write and delivery
                await FileOutbox(self.app, backend).deliver_pending(claimed)
            return summary(file_id, "skipped", reason=f"file is {claimed.status.value}")
        ctx.logger.info("extracting file", extra={"file_id": file_id, "extension": claimed.extension,
                                                  "bytes": claimed.file_size})
        try:
            extraction = await self._extract(backend, claimed)
        except ExtractionError as exc:
            return await self._fail(backend, repo, claimed, ctx, exc.message)
        except Exception as exc:
            if ctx.is_last_attempt:
                await self._fail(backend, repo, claimed, ctx, f"Extraction failed after {ctx.attempt} attempts: "
                                                     f"{type(exc).__name__}: {exc}")
            raise
        return await self._succeed(backend, repo, claimed, ctx, extraction)

    async def _extract(self, backend: Backend, stored: StoredFile) -> Extraction:
        settings = self.app.settings
        data = await backend.blobs.open(stored.blob_name)
        return await extract_isolated(
            stored.extension, data, limits_of(self.app), timeout=settings.files_extract_timeout_seconds,
            memory_mb=settings.files_extract_memory_mb,
        )

    async def _succeed(
        self, backend: Backend, repo: FileRepository, claimed: StoredFile, ctx: JobContext, extraction: Extraction
    ) -> Output:
        placed = place(extraction)
        blob = content_blob_name(claimed.id) if placed.blob is not None else None
        if placed.blob is not None and blob is not None:
            await backend.blobs.put(blob, placed.blob, content_type="application/json", filename="extracted.json")
        processed = pending(events.PROCESSED)
        now = processed.at

        def finish(current: StoredFile) -> StoredFile | None:
            if not _holds_claim(current, ctx):
                return None
            return current.model_copy(update={
                "status": FileStatus.PROCESSED, "extracted_content": placed.inline_content, "content_blob": blob,
                "content_size": len(extraction.content), "extraction_metadata": placed.record_metadata,
                "error_message": None, "processed_at": now, "updated_at": now,
                "pending_events": with_event(current, processed),
            })

        final = await repo.change(claimed.id, finish)
        if final.status is FileStatus.PROCESSED and final.processed_at == now:
            ctx.logger.info("file processed", extra={"file_id": claimed.id, "characters": len(extraction.content)})
            await FileOutbox(self.app, backend).deliver(final, processed)
            return summary(claimed.id, "processed", characters=len(extraction.content))
        if final.status is FileStatus.DELETED and blob is not None:
            await backend.blobs.delete(blob)  # deleted while we extracted: keep nothing of it
        return summary(claimed.id, "skipped", reason=f"file is {final.status.value}")

    async def _fail(
        self, backend: Backend, repo: FileRepository, claimed: StoredFile, ctx: JobContext, reason: str
    ) -> Output:
        failed: PendingEvent = pending(events.FAILED)
        now = failed.at
        reason = reason[:ERROR_LIMIT]

        def fail(current: StoredFile) -> StoredFile | None:
            if not _holds_claim(current, ctx):
                return None
            return current.model_copy(update={"status": FileStatus.FAILED, "error_message": reason,
                                              "updated_at": now, "pending_events": with_event(current, failed)})

        final = await repo.change(claimed.id, fail)
        if final.status is FileStatus.FAILED and final.updated_at == now:
            ctx.logger.warning("file extraction failed", extra={"file_id": claimed.id, "error": reason})
            await FileOutbox(self.app, backend).deliver(final, failed)
        return summary(claimed.id, "failed", error_message=reason)


def _claim(current: StoredFile, ctx: JobContext, run: int) -> StoredFile | None:
    """Take the file for this attempt, unless it is finished, deleted, or this job is for an older run."""
    if run != current.runs or current.status not in (FileStatus.UPLOADED, FileStatus.PROCESSING):
        return None
    return current.model_copy(update={
        "status": FileStatus.PROCESSING, "extraction_job_id": ctx.job_id, "extraction_attempt": ctx.attempt,
        "retry_count": ctx.attempt - 1, "updated_at": utcnow(),
    })


def _holds_claim(current: StoredFile, ctx: JobContext) -> bool:
    return (current.status is FileStatus.PROCESSING and current.extraction_job_id == ctx.job_id
            and current.extraction_attempt == ctx.attempt)
