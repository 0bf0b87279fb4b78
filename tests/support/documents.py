"""Test documents, written by other tools than the extractors that read them, with known content.

* PDFs: reportlab (text and encrypted), or by hand (the 10,000-page one: one shared empty page content);
* DOCX: the ZIP package built by hand (so hostile variants are as easy as honest ones);
* XLSX: openpyxl's *writer* (the extractor uses its read-only reader);
* CSV: latin-1 with ``;`` separators; TXT: UTF-16 with a byte-order mark;
* :func:`pdf_with_text`: a small PDF written by hand, for the document plugins' tests (no PDF library involved).
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

PDF_PHRASES = ["Quarterly report for Zanzibar", "Revenue grew by eleven percent"]
DOCX_PARAGRAPHS = ["Minutes of the Lisbon meeting", "Decisions follow the table below", "Signed by the chair"]
DOCX_TABLE = [["Item", "Owner"], ["Budget", "Ana"], ["Hiring", "Bruno"]]
XLSX_ROWS = [["City", "Population", "Country"], ["Lisbon", 545923, "Portugal"], ["Porto", 231800, "Portugal"]]
CSV_ROWS = [["Nom", "Ville", "Prénom"], ["Dupont", "Genève", "Hélène"], ["Müller", "Zürich", "Jürgen"]]
TXT_TEXT = "Grüße aus Köln — ünïcödé text\nSecond line with 日本語\n"


def text_pdf(pages: int = 2, *, title: str = "Test Report", encrypt_password: str | None = None) -> bytes:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    encrypt = pdfencrypt.StandardEncryption(encrypt_password, canPrint=0) if encrypt_password else None
    pdf = canvas.Canvas(buffer, encrypt=encrypt)
    pdf.setTitle(title)
    pdf.setAuthor("Test Suite")
    for number in range(1, pages + 1):
        pdf.drawString(72, 720, f"{PDF_PHRASES[0]} page {number}")
        pdf.drawString(72, 700, PDF_PHRASES[1])
        for line in range(20):
            pdf.drawString(72, 660 - line * 14, f"Line {line} of page {number}: the quick brown fox jumps.")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def many_pages_pdf(pages: int) -> bytes:
    """A valid PDF of ``pages`` empty pages that share one content stream (small, however many pages)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Length 0 >>\nstream\n\nendstream")
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>"] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets))
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{escape(text)}</w:t></w:r></w:p>"


def _table(rows: list[list[str]]) -> str:
    body = "".join("<w:tr>" + "".join(f"<w:tc>{_paragraph(cell)}</w:tc>" for cell in row) + "</w:tr>" for row in rows)
    return f"<w:tbl>{body}</w:tbl>"


def docx(document_xml: str | None = None, *, extra: dict[str, bytes] | None = None) -> bytes:
    """A DOCX package: two paragraphs, a table, a paragraph (or the ``document_xml`` given)."""
    if document_xml is None:
        body = _paragraph(DOCX_PARAGRAPHS[0]) + _paragraph(DOCX_PARAGRAPHS[1]) + _table(DOCX_TABLE) + _paragraph(
            DOCX_PARAGRAPHS[2])
        document_xml = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {_W}><w:body>{body}' \
                       "</w:body></w:document>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES)
        package.writestr("_rels/.rels", _RELS)
        package.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            package.writestr(name, data)
    return buffer.getvalue()


def billion_laughs_docx() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    document = (f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><w:document {_W}><w:body>'
                "<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    return docx(document)


def zip_bomb_docx(uncompressed_mb: int = 300) -> bytes:
    """A DOCX with one extra part that inflates to ``uncompressed_mb`` MB of zeros."""
    return _with_bomb(docx(), "word/media/padding.bin", uncompressed_mb)


def zip_bomb_xlsx(uncompressed_mb: int = 300) -> bytes:
    return _with_bomb(xlsx(), "xl/media/padding.bin", uncompressed_mb)


def _with_bomb(package_bytes: bytes, name: str, uncompressed_mb: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package_bytes)) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        for member in source.infolist():
            package.writestr(member, source.read(member))
        with package.open(name, "w", force_zip64=True) as part:
            zeros = bytes(1024 * 1024)
            for _ in range(uncompressed_mb):
                part.write(zeros)
    return buffer.getvalue()


def xlsx(rows: list[list[object]] | None = None, *, sheets: int = 2) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    first = workbook.active
    first.title = "Cities"
    for row in rows or XLSX_ROWS:
        first.append(row)
    for index in range(1, sheets):
        sheet = workbook.create_sheet(f"Extra{index}")
        sheet.append(["Sheet", index])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def big_xlsx(rows: int = 1000, columns: int = 20) -> bytes:
    return xlsx([[f"r{r}c{c}" if c % 2 else r * columns + c for c in range(columns)] for r in range(rows)], sheets=1)


def latin1_csv() -> bytes:
    return "\r\n".join(";".join(row) for row in CSV_ROWS).encode("latin-1") + b"\r\n"


def utf16_txt() -> bytes:
    return TXT_TEXT.encode("utf-16")


def one_line_csv(megabytes: int = 50) -> bytes:
    return b"a," * (megabytes * 1024 * 1024 // 2) + b"\n"


def pdf_with_text(text: str, pages: int = 1) -> bytes:
    """A PDF of ``pages`` pages, page n showing ``text n`` (just ``text`` for a one-page PDF) in Helvetica."""
    kids = " ".join(f"{4 + 2 * index} 0 R" for index in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids.encode(), pages),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for index in range(pages):
        shown = text if pages == 1 else f"{text} {index + 1}"
        stream = f"BT /F1 24 Tf 72 700 Td ({shown}) Tj ET".encode()
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * index))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
