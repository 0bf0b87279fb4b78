"""File events on the app's event seam: ``file.uploaded``, ``file.processed``, ``file.failed``, ``file.deleted``.

Published by the process where the state change happened (the API for uploads and deletes, the worker for
extraction outcomes), after the change is stored. Workflows and webhooks subscribe to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from praisonai_svc.events import Event
from praisonai_svc.files.models import StoredFile

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp

UPLOADED = "file.uploaded"
PROCESSED = "file.processed"
FAILED = "file.failed"
DELETED = "file.deleted"


async def publish_file_event(app: ServiceApp, topic: str, stored: StoredFile) -> None:
    data = {
        "file_id": stored.id, "filename": stored.filename, "original_filename": stored.original_filename,
        "mime_type": stored.mime_type, "file_size": stored.file_size, "file_hash": stored.file_hash,
        "status": stored.status.value, "error_message": stored.error_message,
        "extraction_metadata": {k: v for k, v in stored.extraction_metadata.items() if k not in ("rows", "sheets")},
    }
    await app.events.publish(Event(topic=topic, subject=stored.id, data=data, tenant=stored.tenant))
