"""The real gateways for the steps: outbound HTTP through the safe fetcher, files through the files feature.

This is the one module of the workflows package that knows other features: it adapts their use cases to the
small protocols of :mod:`~praisonai_svc.workflows.gateways`, which is all the engine sees.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from praisonai_svc.files.content import slim_metadata
from praisonai_svc.files.errors import FileNotFound
from praisonai_svc.files.models import FileStatus, StoredFile
from praisonai_svc.files.service import FileService
from praisonai_svc.workflows.gateways import FileView, Gateways
from praisonai_svc.workflows.http_bridge import SafeHttp
from praisonai_svc.workflows.steps import StepFailed

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

MAX_VIEW_METADATA = 8 * 1024  # JSON bytes of metadata a step sees whole; larger loses its rows (kept: columns...)


class FilesBridge:
    """:class:`~praisonai_svc.workflows.gateways.FileGateway` over :class:`~praisonai_svc.files.service.FileService`."""

    def __init__(self, app: ServiceApp) -> None:
        self.app = app

    async def _get(self, service: FileService, file_id: str, tenant: str | None) -> StoredFile:
        try:
            return await service.get(file_id, tenant=tenant)
        except FileNotFound:
            raise StepFailed(f"file {file_id} does not exist", retryable=False) from None

    async def view(self, file_id: str, *, tenant: str | None, backend: Backend) -> FileView:
        service = FileService(self.app, backend)
        return await self._view(service, await self._get(service, file_id, tenant))

    async def process(self, file_id: str, *, tenant: str | None, backend: Backend) -> FileView:
        """An uploaded file's extraction is queued (once per run: the job id derives from the file and run); a
        file being processed, processed, failed or deleted is only looked at."""
        service = FileService(self.app, backend)
        stored = await self._get(service, file_id, tenant)
        if stored.status is FileStatus.UPLOADED:
            await service.queue_extraction(stored)
        return await self._view(service, stored)

    async def mark_triggered(self, file_id: str, workflow_id: str, *, backend: Backend) -> None:
        await FileService(self.app, backend).mark_triggered(file_id, workflow_id)

    @staticmethod
    async def _view(service: FileService, stored: StoredFile) -> FileView:
        content: str | None = None
        metadata: dict[str, Any] = {}
        if stored.status is FileStatus.PROCESSED:
            content, metadata = await service.content_of(stored)  # large content is read from its blob
            metadata = _small(metadata)
        return FileView(file_id=stored.id, status=stored.status.value, filename=stored.original_filename,
                        mime_type=stored.mime_type, file_size=stored.file_size, content=content, metadata=metadata,
                        error=stored.error_message)


def _small(metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata whole when small, else without its rows: step results live in the execution record."""
    if len(json.dumps(metadata, default=str)) <= MAX_VIEW_METADATA:
        return metadata
    return slim_metadata(metadata)


def build_gateways(app: ServiceApp) -> Gateways:
    return Gateways(http=SafeHttp(app.settings), files=FilesBridge(app))
