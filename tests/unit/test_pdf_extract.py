"""document-pdf-to-text's extraction, called directly on hand-written PDFs."""

from __future__ import annotations

import pytest

from praisonai_svc.errors import PayloadError
from praisonai_svc.plugins.document.extract_pdf import extract_text
from tests.support.documents import pdf_with_text


def test_pages_are_marked_and_capped() -> None:
    result = extract_text(pdf_with_text("Page", pages=3), max_pages=2)
    assert (result.pages, result.pages_read) == (3, 2)
    assert result.text == "--- page 1 ---\nPage 1\n\n--- page 2 ---\nPage 2"


@pytest.mark.parametrize(("data", "message"), [
    (b"hello, not a pdf", "not a PDF"),
    (b"%PDF-1.4\n1 0 obj << /Type /Catalog", "corrupt or unreadable"),
    (pdf_with_text("x")[:120], "corrupt or unreadable"),
])
def test_unreadable_documents_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        extract_text(data, max_pages=10)
