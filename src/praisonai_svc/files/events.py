"""File events on the app's event seam: ``file.uploaded``, ``file.processed``, ``file.failed``, ``file.deleted``.

Each is written into the file record by the very write that makes it true, then delivered by the process where
the change happened (the API for uploads and deletes, the worker for extraction outcomes) and removed from the
record once every subscriber has handled it; what a crash leaves there is delivered again (files.outbox).
Workflows subscribe to them, and any ``@app.events.on("file.*")`` handler may: delivery is at least once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from praisonai_svc.events import Event
from praisonai_svc.files.models import FileStatus, StoredFile

UPLOADED = "file.uploaded"
PROCESSED = "file.processed"
FAILED = "file.failed"
DELETED = "file.deleted"
TOPICS = (UPLOADED, PROCESSED, FAILED, DELETED)
_STATUS_OF = {UPLOADED: FileStatus.UPLOADED, PROCESSED: FileStatus.PROCESSED, FAILED: FileStatus.FAILED,
              DELETED: FileStatus.DELETED}


def file_event(topic: str, stored: StoredFile, *, at: datetime) -> Event:
    """The event ``topic`` of ``stored`` as it happened at ``at``.

    A late delivery (after a crash) is built from the file as it is by then, so ``status`` is the one the event
    announced, and an upload's event carries no extraction results that came after it.
    """
    later_results = topic == UPLOADED
    data: dict[str, Any] = {
        "file_id": stored.id, "filename": stored.filename, "original_filename": stored.original_filename,
        "mime_type": stored.mime_type, "file_size": stored.file_size, "file_hash": stored.file_hash,
        "status": _STATUS_OF.get(topic, stored.status).value,
        "error_message": None if later_results or topic == PROCESSED else stored.error_message,
        "extraction_metadata": {} if later_results else {
            k: v for k, v in stored.extraction_metadata.items() if k not in ("rows", "sheets")},
    }
    return Event(topic=topic, subject=stored.id, data=data, tenant=stored.tenant, at=at)
