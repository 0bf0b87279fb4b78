"""PDF: pypdf, page by page with page markers; refused past ``max_pages``, when encrypted or truncated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from praisonai_svc.files.extractors.base import Extraction, ExtractionError, Extractor, Limits
from praisonai_svc.files.extractors.magic import PDF, describe

EOF_WINDOW = 2048  # %%EOF must be this close to the end (readers tolerate a little trailing junk)


class PdfExtractor(Extractor):
    extensions = ("pdf",)
    mime_type = "application/pdf"
    description = "text of every page (with --- Page n --- markers); metadata: pages, title, author, encrypted"

    def check_content(self, head: bytes) -> str | None:
        if PDF in head[:1024]:
            return None
        return describe(head) or "not a PDF (no %PDF- header)"

    def extract(self, path: Path, limits: Limits) -> Extraction:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError, PyPdfError

        _check_complete(path)
        try:
            reader = PdfReader(path)
            encrypted = _unlock(reader)
            pages = len(reader.pages)
            if pages > limits.max_pages:
                raise ExtractionError(
                    f"The PDF has {pages} pages; files with more than {limits.max_pages} pages are not extracted "
                    "(PRAISONAI_FILES_MAX_PAGES). Split it into smaller files."
                )
            texts = [f"--- Page {number} ---\n{(page.extract_text() or '').strip()}"
                     for number, page in enumerate(reader.pages, 1)]
            metadata = _metadata(reader.metadata, pages, encrypted)
        except (PdfReadError, PyPdfError) as exc:
            raise ExtractionError(f"The PDF could not be read ({exc}); it may be damaged.") from exc
        return Extraction("\n\n".join(texts), metadata)


def _check_complete(path: Path) -> None:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(size - EOF_WINDOW, 0))
        tail = handle.read()
    if b"%%EOF" not in tail:
        raise ExtractionError("The PDF is truncated (it does not end with %%EOF); upload the complete file.")


def _unlock(reader: Any) -> bool:
    """Open an encrypted PDF with the empty password (owner-only restrictions), else refuse it."""
    from pypdf.errors import DependencyError

    if not reader.is_encrypted:
        return False
    try:
        opened = reader.decrypt("")
    except DependencyError as exc:
        raise ExtractionError(f"The PDF is encrypted in a way this server cannot open ({exc}).") from exc
    if not opened:
        raise ExtractionError("The PDF is password-protected; upload a copy without a password.")
    return True


def _metadata(info: Any, pages: int, encrypted: bool) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return str(value).strip() or None if value is not None else None

    return {
        "pages": pages,
        "title": text(info.title) if info else None,
        "author": text(info.author) if info else None,
        "encrypted": encrypted,
    }


extractor = PdfExtractor()
