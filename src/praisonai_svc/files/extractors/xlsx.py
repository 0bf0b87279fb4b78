"""XLSX: openpyxl in read-only mode, every sheet, at most ``max_rows`` rows each, as text and as rows."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from praisonai_svc.files.extractors.base import Extraction, Extractor, Limits
from praisonai_svc.files.extractors.magic import ZIP, describe
from praisonai_svc.files.extractors.ooxml import check_package

MAX_COLUMNS = 1000  # a sheet's declared dimension can claim 16,384 columns; real tables are far narrower


class XlsxExtractor(Extractor):
    extensions = ("xlsx",)
    mime_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    description = "every sheet as tab-separated text and as rows (at most max_rows per sheet); values, not formulas"

    def check_content(self, head: bytes) -> str | None:
        return None if head.startswith(ZIP) else describe(head) or "not an XLSX (not a ZIP package)"

    def extract(self, path: Path, limits: Limits) -> Extraction:
        from openpyxl import load_workbook  # type: ignore[import-untyped]

        check_package(path, limits, kind="XLSX", required="xl/workbook.xml")
        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            sheets = [_read_sheet(sheet, limits.max_rows) for sheet in workbook.worksheets]
        finally:
            workbook.close()
        text = "\n\n".join(
            f"## Sheet: {sheet['name']}\n" + "\n".join("\t".join(_text(v) for v in row) for row in sheet["rows"])
            for sheet in sheets
        )
        return Extraction(text, {"sheets": sheets, "sheet_names": [sheet["name"] for sheet in sheets]})


def _read_sheet(sheet: Any, max_rows: int) -> dict[str, Any]:
    rows: list[list[Any]] = []
    truncated = False
    declared = sheet.max_column if isinstance(sheet.max_column, int) else None  # from the sheet's <dimension>
    for row in sheet.iter_rows(values_only=True, max_col=min(declared, MAX_COLUMNS) if declared else None):
        if len(rows) == max_rows:
            truncated = True
            break
        values = [_json_value(value) for value in row[:MAX_COLUMNS]]
        while values and values[-1] is None:
            values.pop()
        rows.append(values)
    while rows and not rows[-1]:
        rows.pop()
    return {"name": sheet.title, "rows": rows, "row_count": len(rows), "truncated": truncated}


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


extractor = XlsxExtractor()
