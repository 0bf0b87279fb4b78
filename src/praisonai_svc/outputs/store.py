"""Store a job's outputs: one blob each, under safe unique names, hashed (SHA-256, CRC-32) while streaming."""

from __future__ import annotations

import asyncio
import hashlib
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

from praisonai_svc.filenames import safe_filename
from praisonai_svc.models.job import StoredOutput
from praisonai_svc.outputs.collect import PendingOutput
from praisonai_svc.ports import BlobStore

CHUNK_SIZE = 1024 * 1024
PARALLEL_UPLOADS = 4  # uploads of one multi-file job in flight at once


def unique_names(filenames: list[str]) -> list[str]:
    """Safe names, unique case-insensitively (``a.png``, ``a-2.png``, ...), in the given order."""
    if len(filenames) == 1:  # every single-file job: no path parsing
        return [safe_filename(filenames[0])]
    taken: set[str] = set()
    names: list[str] = []
    for raw in filenames:
        name = safe_filename(raw)
        path = PurePosixPath(name)
        stem, suffix = (path.stem, path.suffix) if path.stem else (name, "")
        counter = 1
        while name.lower() in taken:
            counter += 1
            name = f"{stem}-{counter}{suffix}"
        taken.add(name.lower())
        names.append(name)
    return names


@dataclass
class _Digest:
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)
    crc32: int = 0
    size: int = 0

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.crc32 = zlib.crc32(chunk, self.crc32)
        self.size += len(chunk)


async def _chunks(stream: IO[bytes], digest: _Digest) -> AsyncIterator[bytes]:
    """Read ``stream`` in chunks off the event loop, hashing each one."""
    while True:
        chunk = await asyncio.to_thread(stream.read, CHUNK_SIZE)
        if not chunk:
            return
        digest.update(chunk)
        yield chunk


async def store_one(blobs: BlobStore, prefix: str, name: str, output: PendingOutput) -> StoredOutput:
    blob_name = f"{prefix}/{name}"
    digest = _Digest()
    if isinstance(output.source, bytes):  # the common case: one put, no thread hops (small ones go inline)
        digest.update(output.source)
        await blobs.put(blob_name, output.source, content_type=output.content_type, filename=name)
    else:
        stream = output.open()
        try:
            await blobs.put_stream(blob_name, _chunks(stream, digest), content_type=output.content_type,
                                   filename=name)
        finally:
            if not output.from_handler_stream:  # the handler's own stream may be read again by a retry
                await asyncio.to_thread(stream.close)
    return StoredOutput(filename=name, content_type=output.content_type, size=digest.size,
                        sha256=digest.sha256.hexdigest(), blob_name=blob_name, crc32=digest.crc32)


async def store_outputs(blobs: BlobStore, prefix: str, outputs: list[PendingOutput]) -> list[StoredOutput]:
    """Upload every output under ``prefix`` (``<service>/<job id>``); the result is in the handler's order.

    A single output is one call (the hot path of every job); several go up :data:`PARALLEL_UPLOADS` at a time.
    Idempotent: a retried attempt overwrites the same names. Raises what the blob store raises.
    """
    names = unique_names([output.filename for output in outputs])
    if len(outputs) == 1:
        return [await store_one(blobs, prefix, names[0], outputs[0])]
    limit = asyncio.Semaphore(PARALLEL_UPLOADS)

    async def bounded(name: str, output: PendingOutput) -> StoredOutput:
        async with limit:
            return await store_one(blobs, prefix, name, output)

    return list(await asyncio.gather(*(bounded(n, o) for n, o in zip(names, outputs, strict=True))))


async def remove_outputs(blobs: BlobStore, prefix: str, outputs: list[PendingOutput]) -> None:
    """Delete whatever :func:`store_outputs` may have stored for ``outputs`` (idempotent)."""
    names = unique_names([output.filename for output in outputs])
    await asyncio.gather(*(blobs.delete(f"{prefix}/{name}") for name in names))
