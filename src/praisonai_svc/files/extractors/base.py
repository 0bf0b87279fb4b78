"""The one small interface every format implements, and what an extraction returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from praisonai_svc.errors import PraisonSvcError

HEAD_BYTES = 8192  # how much of an upload the magic-byte check sees


class ExtractionError(PraisonSvcError):
    """The file's content could not be extracted; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """What one extraction may read (from the PRAISONAI_FILES_* settings)."""

    max_pages: int = 1000
    max_rows: int = 1000
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_line_bytes: int = 1024 * 1024  # one CSV record; longer is not a table


@dataclass(frozen=True)
class Extraction:
    """The text of a document and what else is known about it (pages, sheets, rows, encoding, ...)."""

    content: str
    metadata: dict[str, Any] = field(default_factory=dict)


class Extractor(ABC):
    """One format. A module in ``praisonai_svc.files.extractors`` that defines ``extractor = MyExtractor()`` is
    found by the registry, so adding a format touches one file.

    ``check_content`` runs in the API on the first :data:`HEAD_BYTES` of an upload (cheap, no parsing);
    ``extract`` runs in the worker's extraction child process, with its time and memory limits. Import heavy
    libraries inside ``extract``, so that the API never loads them.
    """

    extensions: tuple[str, ...] = ()
    mime_type: str = "application/octet-stream"
    description: str = ""

    @abstractmethod
    def check_content(self, head: bytes) -> str | None:
        """None when ``head`` (the file's first bytes) can be this format; else what it looks like instead."""

    @abstractmethod
    def extract(self, path: Path, limits: Limits) -> Extraction:
        """The content of the file at ``path``. Raise :class:`ExtractionError` with a message for the user."""
