"""Extractors, each on documents written by another tool, and hostile documents, through the isolated child.

Every extraction here runs the way the worker runs it (``extract_isolated``: a child process with time and
memory limits), so the hostile cases also prove that the caller survives them.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from praisonai_svc.files.extractors import ExtractionError, Limits, extractor_for
from praisonai_svc.files.sandbox import extract_isolated
from tests.support import documents as docs

LIMITS = Limits()


async def extract(extension: str, data: bytes, limits: Limits = LIMITS, timeout: float = 60,
                  memory_mb: int = 1024):
    return await extract_isolated(extension, data, limits, timeout=timeout, memory_mb=memory_mb)


async def test_pdf_text_with_page_markers_and_metadata() -> None:
    result = await extract("pdf", docs.text_pdf(pages=3, title="Zanzibar Q3"))
    assert "--- Page 1 ---" in result.content and "--- Page 3 ---" in result.content
    assert f"{docs.PDF_PHRASES[0]} page 2" in result.content
    assert docs.PDF_PHRASES[1] in result.content
    assert result.metadata == {"pages": 3, "title": "Zanzibar Q3", "author": "Test Suite", "encrypted": False}


async def test_docx_paragraphs_and_tables_in_document_order() -> None:
    result = await extract("docx", docs.docx())
    lines = result.content.splitlines()
    assert lines == [docs.DOCX_PARAGRAPHS[0], docs.DOCX_PARAGRAPHS[1], "Item | Owner", "Budget | Ana",
                     "Hiring | Bruno", docs.DOCX_PARAGRAPHS[2]]
    assert result.metadata["paragraphs"] == 3 and result.metadata["tables"] == 1


async def test_xlsx_every_sheet_as_text_and_rows() -> None:
    result = await extract("xlsx", docs.xlsx())
    assert "## Sheet: Cities" in result.content and "Lisbon\t545923\tPortugal" in result.content
    assert "## Sheet: Extra1" in result.content
    cities = result.metadata["sheets"][0]
    assert cities["rows"] == docs.XLSX_ROWS and cities["truncated"] is False
    assert result.metadata["sheet_names"] == ["Cities", "Extra1"]


async def test_xlsx_rows_are_capped_per_sheet() -> None:
    result = await extract("xlsx", docs.big_xlsx(rows=50, columns=3), Limits(max_rows=10))
    sheet = result.metadata["sheets"][0]
    assert sheet["row_count"] == 10 and sheet["truncated"] is True
    assert sheet["rows"][9] == [27, "r9c1", 29]


async def test_csv_latin1_semicolons_detected() -> None:
    result = await extract("csv", docs.latin1_csv())
    assert result.metadata["delimiter"] == ";"
    assert result.metadata["columns"] == docs.CSV_ROWS[0]
    assert result.metadata["rows"] == docs.CSV_ROWS
    assert "Genève" in result.content and "Jürgen" in result.content
    assert result.metadata["encoding"].replace("-", "_").lower() in ("latin_1", "iso8859_1", "cp1252", "windows_1252")


async def test_csv_rows_are_capped() -> None:
    data = ("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(100))).encode()
    result = await extract("csv", data, Limits(max_rows=5))
    assert result.metadata["row_count"] == 5 and result.metadata["truncated"] is True


async def test_txt_utf16_with_bom() -> None:
    result = await extract("txt", docs.utf16_txt())
    assert result.content == docs.TXT_TEXT
    assert result.metadata["encoding"] == "utf-16"


async def test_txt_latin1_without_bom() -> None:
    result = await extract("txt", "Café crème, déjà vu à Montréal — naïve façade.\n".replace("—", "-").encode(
        "latin-1") * 20)
    assert "Café crème" in result.content and "façade" in result.content


@pytest.mark.parametrize(("extension", "data", "words"), [
    ("pdf", docs.text_pdf(encrypt_password="s3cret"), "password-protected"),
    ("pdf", docs.text_pdf(pages=4)[:1500], "truncated"),
    ("pdf", docs.many_pages_pdf(10_000), "10000 pages"),
    ("docx", docs.docx()[:400], "damaged or truncated"),
    ("docx", docs.billion_laughs_docx(), "declares a DTD"),
    ("docx", docs.zip_bomb_docx(300), "ZIP bomb"),
    ("xlsx", docs.xlsx()[:-200], "damaged or truncated"),
    ("docx", docs.xlsx(), "not a DOCX"),
    ("csv", docs.one_line_csv(50), "line longer than 1 MB"),
    ("doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "save it as .docx"),
    ("xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "save it as .xlsx"),
], ids=["encrypted-pdf", "truncated-pdf", "10000-page-pdf", "truncated-docx", "billion-laughs", "zip-bomb",
        "truncated-xlsx", "xlsx-named-docx", "50mb-csv-line", "legacy-doc", "legacy-xls"])
async def test_hostile_documents_fail_with_a_clear_message(extension: str, data: bytes, words: str) -> None:
    with pytest.raises(ExtractionError) as failure:
        await extract(extension, data)
    assert words in failure.value.message


async def test_a_pdf_with_an_empty_user_password_is_opened() -> None:
    result = await extract("pdf", docs.text_pdf(encrypt_password=" ".strip() or None))
    assert docs.PDF_PHRASES[1] in result.content


async def test_the_time_limit_kills_the_child_and_the_caller_carries_on() -> None:
    started = time.monotonic()
    with pytest.raises(ExtractionError) as failure:
        await extract("pdf", docs.text_pdf(pages=300), timeout=0.05)
    assert "longer than 0.05 s" in failure.value.message
    assert time.monotonic() - started < 30
    assert "--- Page 2 ---" in (await extract("pdf", docs.text_pdf(pages=2))).content


async def test_the_memory_limit_turns_exhaustion_into_a_failure() -> None:
    # 10 MB of text cannot even be read into a process limited to its own baseline: MemoryError, not a crash.
    with pytest.raises(ExtractionError) as failure:
        await extract("txt", b"x" * (64 * 1024 * 1024), memory_mb=128)
    assert "MB" in failure.value.message


async def test_concurrent_extractions_are_independent() -> None:
    results = await asyncio.gather(extract("txt", b"first"), extract("txt", b"second"),
                                   extract("docx", docs.billion_laughs_docx()), return_exceptions=True)
    assert [getattr(r, "content", None) for r in results[:2]] == ["first", "second"]
    assert isinstance(results[2], ExtractionError)


@pytest.mark.parametrize(("extension", "head", "accepted"), [
    ("pdf", b"%PDF-1.7\n", True), ("pdf", b"PK\x03\x04rest", False), ("docx", b"PK\x03\x04", True),
    ("docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", False), ("xlsx", b"%PDF-1.4", False), ("txt", b"hello", True),
    ("txt", "hi".encode("utf-16"), True), ("txt", b"\x7fELF\x02\x01", False), ("csv", b"a\x00\x01\x00\x00b", False),
    ("doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", True), ("doc", b"PK\x03\x04", False),
])
def test_magic_bytes(extension: str, head: bytes, accepted: bool) -> None:
    extractor = extractor_for(extension)
    assert extractor is not None
    assert (extractor.check_content(head) is None) is accepted


def test_large_results_arrive_whole_under_uvloop() -> None:
    # The worker runs on uvloop, whose add_reader makes the pipe non-blocking: a multi-megabyte result must still
    # be read whole (this broke once: BlockingIOError half-way through a 1000-page PDF's text).
    import uvloop

    result = uvloop.run(extract("txt", b"y" * 3_000_000))
    assert len(result.content) == 3_000_000
