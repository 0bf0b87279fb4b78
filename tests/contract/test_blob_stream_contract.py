"""BlobStore streaming contract (``put_stream`` and ``open_stream``, see ``praisonai_svc.ports.BlobStore``), on
every adapter: memory,
local, Azure (on Azurite) and S3 (on moto's S3 server, through ``PRAISONAI_BLOB_URL=s3://...``).

Streamed uploads are all or nothing: the blob appears whole once the stream ends, and a stream that raises leaves
nothing behind (no blob, no partial bytes, an older blob of the same name untouched).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from praisonai_svc.adapters.local import FileBlobStore
from praisonai_svc.backend import Backend
from praisonai_svc.errors import BlobNotFound
from praisonai_svc.ports import BlobStore

NAME = "files/0001/report.pdf"
BINARY = bytes(range(256)) * 64 + b"\x00" * 1024 + b"\xff\x00\x00tail"  # every byte value, runs of zeros
MIB = 1024 * 1024


@pytest.fixture(params=["memory", "local", "azure", "s3"])
def adapter(request: pytest.FixtureRequest) -> str:
    """Like the BlobStore suite, this one also runs on S3 (moto)."""
    return str(request.param)


async def pending_s3_uploads(backend: Backend) -> list[Any]:
    """Multipart uploads started and neither completed nor aborted (S3 only; [] elsewhere)."""
    from praisonai_svc.adapters.s3.blobs import S3BlobStore

    blobs = backend.blobs
    if not isinstance(blobs, S3BlobStore):
        return []
    answer = await asyncio.to_thread(blobs._client.list_multipart_uploads, Bucket=blobs.bucket)
    return list(answer.get("Uploads", []))


class ClientWentAway(Exception):
    """What an upload's chunk source raises when the client disconnects or a size limit is hit."""


async def chunks_of(parts: Iterable[bytes], *, then_raise: bool = False) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if then_raise:
        raise ClientWentAway()


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


async def test_put_stream_stores_the_concatenated_chunks_and_returns_the_size(backend: Backend) -> None:
    data = os.urandom(5 * 1024 * 1024 + 333)  # more than one Azure block, an odd tail
    size = await backend.blobs.put_stream(
        NAME, chunks_of(split(data, 64 * 1024)), content_type="application/pdf", filename="report.pdf"
    )
    assert size == len(data)
    assert await backend.blobs.open(NAME) == data


async def test_a_long_stream_goes_up_in_parts_and_comes_back_whole(backend: Backend) -> None:
    data = os.urandom(17 * MIB + 5)  # S3: two full 8 MiB parts and a tail; Azure: five blocks
    size = await backend.blobs.put_stream(
        NAME, chunks_of(split(data, MIB)), content_type="application/pdf", filename="report.pdf"
    )
    assert size == len(data)
    assert await backend.blobs.open(NAME) == data
    assert await pending_s3_uploads(backend) == []


async def test_put_stream_of_nothing_stores_an_empty_blob(backend: Backend) -> None:
    size = await backend.blobs.put_stream(NAME, chunks_of([]), content_type="text/plain", filename="empty.txt")
    assert size == 0
    assert await backend.blobs.exists(NAME)
    assert await backend.blobs.open(NAME) == b""


async def test_put_stream_overwrites_an_older_blob(backend: Backend) -> None:
    await backend.blobs.put(NAME, b"old content that is longer", content_type="text/plain", filename="a.txt")
    await backend.blobs.put_stream(NAME, chunks_of([b"new", b"er"]), content_type="text/plain", filename="a.txt")
    assert await backend.blobs.open(NAME) == b"newer"


async def test_a_stream_that_raises_leaves_no_blob(backend: Backend) -> None:
    parts = split(os.urandom(9 * MIB), 256 * 1024)  # enough that Azure stages blocks and S3 uploads a part first
    with pytest.raises(ClientWentAway):
        await backend.blobs.put_stream(NAME, chunks_of(parts, then_raise=True), content_type="application/pdf",
                                       filename="report.pdf")
    assert not await backend.blobs.exists(NAME)
    assert await pending_s3_uploads(backend) == []  # the multipart upload was aborted, not left to linger


async def test_a_stream_that_raises_keeps_the_older_blob(backend: Backend) -> None:
    await backend.blobs.put(NAME, b"the original", content_type="text/plain", filename="a.txt")
    with pytest.raises(ClientWentAway):
        await backend.blobs.put_stream(NAME, chunks_of([b"partial " * 1000], then_raise=True),
                                       content_type="text/plain", filename="a.txt")
    assert await backend.blobs.open(NAME) == b"the original"


async def test_a_raising_stream_leaves_no_temporary_file_on_the_local_backend(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path, b"k" * 32)
    with pytest.raises(ClientWentAway):
        await blobs.put_stream(NAME, chunks_of([b"x" * 3_000_000], then_raise=True), content_type="text/plain",
                               filename="a.txt")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # noqa: ASYNC240


class AbstractOnlyStore(BlobStore):
    """An adapter that implements only the abstract methods (like one written before the stream methods existed)."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}

    async def put(self, name: str, data: bytes, *, content_type: str, filename: str) -> None:
        self.stored[name] = data

    async def open(self, name: str) -> bytes:
        if name not in self.stored:
            raise BlobNotFound()
        return self.stored[name]

    async def exists(self, name: str) -> bool:
        return name in self.stored

    async def signed_url(self, name, *, expires_in, filename, content_type):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def delete(self, name: str) -> None:
        self.stored.pop(name, None)

    async def check(self) -> None:
        return None


async def test_the_default_put_stream_works_for_an_adapter_that_only_has_put() -> None:
    store = AbstractOnlyStore()
    assert await store.put_stream(NAME, chunks_of([b"a", b"bc"]), content_type="text/plain", filename="a") == 3
    assert store.stored == {NAME: b"abc"}
    with pytest.raises(ClientWentAway):
        await store.put_stream("other", chunks_of([b"a"], then_raise=True), content_type="text/plain", filename="a")
    assert "other" not in store.stored


# --- open_stream (bounded chunks) -----------------------------------------------------------------------------


async def read_stream(blobs: BlobStore, name: str, chunk_size: int = 1024 * 1024) -> list[bytes]:
    return [chunk async for chunk in blobs.open_stream(name, chunk_size=chunk_size)]


async def test_put_stream_and_open_stream_roundtrip_in_bounded_chunks(backend: Backend) -> None:
    blobs = backend.blobs
    parts = [os.urandom(700_000), b"", os.urandom(1_500_001), BINARY]
    size = await blobs.put_stream("svc/streamed/out.bin", chunks_of(parts), content_type="application/octet-stream",
                                  filename="out.bin")
    assert size == sum(len(part) for part in parts)
    read = await read_stream(blobs, "svc/streamed/out.bin", chunk_size=256 * 1024)
    assert b"".join(read) == b"".join(parts)
    assert max(len(chunk) for chunk in read) <= 256 * 1024


@pytest.mark.parametrize("length", [0, 1000, 64 * 1024, 64 * 1024 + 1, 5 * 1024 * 1024 + 333])
async def test_open_stream_reads_what_put_stored_whatever_its_size(backend: Backend, length: int) -> None:
    """Empty, small (local: a table row), at and past the inline limit (local: a file), past an Azure block."""
    data = os.urandom(length)
    await backend.blobs.put(NAME, data, content_type="application/pdf", filename="report.pdf")
    read = await read_stream(backend.blobs, NAME, chunk_size=100_000)
    assert b"".join(read) == data and all(len(chunk) <= 100_000 for chunk in read)


async def test_open_stream_follows_overwrites_both_ways(backend: Backend) -> None:
    """Whatever wrote last is read (local: a streamed file over a table row, and a row over a file)."""
    big = os.urandom(200_000)
    await backend.blobs.put(NAME, b"old content that is short", content_type="text/plain", filename="a.txt")
    await backend.blobs.put_stream(NAME, chunks_of(split(big, 50_000)), content_type="text/plain", filename="a.txt")
    assert b"".join(await read_stream(backend.blobs, NAME)) == big == await backend.blobs.open(NAME)
    await backend.blobs.put(NAME, b"newer", content_type="text/plain", filename="a.txt")
    assert b"".join(await read_stream(backend.blobs, NAME)) == b"newer" == await backend.blobs.open(NAME)
    await backend.blobs.delete(NAME)
    assert not await backend.blobs.exists(NAME)


async def test_the_default_open_stream_works_for_an_adapter_that_only_has_open() -> None:
    store = AbstractOnlyStore()
    await store.put(NAME, b"abc", content_type="text/plain", filename="a")
    assert await read_stream(store, NAME, chunk_size=2) == [b"ab", b"c"]
    with pytest.raises(BlobNotFound):
        await read_stream(store, "svc/none/missing.bin")


async def test_open_stream_of_a_missing_blob_raises_blob_not_found(backend: Backend) -> None:
    with pytest.raises(BlobNotFound):
        async for _chunk in backend.blobs.open_stream("svc/none/missing.bin"):
            raise AssertionError("a missing blob yields nothing")
