"""Encoding detection shared by the text formats: byte-order marks first, then UTF-8, then charset-normalizer."""

from __future__ import annotations

import codecs

SAMPLE_BYTES = 64 * 1024
WESTERN = ("cp1252", "latin_1", "iso8859_15")
WESTERN_TOLERANCE = 0.15  # of charset-normalizer's "chaos" (0: reads cleanly, 1: garbage)
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: FF FE 00 00 starts both
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
]


def detect_encoding(sample: bytes, *, complete: bool) -> str:
    """The encoding of text starting with ``sample`` (``complete``: the sample is the whole file)."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    if not complete:
        sample = _cut_at_line_end(sample)
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        return "utf-8"
    best = matches[0]
    # Short samples fit several single-byte code pages about equally (è is č in cp1250); unless Western European
    # reads clearly worse, it is the likelier one.
    for match in matches:
        if match.encoding in WESTERN and match.chaos <= best.chaos + WESTERN_TOLERANCE:
            return str(match.encoding)
    return str(best.encoding)


def _cut_at_line_end(sample: bytes) -> bytes:
    """Drop the last, maybe cut, line so a multi-byte character split by the sample does not mislead."""
    end = sample.rfind(b"\n")
    return sample[: end + 1] if end > 0 else sample
