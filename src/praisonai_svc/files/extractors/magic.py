"""What a file's first bytes say it is: for error messages that name what an upload really contains."""

from __future__ import annotations

ZIP = b"PK\x03\x04"
EMPTY_ZIP = b"PK\x05\x06"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PDF = b"%PDF-"

_SIGNATURES: list[tuple[bytes, str]] = [
    (PDF, "a PDF document"),
    (ZIP, "a ZIP archive (or a DOCX/XLSX/PPTX)"),
    (EMPTY_ZIP, "an empty ZIP archive"),
    (OLE2, "an OLE2 compound file (a legacy .doc/.xls, or a password-protected Office document)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"{\\rtf", "an RTF document"),
]
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def describe(head: bytes) -> str | None:
    """What the signature at the start of ``head`` identifies, or None for no known signature."""
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    if PDF in head[:1024]:
        return "a PDF document"
    return None


def text_problem(head: bytes) -> str | None:
    """None when ``head`` can be the start of a text file (any encoding); else what it is instead.

    A byte-order mark settles it. Otherwise a known binary signature, or NUL bytes that are not the every-other
    byte pattern of BOM-less UTF-16, mean binary content.
    """
    if head.startswith(_BOMS):
        return None
    known = describe(head)
    if known is not None:
        return known
    if b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]
    if (_mostly_zero(even) and b"\x00" not in odd) or (_mostly_zero(odd) and b"\x00" not in even):
        return None  # UTF-16 without a byte-order mark
    return "binary data"


def _mostly_zero(data: bytes) -> bool:
    return data.count(0) > len(data) * 0.3
