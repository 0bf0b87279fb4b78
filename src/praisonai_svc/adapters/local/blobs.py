"""Files on disk as the local blob store; links are HMAC-signed and served by the store's own /blobs route.

Layout: ``<root>/<2 hex chars of sha256(name)>/<name>``. The shard level spreads jobs' output directories over
256 directories, so no directory grows past a few hundred entries at any realistic retention (listing or
removing entries of a 100,000-entry directory is slow on most file systems). Blobs written by versions
before the shard level (``<root>/<name>``) are still found, and deleted, where they are.

Small outputs (up to ``INLINE_BYTES``, 64 KiB) opened with a database live in its ``blobs`` table instead: a new
file costs a directory, a temporary file and a rename (more than a millisecond of system time on some file
systems, most of a small job's cost), a row costs microseconds and commits with the job's own rows, with the
same durability (docs/operations.md "Durability"). Reads look in the table first, then on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from praisonai_svc.adapters.local.db import Database
from praisonai_svc.adapters.local.signing import sign, verify
from praisonai_svc.errors import BlobNotFound, StorageError, StorageUnavailable
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import BlobStore, SignedUrl

INLINE_BYTES = 64 * 1024  # outputs up to this size are stored in the database, not as files
_TMP_SEQ = itertools.count()
_ODD_PARTS = frozenset({"", ".", ".."})
STREAM_WRITE_BYTES = 1024 * 1024  # chunks are gathered up to this much per write (one thread hop each)


def _write_and_close(handle: Any, pending: list[bytes]) -> None:
    handle.writelines(pending)
    handle.close()


def safe_relative(name: str) -> PurePosixPath:
    """Blob names are relative POSIX paths without '..'; anything else is refused."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("..", "") for part in path.parts) or "\\" in name:
        raise StorageError(f"Invalid blob name {name!r}")
    return path


class FileBlobStore(BlobStore):
    def __init__(self, root: Path, signing_key: bytes, db: Database | None = None) -> None:
        self.root = root
        self._db = db
        self._root = str(root)
        self._key = signing_key

    def _sharded(self, name: str) -> Path:
        parts = safe_relative(name).parts
        return self.root.joinpath(hashlib.sha256(name.encode()).hexdigest()[:2], *parts)

    def path_of(self, name: str) -> Path:
        """Where ``name`` lives as a file: its sharded path, or its pre-shard path when only that one exists.

        A small output stored in the database is written out to its sharded path first (blocking, a rare
        path: the API serves those from the table, see :meth:`read_inline`).
        """
        sharded = self._sharded(name)
        if not sharded.exists():
            legacy = self.root.joinpath(*safe_relative(name).parts)
            if legacy.is_file():
                return legacy
            inline = self._db.read_blocking(
                lambda c: c.execute("SELECT data FROM blobs WHERE name = ?", (name,)).fetchone()
            ) if self._db is not None else None
            if inline is not None:
                self._write(name, bytes(inline[0]))
        return sharded

    def _sharded_str(self, name: str) -> tuple[str, str]:
        """(directory, file path) of ``name``'s sharded location, as strings: the hot path of every output,
        where building pathlib objects cost more than writing the file. Unusual names take the pathlib path."""
        parts = name.split("/")
        if "\\" in name or any(part in _ODD_PARTS for part in parts):
            target = str(self._sharded(name))
            return target.rpartition("/")[0], target
        target = f"{self._root}/{hashlib.sha256(name.encode()).hexdigest()[:2]}/{name}"
        return target.rpartition("/")[0], target

    def _write(self, name: str, data: bytes) -> None:
        parent, target = self._sharded_str(name)
        tmp = f"{parent}/.tmp-{os.getpid()}-{next(_TMP_SEQ)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileNotFoundError:  # the job's first output: its directory does not exist yet
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)  # readers see the whole file or none of it
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def put(self, name: str, data: bytes, *, content_type: str, filename: str) -> None:
        safe_relative(name)
        if self._db is not None and len(data) <= INLINE_BYTES:
            await self._db.write(lambda conn: conn.execute(
                "INSERT INTO blobs (name, data) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET data = excluded.data",
                (name, data)))
            return
        try:
            await asyncio.to_thread(self._write, name, data)
        except OSError as exc:
            raise StorageUnavailable(f"Could not write {name} under {self.root}: {exc}") from exc
        if self._db is not None:  # a small earlier version in the table would shadow this file
            await self._db.write(lambda conn: conn.execute("DELETE FROM blobs WHERE name = ?", (name,)))

    async def put_stream(
        self, name: str, chunks: AsyncIterable[bytes], *, content_type: str, filename: str
    ) -> int:
        """A temporary file beside the target, renamed over it once complete (removed if ``chunks`` raises).

        Streamed blobs always go to disk, whatever their size: they are uploads, not small outputs.
        """
        target = self._sharded(name)
        try:
            handle, tmp = await asyncio.to_thread(self._open_temporary, target)
        except OSError as exc:
            raise StorageUnavailable(f"Could not write {name} under {self.root}: {exc}") from exc
        try:
            size = await self._spool(handle, chunks)
            await asyncio.to_thread(os.replace, tmp, target)  # readers see the whole file or none of it
        except OSError as exc:
            raise StorageUnavailable(f"Could not write {name} under {self.root}: {exc}") from exc
        finally:
            if not handle.closed:
                handle.close()
            Path(tmp).unlink(missing_ok=True)  # noqa: ASYNC240 (gone already after the rename: one cheap syscall)
        if self._db is not None:  # a small earlier version in the table would shadow this file
            await self._db.write(lambda conn: conn.execute("DELETE FROM blobs WHERE name = ?", (name,)))
        return size

    @staticmethod
    def _open_temporary(target: Path) -> tuple[Any, str]:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        return os.fdopen(fd, "wb"), tmp

    @staticmethod
    async def _spool(handle: Any, chunks: AsyncIterable[bytes]) -> int:
        size, pending_size = 0, 0
        pending: list[bytes] = []
        async for chunk in chunks:
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= STREAM_WRITE_BYTES:
                await asyncio.to_thread(handle.writelines, pending)
                size, pending, pending_size = size + pending_size, [], 0
        await asyncio.to_thread(_write_and_close, handle, pending)
        return size + pending_size

    async def read_inline(self, name: str) -> bytes | None:
        """The bytes of ``name`` if it is stored in the database (a small output), else None."""
        if self._db is None:
            return None
        row = await self._db.call(lambda c: c.execute("SELECT data FROM blobs WHERE name = ?", (name,)).fetchone())
        return bytes(row[0]) if row is not None else None

    async def open(self, name: str) -> bytes:
        inline = await self.read_inline(name)
        if inline is not None:
            return inline
        try:
            return await asyncio.to_thread(self.path_of(name).read_bytes)
        except FileNotFoundError as exc:
            raise BlobNotFound() from exc

    async def open_stream(self, name: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        """A small output from its table row, else the file read a chunk at a time off the event loop."""
        inline = await self.read_inline(name)
        if inline is not None:
            for start in range(0, len(inline), chunk_size):
                yield inline[start:start + chunk_size]
            return
        try:
            handle = await asyncio.to_thread(lambda: self.path_of(name).open("rb"))
        except FileNotFoundError as exc:
            raise BlobNotFound() from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def exists(self, name: str) -> bool:
        return await self.read_inline(name) is not None or self.path_of(name).is_file()

    async def signed_url(
        self, name: str, *, expires_in: timedelta, filename: str, content_type: str
    ) -> SignedUrl:
        expires = utcnow() + expires_in
        url = sign(self._key, str(safe_relative(name)), int(expires.timestamp()), filename, content_type)
        return SignedUrl(url=url, expires_utc=expires)

    def verify_link(self, name: str, expires: str, filename: str, content_type: str, signature: str) -> None:
        """Raise :class:`InvalidSignature` unless this store signed the link and it has not expired."""
        verify(self._key, name, expires, filename, content_type, signature)

    def routes(self) -> list[Any]:
        from praisonai_svc.adapters.local.serving import link_router

        return [link_router(self)]

    async def delete(self, name: str) -> None:
        if self._db is not None:
            await self._db.write(lambda conn: conn.execute("DELETE FROM blobs WHERE name = ?", (name,)))
        await asyncio.to_thread(self._delete, name)

    def _delete(self, name: str) -> None:
        for path in (self._sharded(name), self.root.joinpath(*safe_relative(name).parts)):
            path.unlink(missing_ok=True)
            # Remove directories the blob leaves empty (e.g. the job's own), up to its shard directory.
            parent = path.parent
            while parent != self.root and parent.parent != self.root:
                with contextlib.suppress(OSError):  # not empty (or already gone): stop climbing
                    parent.rmdir()
                    parent = parent.parent
                    continue
                break

    async def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageUnavailable(f"Output directory {self.root} is not writable.")
