"""Legacy binary Office formats (.doc, .xls): recognised, and refused with what to do instead."""

from __future__ import annotations

from pathlib import Path

from praisonai_svc.files.extractors.base import Extraction, ExtractionError, Extractor, Limits
from praisonai_svc.files.extractors.magic import OLE2, describe

_MODERN = {"doc": "docx", "xls": "xlsx"}


class LegacyOfficeExtractor(Extractor):
    extensions = ("doc", "xls")
    mime_type = "application/octet-stream"
    description = "not extracted: an 'unsupported legacy format' error that says to save as .docx/.xlsx"

    def check_content(self, head: bytes) -> str | None:
        return None if head.startswith(OLE2) else describe(head) or "not a legacy Office (OLE2) file"

    def extract(self, path: Path, limits: Limits) -> Extraction:
        extension = path.suffix.lower().lstrip(".")
        modern = _MODERN.get(extension, "docx or .xlsx")
        raise ExtractionError(
            f"Unsupported legacy format (.{extension}, Office 97-2003): open it in Word, Excel or LibreOffice, "
            f"save it as .{modern} and upload that."
        )


extractor = LegacyOfficeExtractor()
