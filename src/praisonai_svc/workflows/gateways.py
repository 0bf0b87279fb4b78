"""What steps need from other features, as small protocols: outbound HTTP (the safe fetcher) and files.

The workflow engine depends on these shapes only; :mod:`praisonai_svc.workflows.service` plugs in the real
ones (``praisonai_svc.net`` and ``praisonai_svc.files``) when the app has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from praisonai_svc.backend import Backend


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes
    content_type: str


class OutboundHttp(Protocol):
    async def request(
        self, method: str, url: str, *, headers: dict[str, str], content: bytes | None, timeout: float,
        max_bytes: int,
    ) -> HttpReply:
        """Send one request through the safe fetcher; raise a PraisonSvcError when refused or failed."""


@dataclass(frozen=True)
class FileView:
    """A file as a ``file_process`` step sees it."""

    file_id: str
    status: str  # uploaded | processing | processed | failed | deleted
    filename: str = ""
    mime_type: str = ""
    file_size: int = 0
    content: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class FileGateway(Protocol):
    """Files as workflows use them, on the storage of the process that asks (``backend``)."""

    async def view(self, file_id: str, *, tenant: str | None, backend: Backend) -> FileView:
        """The file (raises a PraisonSvcError naming the problem when it does not exist for this tenant)."""

    async def process(self, file_id: str, *, tenant: str | None, backend: Backend) -> FileView:
        """Queue its extraction if it has not been extracted (idempotent); the file as it is now."""

    async def mark_triggered(self, file_id: str, workflow_id: str, *, backend: Backend) -> None:
        """Add ``workflow_id`` to the file's ``triggered_workflows`` (once; nothing if the file does not exist)."""


@dataclass
class Gateways:
    http: OutboundHttp | None = None
    files: FileGateway | None = None
