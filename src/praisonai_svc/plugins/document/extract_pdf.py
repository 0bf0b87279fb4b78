"""PDF text extraction with pypdf, run in the process pool. Refused with PayloadError: not a PDF, encrypted,
corrupt. Pages past ``max_pages`` are not read."""

from __future__ import annotations

import io
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from praisonai_svc.errors import PayloadError


@dataclass(frozen=True)
class PdfText:
    text: str
    pages: int
    pages_read: int
    title: str | None
    author: str | None


def extract_text(data: bytes, max_pages: int) -> PdfText:
    if not data.lstrip()[:5] == b"%PDF-":
        raise PayloadError("The file is not a PDF.")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PayloadError("The PDF is encrypted; send a copy without a password.")
        pages = len(reader.pages)
        parts = []
        for number, page in enumerate(reader.pages[:max_pages], start=1):
            parts.append(f"--- page {number} ---\n{(page.extract_text() or '').strip()}")
        info = reader.metadata
    except PayloadError:
        raise
    except MemoryError:
        raise
    except (PdfReadError, PyPdfError, Exception) as exc:  # any failure to parse untrusted bytes is the input's fault
        raise PayloadError(f"The PDF is corrupt or unreadable: {exc}") from None
    title = str(info.title) if info is not None and info.title else None
    author = str(info.author) if info is not None and info.author else None
    return PdfText("\n\n".join(parts), pages, min(pages, max_pages), title, author)
