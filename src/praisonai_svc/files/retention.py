"""What the pruner does with an expired file record (PRAISONAI_FILE_RETENTION): its blobs go first.

The uploaded bytes and a large extraction's JSON are deleted before the record (retention/pruner.py), so a
pruner killed in between leaves a record whose blobs are gone, which its next run removes; never a blob that no
record points at. Deleting a missing blob is a no-op, so a soft-deleted file (blobs already gone) costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from praisonai_svc.records import Record

if TYPE_CHECKING:
    from praisonai_svc.backend import Backend


async def drop_file_blobs(record: Record, backend: Backend) -> None:
    """Delete the blobs an expired file record owns (read from its body as stored, whatever its version)."""
    for key in ("blob_name", "content_blob"):
        name = record.body.get(key)
        if isinstance(name, str) and name:
            await backend.blobs.delete(name)
