"""DOCX: python-docx, paragraphs and tables in document order (table rows as ``cell | cell`` lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from praisonai_svc.files.extractors.base import Extraction, Extractor, Limits
from praisonai_svc.files.extractors.magic import ZIP, describe
from praisonai_svc.files.extractors.ooxml import check_package


class DocxExtractor(Extractor):
    extensions = ("docx",)
    mime_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    description = "paragraphs and tables in document order; metadata: paragraphs, tables, title, author"

    def check_content(self, head: bytes) -> str | None:
        return None if head.startswith(ZIP) else describe(head) or "not a DOCX (not a ZIP package)"

    def extract(self, path: Path, limits: Limits) -> Extraction:
        from docx import Document
        from docx.table import Table

        check_package(path, limits, kind="DOCX", required="word/document.xml")
        document = Document(str(path))
        blocks: list[str] = []
        paragraphs = tables = 0
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                tables += 1
                blocks.append(_table_text(block))
            elif block.text.strip():
                paragraphs += 1
                blocks.append(block.text)
        core = document.core_properties
        metadata: dict[str, Any] = {
            "paragraphs": paragraphs, "tables": tables, "title": core.title or None, "author": core.author or None,
        }
        return Extraction("\n".join(blocks), metadata)


def _table_text(table: Any) -> str:
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell is listed once per column it spans
                continue
            previous = cell._tc
            cells.append(cell.text.strip())
        lines.append(" | ".join(cells))
    return "\n".join(lines)


extractor = DocxExtractor()
