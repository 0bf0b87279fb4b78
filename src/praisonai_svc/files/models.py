"""The file resource: its status, the stored record (kind ``file`` in the record store) and what clients see."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from praisonai_svc.records import Record

KIND = "file"
NO_TENANT = ""  # the tenant field of files uploaded by untenanted callers
OUTBOX_FIELD = "outbox"  # indexed field, "1" while the file has pending events (what the outbox sweep lists)


class FileStatus(StrEnum):
    """uploaded → processing → processed | failed; any → deleted (failed → uploaded again on a re-process)."""

    UPLOADED = "uploaded"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"
    DELETED = "deleted"


class PendingEvent(BaseModel):
    """A file event written by the change it announces and not yet handled by every subscriber (files.outbox)."""

    topic: str  # file.uploaded | file.processed | file.failed | file.deleted
    at: datetime  # when the change was stored: the event's time, and its identity within the file
    extract: bool = False  # file.uploaded: queue the extraction as part of delivering it (upload with process)
    failures: int = 0  # deliveries that a subscriber failed; dropped after files.outbox.MAX_FAILURES

    def same(self, other: PendingEvent) -> bool:
        return self.topic == other.topic and self.at == other.at


class StoredFile(BaseModel):
    """A file record: the seed's fields, plus where its bytes and large extracted content live."""

    id: str
    filename: str  # the stored name: <id>.<extension>
    original_filename: str
    extension: str
    mime_type: str
    file_size: int
    file_hash: str  # sha256 hex of the bytes as uploaded
    status: FileStatus = FileStatus.UPLOADED
    extracted_content: str | None = None  # inline when small; else in the blob named by content_blob
    content_blob: str | None = None
    content_size: int | None = None  # characters of extracted text
    extraction_metadata: dict[str, Any] = Field(default_factory=dict)
    error_message: str | None = None
    retry_count: int = 0
    triggered_workflows: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    processed_at: datetime | None = None
    deleted_at: datetime | None = None
    tenant: str | None = None
    blob_name: str
    runs: int = 0  # extraction runs requested (0 on upload, +1 per re-process of a failed file)
    extraction_job_id: str | None = None
    extraction_attempt: int | None = None  # the attempt that holds the claim on a processing file
    expires_at: datetime | None = None  # when the pruner removes the record and its blobs (PRAISONAI_FILE_RETENTION)
    pending_events: list[PendingEvent] = Field(default_factory=list)  # the file's outbox (files.outbox)
    _etag: str | None = PrivateAttr(None)  # of the record this was read from or written as (None: unknown)

    @property
    def etag(self) -> str | None:
        return self._etag

    def to_record(self, etag: str | None = None) -> Record:
        body = self.model_dump(mode="json")
        fields = {"tenant": self.tenant or NO_TENANT, "status": self.status.value,
                  "live": "0" if self.status is FileStatus.DELETED else "1"}
        if self.pending_events:
            fields[OUTBOX_FIELD] = "1"
        return Record(kind=KIND, id=self.id, body=body, fields=fields, expires_utc=self.expires_at, etag=etag)

    @classmethod
    def from_record(cls, record: Record) -> StoredFile:
        stored = cls.model_validate(record.body)
        stored._etag = record.etag
        return stored


class FileBody(BaseModel):
    """A file as the API shows it (``{"file": ...}``): the seed's fields, without storage internals."""

    id: str
    filename: str
    original_filename: str
    mime_type: str
    file_size: int
    file_hash: str
    status: FileStatus
    extracted_content: str | None = Field(
        None, description="The extracted text when small; else null and GET /files/{id}/extract has it"
    )
    extracted_content_size: int | None = Field(None, description="Characters of extracted text")
    extracted_content_ref: str | None = Field(None, description="Where large extracted content is (a path)")
    extraction_metadata: dict[str, Any] = Field(default_factory=dict)
    error_message: str | None = None
    retry_count: int = 0
    triggered_workflows: list[str] = Field(default_factory=list)
    extraction_job_id: str | None = None
    created_at: datetime
    updated_at: datetime
    processed_at: datetime | None = None
    deleted_at: datetime | None = None

    @classmethod
    def of(cls, stored: StoredFile) -> FileBody:
        values = stored.model_dump(include=set(cls.model_fields))
        return cls(**values, extracted_content_size=stored.content_size,
                   extracted_content_ref=f"/files/{stored.id}/extract" if stored.content_blob else None)


class FileEnvelope(BaseModel):
    """``{"file": {...}}`` with an optional ``message`` (upload, process)."""

    message: str | None = None
    file: FileBody


class FilePage(BaseModel):
    files: list[FileBody]
    total: int
    skip: int
    limit: int


class ExtractedContent(BaseModel):
    """``GET /files/{id}/extract``."""

    file_id: str
    content: str
    metadata: dict[str, Any]
    status: FileStatus
    error: str | None = None


class DeletedFile(BaseModel):
    message: str
    file_id: str
    file: FileBody
