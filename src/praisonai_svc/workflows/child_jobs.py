"""A ``job`` step's child job: submitted once per (execution, step, attempt), read back without waiting."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

from praisonai_svc.app import ServiceApp
from praisonai_svc.backend import Backend
from praisonai_svc.errors import BlobNotFound, JobNotCancellable, JobNotFound, StorageError
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, JobStatus, StoredOutput, output_files, utcnow
from praisonai_svc.ports import DuplicateJob
from praisonai_svc.workflows.ids import child_job_id, child_job_scope
from praisonai_svc.workflows.models import Execution

MAX_INLINE_CONTENT = 64 * 1024  # small text outputs are copied into the step result as ``content``
MAX_OUTPUTS_JSON = 12 * 1024  # the ``outputs`` list of a step result, under the engine's 16 KiB per result
_TEXT_TYPES = ("text/", "application/json", "application/yaml", "application/xml")


async def submit_child(
    app: ServiceApp, backend: Backend, *, service: str, payload: dict[str, Any], tenant: str | None,
    execution_id: str, step_key: str,
) -> Job:
    """Create and enqueue the child job, or return the one an earlier attempt of this slice already made.

    Its id and payload hash both derive from ``(execution, step_key)``, so a worker that dies between submitting
    and recording the submission finds the same job again instead of making a second one.
    """
    spec = app.job_spec(service)
    spec.validate_payload(payload)
    now = utcnow()
    job = Job(
        job_id=child_job_id(execution_id, step_key), service=spec.name, payload=payload, tenant=tenant,
        payload_hash=payload_hash(payload, scope=child_job_scope(execution_id, step_key)),
        created_utc=now, updated_utc=now,
    )
    try:
        return await backend.create_and_enqueue(job, spec.queue_name)
    except DuplicateJob as dup:
        return dup.existing


async def cancel_children(app: ServiceApp, backend: Backend, execution: Execution) -> None:
    """Cancel the child job of the step the execution stopped in (at once if still queued; a running one is asked
    to stop). Best effort: the execution's own outcome is already decided."""
    from praisonai_svc.job_service import JobService

    for record in execution.steps.values():
        if record.job_id is None or record.status in ("completed", "failed"):
            continue
        with contextlib.suppress(JobNotCancellable, JobNotFound, StorageError):
            await JobService(app, backend).cancel(record.job_id)


async def read_child(backend: Backend, job_id: str) -> Job | None:
    try:
        return await backend.jobs.get(job_id)
    except JobNotFound:
        return None


async def child_result(app: ServiceApp, backend: Backend, job: Job, *, include_content: bool) -> dict[str, Any]:
    """What later steps see of a finished child job: its id, status, output, a download link, small text.

    A multi-file child lists its files under ``outputs`` (each with its own link; as many as fit in
    :data:`MAX_OUTPUTS_JSON`, the rest counted in ``outputs_omitted``); the single-file fields (``filename``,
    ``download_url``, ``content``, ...) then stay empty, as there is no one file to name.
    """
    result: dict[str, Any] = {"job_id": job.job_id, "service": job.service, "status": job.status.value,
                              "download_url": None, "content": None}
    files = output_files(job)
    if job.status is not JobStatus.DONE or not files:
        return result
    described: list[dict[str, Any]] = []
    budget = MAX_OUTPUTS_JSON
    for output in files:  # as many as fit the step result (workflows/engine.py bounds it); the rest are counted
        item = await _described(app, backend, output)
        budget -= len(json.dumps(item))
        if budget < 0:
            result["outputs_omitted"] = len(files) - len(described)
            break
        described.append(item)
    result["outputs"] = described
    if len(files) > 1:
        return result
    output = files[0]
    result.update({key: described[0][key] for key in ("filename", "content_type", "size", "download_url")},
                  blob_name=output.blob_name)
    if include_content and output.size <= MAX_INLINE_CONTENT and output.content_type.startswith(_TEXT_TYPES):
        try:
            result["content"] = (await backend.blobs.open(output.blob_name)).decode("utf-8", errors="replace")
        except (BlobNotFound, StorageError):
            result["content"] = None
    return result


async def _described(app: ServiceApp, backend: Backend, output: StoredOutput) -> dict[str, Any]:
    link = await backend.blobs.signed_url(
        output.blob_name, expires_in=timedelta(seconds=app.settings.download_url_expiry_seconds),
        filename=output.filename, content_type=output.content_type)
    base = (app.settings.public_url or "").rstrip("/")
    url = link.url if link.url.startswith(("http://", "https://")) or not base else base + link.url
    return {"filename": output.filename, "content_type": output.content_type, "size": output.size,
            "sha256": output.sha256 or None, "download_url": url}
