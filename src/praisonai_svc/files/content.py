"""Where an extraction's result is kept: inline in the file record when small, else in the blob store.

A record holds at most 256 KiB (praisonai_svc.records), and every list of files reads whole records, so only
small results go inline. A large one is stored whole (text and metadata, rows included) as one JSON blob, and
the record keeps the metadata without the rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from praisonai_svc.files.extractors import Extraction

INLINE_LIMIT = 96 * 1024  # UTF-8 bytes of content + metadata kept in the record
BULKY_KEYS = ("rows",)
MAX_COLUMNS_KEPT = 200  # column names kept in the record (all of them are in the blob)


def content_blob_name(file_id: str) -> str:
    return f"files/{file_id}/extracted.json"


@dataclass(frozen=True)
class PlacedContent:
    inline_content: str | None
    record_metadata: dict[str, Any]
    blob: bytes | None  # the JSON document to store under content_blob_name, when not inline


def place(extraction: Extraction) -> PlacedContent:
    metadata_json = json.dumps(extraction.metadata, ensure_ascii=False, default=str)
    if len(extraction.content) + len(metadata_json) <= INLINE_LIMIT // 4 or (
        len(extraction.content.encode()) + len(metadata_json.encode()) <= INLINE_LIMIT
    ):
        return PlacedContent(extraction.content, json.loads(metadata_json), None)
    document = json.dumps({"content": extraction.content, "metadata": json.loads(metadata_json)},
                          ensure_ascii=False).encode()
    return PlacedContent(None, slim_metadata(extraction.metadata), document)


def slim_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata without row data (CSV ``rows``, each XLSX sheet's ``rows``): what a record can carry."""
    slim = {key: value for key, value in metadata.items() if key not in BULKY_KEYS}
    if isinstance(slim.get("columns"), list):
        slim["columns"] = slim["columns"][:MAX_COLUMNS_KEPT]
    if isinstance(slim.get("sheets"), list):
        slim["sheets"] = [{k: v for k, v in sheet.items() if k not in BULKY_KEYS} for sheet in slim["sheets"]
                          if isinstance(sheet, dict)]
    return json.loads(json.dumps(slim, ensure_ascii=False, default=str))  # type: ignore[no-any-return]


def read_blob(data: bytes) -> tuple[str, dict[str, Any]]:
    document = json.loads(data)
    return str(document["content"]), dict(document["metadata"])
