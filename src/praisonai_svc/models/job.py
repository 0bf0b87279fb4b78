"""Job data: the status enum, the HTTP request/response models and the stored job record."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from praisonai_svc.hashing import payload_hash


def utcnow() -> datetime:
    """Timezone-aware now in UTC; every timestamp in the package comes from here."""
    return datetime.now(UTC)


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED)

    @property
    def releases_claim(self) -> bool:
        """Whether an identical payload submitted again makes a new job (error and cancelled), or returns this one."""
        return self in (JobStatus.ERROR, JobStatus.CANCELLED)


class JobRequest(BaseModel):
    """Body of ``POST /jobs``: ``{"payload": {...}, "service": "optional-name"}``."""

    model_config = ConfigDict(extra="forbid")

    payload: dict[str, Any]
    service: str | None = Field(default=None, description="Which service runs the job; default: the first.")
    callback_url: str | None = Field(
        default=None, max_length=2048,
        description="Webhook: POSTed the job when it ends (done, error, cancelled); needs PRAISONAI_WEBHOOK_SECRET.",
    )
    webhook_progress: bool = Field(default=False, description="Also POST the job on each progress event.")

    def compute_hash(self, scope: str = "") -> str:
        """sha256 of the canonical JSON of the payload (key-order independent), optionally scoped."""
        return payload_hash(self.payload, scope)


class JobResult(BaseModel):
    """Where a finished job's output lives."""

    blob_name: str
    content_type: str
    filename: str
    size: int


class OutputFile(BaseModel):
    """One stored output file of a job (every job that finished has at least one)."""

    filename: str = Field(description="Safe, unique within the job; names the file in the ZIP and in its URL")
    content_type: str
    size: int
    sha256: str = Field(description="Hex SHA-256 of the file's bytes")


_PUBLIC_OUTPUT = tuple(OutputFile.model_fields)


class StoredOutput(OutputFile):
    """:class:`OutputFile` as the job store keeps it (with its blob name and CRC-32, which clients never see)."""

    blob_name: str
    crc32: int = 0  # lets the ZIP stream store the file uncompressed without reading it twice


class JobOutcome(BaseModel):
    """An earlier terminal outcome of a job that an operator sent back to the queue (poison review)."""

    status: JobStatus
    error_msg: str | None = None
    finished_utc: datetime | None = None
    attempts: int = 0
    requeued_utc: datetime


class Job(BaseModel):
    """The stored job record. Adapters persist it; shared logic above them fills it in."""

    job_id: str
    service: str
    status: JobStatus = JobStatus.QUEUED
    payload: dict[str, Any]
    payload_hash: str
    created_utc: datetime
    updated_utc: datetime
    started_utc: datetime | None = None
    finished_utc: datetime | None = None
    attempts: int = 0
    error_msg: str | None = None
    progress: float | None = None
    progress_msg: str | None = None
    result: JobResult | None = None  # the single output (also outputs[0]); None for multi-file jobs
    outputs: list[StoredOutput] = Field(default_factory=list)  # every output file, in the handler's order
    message_id: str | None = None
    # While processing: the worker instance running it and its message's newest pop receipt, so that another
    # worker can release the lease at once when that instance stops heartbeating (worker/recovery.py).
    worker: str | None = None
    pop_receipt: str | None = None
    tenant: str | None = None  # the tenant whose key or token submitted it; None: an untenanted caller
    history: list[JobOutcome] = Field(default_factory=list)  # earlier outcomes, oldest first (requeues)
    callback_url: str | None = None  # the request's webhook URL (the service's webhook_url applies too)
    webhook_progress: bool = False
    cancel_requested_utc: datetime | None = None  # POST /jobs/{id}/cancel while it ran
    etag: str | None = Field(default=None, exclude=True)

    @property
    def retry_count(self) -> int:
        """Retries so far: attempts beyond the first (the seeds' RetryCount)."""
        return max(self.attempts - 1, 0)


class JobResponse(BaseModel):
    """What the API returns for a job (field names follow the seeds' clients)."""

    job_id: str
    service: str
    status: JobStatus
    download_url: str | None = None
    error_msg: str | None = None
    created_utc: datetime
    updated_utc: datetime
    started_utc: datetime | None = None
    finished_utc: datetime | None = None
    retry_count: int = 0
    attempts: int = 0
    progress: float | None = None
    progress_msg: str | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    history: list[JobOutcome] = Field(default_factory=list, description="Earlier outcomes of a requeued job.")
    outputs: list[OutputFile] = Field(
        default_factory=list, description="The job's output files (one for a single-file job, in order)")
    cancel_requested_utc: datetime | None = Field(
        default=None, description="When a cancel was requested for this running job (it ends cancelled soon).")
    receipt: str | None = Field(
        default=None, description="Only in the answer to POST /jobs with a bearer token: the service's signed proof "
        "of who submitted the job (SECURITY.md, WordPress modes).")

    @classmethod
    def from_job(cls, job: Job, download_url: str | None = None) -> JobResponse:
        result = job.result
        return cls(
            job_id=job.job_id,
            service=job.service,
            status=job.status,
            download_url=download_url if job.status is JobStatus.DONE else None,
            error_msg=job.error_msg,
            created_utc=job.created_utc,
            updated_utc=job.updated_utc,
            started_utc=job.started_utc,
            finished_utc=job.finished_utc,
            retry_count=job.retry_count,
            attempts=job.attempts,
            progress=job.progress,
            progress_msg=job.progress_msg,
            filename=result.filename if result else None,
            content_type=result.content_type if result else None,
            size=result.size if result else None,
            history=job.history,
            # The public fields only (not the blob name or CRC), copied field by field: dumping each output and
            # validating the dump again cost more than the rest of the answer.
            outputs=[OutputFile(**{name: getattr(output, name) for name in _PUBLIC_OUTPUT}) for output in job.outputs],
            cancel_requested_utc=job.cancel_requested_utc,
        )


class JobPage(BaseModel):
    """A page of ``GET /jobs``."""

    jobs: list[JobResponse]
    next_cursor: str | None = None


class DownloadLink(BaseModel):
    """JSON answer of ``GET /jobs/{id}/download`` when the client asks for JSON."""

    download_url: str
    expires_utc: datetime


def output_files(job: Job) -> list[StoredOutput]:
    """The job's output files; a job finished before multi-file outputs existed has only its ``result``."""
    if job.outputs:
        return job.outputs
    if job.result is None:
        return []
    result = job.result
    return [StoredOutput(filename=result.filename, content_type=result.content_type, size=result.size, sha256="",
                         blob_name=result.blob_name)]
