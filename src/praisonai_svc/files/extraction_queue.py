"""Queueing a file's extraction: one ``extract`` job per (file, run), whoever asks and however often."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from praisonai_svc.errors import StorageError, StorageUnavailable
from praisonai_svc.files.models import StoredFile
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, utcnow
from praisonai_svc.ports import DuplicateJob

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

EXTRACT_SERVICE = "extract"


def extraction_job_id(file_id: str, run: int) -> str:
    """The job of one extraction run of a file: queuing it twice (a retried upload, two process calls) is one job."""
    return hashlib.sha256(f"{EXTRACT_SERVICE}\x00{file_id}\x00{run}".encode()).hexdigest()[:32]


async def queue_extraction(app: ServiceApp, backend: Backend, stored: StoredFile) -> None:
    """Enqueue the extraction job of the file's current run (once: its id derives from the file and run).

    Raises StorageUnavailable when it could not be queued.
    """
    spec = app.job_spec(EXTRACT_SERVICE)
    payload = {"file_id": stored.id, "run": stored.runs}
    now = utcnow()
    job = Job(job_id=extraction_job_id(stored.id, stored.runs), service=spec.name, payload=payload,
              tenant=stored.tenant, payload_hash=payload_hash(payload, scope=f"{spec.name}\x00file"),
              created_utc=now, updated_utc=now)
    try:
        await backend.create_and_enqueue(job, spec.queue_name)
    except DuplicateJob:  # queued by an earlier call for this run
        return
    except StorageUnavailable:
        raise
    except StorageError as exc:
        raise StorageUnavailable("Storage is unavailable; the extraction was not queued. Retry shortly.") from exc
