"""A job's outputs as one ZIP, built while it is sent: constant memory, no temporary file, ZIP64 when needed.

Built on ``stream-zip`` (docs/outputs.md says why): each member is *stored* (outputs such as decks, images and
PDFs are compressed already, and deflating would make the download CPU-bound), with the size and CRC-32
recorded when the file was uploaded, so every byte is read once, from storage to the socket. Archives whose
offsets or sizes could pass 4 GiB use ZIP64 records; smaller ones stay plain ZIP for the oldest unzip tools.
"""

from __future__ import annotations

import stat
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime

from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64, Method, async_stream_zip

from praisonai_svc.models.job import StoredOutput
from praisonai_svc.ports import BlobStore

ZIP_CHUNK = 1024 * 1024
_ZIP32_LIMIT = 0xFFFF_FFFF - 64 * 1024 * 1024  # below every 4 GiB field limit, with room for headers
_FILE_MODE = stat.S_IFREG | 0o644
MemberFile = tuple[str, datetime, int, Method, AsyncIterable[bytes]]


def needs_zip64(outputs: list[StoredOutput]) -> bool:
    """Whether the archive may pass a 4 GiB field (a member's size, or the offset of the last member)."""
    return sum(output.size for output in outputs) >= _ZIP32_LIMIT


async def _members(blobs: BlobStore, outputs: list[StoredOutput], modified: datetime) -> AsyncIterator[MemberFile]:
    zip64 = needs_zip64(outputs)
    for output in outputs:
        method = NO_COMPRESSION_64 if zip64 else NO_COMPRESSION_32
        yield (output.filename, modified, _FILE_MODE, method(output.size, output.crc32),
               blobs.open_stream(output.blob_name))


def zip_outputs(blobs: BlobStore, outputs: list[StoredOutput], modified: datetime) -> AsyncIterable[bytes]:
    """The ZIP of ``outputs`` as an async stream of chunks; stream-zip checks every size and CRC on the way."""
    return async_stream_zip(_members(blobs, outputs, modified), chunk_size=ZIP_CHUNK)
