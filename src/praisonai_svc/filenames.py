"""Make handler-chosen filenames safe for blob names and Content-Disposition headers."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_filename(name: str, default: str = "output.bin") -> str:
    """The last path component, ASCII letters/digits/``._ -`` only, no leading dots, at most 120 chars."""
    base = re.split(r"[\\/]", name)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", ascii_name).strip(" .")
    cleaned = cleaned.lstrip(".-")[:120].strip(" .")
    return cleaned or default


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and an RFC 5987 UTF-8 name."""
    fallback = safe_filename(filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
