"""CSV: charset detection, ``csv.Sniffer`` for the dialect, at most ``max_rows`` rows, as text and as rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from praisonai_svc.files.extractors.base import Extraction, ExtractionError, Extractor, Limits
from praisonai_svc.files.extractors.magic import text_problem
from praisonai_svc.files.extractors.text_encoding import SAMPLE_BYTES, detect_encoding
from praisonai_svc.files.sizes import format_size

DELIMITERS = ",;\t|"


class CsvExtractor(Extractor):
    extensions = ("csv",)
    mime_type = "text/csv"
    description = "rows (at most max_rows) as text and as lists; metadata: delimiter, encoding, columns, has_header"

    def check_content(self, head: bytes) -> str | None:
        return text_problem(head)

    def extract(self, path: Path, limits: Limits) -> Extraction:
        with path.open("rb") as raw:
            sample = raw.read(SAMPLE_BYTES)
            encoding = detect_encoding(sample, complete=len(sample) < SAMPLE_BYTES)
            raw.seek(0)
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
            dialect, has_header = _sniff(text.read(SAMPLE_BYTES // 2))
            text.seek(0)
            csv.field_size_limit(limits.max_line_bytes)
            rows = _read_rows(text, dialect, limits)
        truncated = len(rows) > limits.max_rows
        rows = rows[: limits.max_rows]
        columns = [str(name) for name in rows[0]] if has_header and rows else []
        delimiter = dialect.delimiter
        content = "\n".join(delimiter.join(row) for row in rows)
        metadata: dict[str, Any] = {
            "delimiter": delimiter, "encoding": encoding, "columns": columns, "has_header": has_header,
            "rows": rows, "row_count": len(rows), "truncated": truncated,
        }
        return Extraction(content, metadata)


def _sniff(sample: str) -> tuple[type[csv.Dialect] | csv.Dialect, bool]:
    end = sample.rfind("\n")
    lines = sample[: end + 1] if end > 0 else sample
    try:
        dialect = csv.Sniffer().sniff(lines, delimiters=DELIMITERS)
    except csv.Error:
        return csv.excel, False  # one column, or too little to tell: plain commas
    try:
        has_header = csv.Sniffer().has_header(lines)
    except csv.Error:
        has_header = False
    return dialect, has_header


def _read_rows(text: io.TextIOWrapper, dialect: type[csv.Dialect] | csv.Dialect, limits: Limits) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(_bounded_lines(text, limits.max_line_bytes), dialect):
            rows.append(row)
            if len(rows) > limits.max_rows:  # one more than kept, to know it was truncated
                break
    except csv.Error as exc:
        raise ExtractionError(f"The CSV could not be parsed ({exc}).") from exc
    return rows


def _bounded_lines(text: io.TextIOWrapper, max_line: int) -> Iterator[str]:
    """The file's lines, refusing one longer than ``max_line`` characters before reading all of it."""
    while True:
        line = text.readline(max_line + 1)
        if not line:
            return
        if len(line) > max_line:
            raise ExtractionError(
                f"The CSV has a line longer than {format_size(max_line)}: that is not a table row "
                "(is it really a CSV file?)."
            )
        yield line


extractor = CsvExtractor()
