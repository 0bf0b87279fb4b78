"""Files on disk as the local blob store; links are HMAC-signed and served by the store's own /blobs route.

Layout: ``<root>/<2 hex chars of sha256(name)>/<name>``. The shard level spreads jobs' output directories over
256 directories, so no directory grows past a few hundred entries at any realistic retention (listing or
removing entries of a 100,000-entry directory is slow on most file systems). Blobs written by versions
before the shard level (``<root>/<name>``) are still found, and deleted, where they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from praisonai_svc.adapters.local.signing import sign, verify
from praisonai_svc.errors import BlobNotFound, StorageError, StorageUnavailable
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import BlobStore, SignedUrl


def safe_relative(name: str) -> PurePosixPath:
    """Blob names are relative POSIX paths without '..'; anything else is refused."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("..", "") for part in path.parts) or "\\" in name:
        raise StorageError(f"Invalid blob name {name!r}")
    return path


def _temporary_beside(target: Path) -> tuple[BinaryIO, str]:
    """An open temporary file in ``target``'s directory (created if needed), and its path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    return os.fdopen(fd, "wb"), tmp


class FileBlobStore(BlobStore):
    def __init__(self, root: Path, signing_key: bytes) -> None:
        self.root = root
        self._key = signing_key

    def _sharded(self, name: str) -> Path:
        parts = safe_relative(name).parts
        return self.root.joinpath(hashlib.sha256(name.encode()).hexdigest()[:2], *parts)

    def path_of(self, name: str) -> Path:
        """Where ``name`` lives: its sharded path, or its pre-shard path when only that one exists."""
        sharded = self._sharded(name)
        if not sharded.exists():
            legacy = self.root.joinpath(*safe_relative(name).parts)
            if legacy.is_file():
                return legacy
        return sharded

    def _write(self, name: str, data: bytes) -> None:
        target = self._sharded(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)  # readers see the whole file or none of it
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, name: str, data: bytes, *, content_type: str, filename: str) -> None:
        try:
            await asyncio.to_thread(self._write, name, data)
        except OSError as exc:
            raise StorageUnavailable(f"Could not write {name} under {self.root}: {exc}") from exc

    async def put_stream(
        self, name: str, chunks: AsyncIterable[bytes], *, content_type: str, filename: str
    ) -> None:
        target = self._sharded(name)
        try:
            handle, tmp = await asyncio.to_thread(_temporary_beside, target)
        except OSError as exc:
            raise StorageUnavailable(f"Could not write {name} under {self.root}: {exc}") from exc
        try:
            with handle:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(os.replace, tmp, target)  # readers see the whole file or none of it
        except BaseException as exc:
            await asyncio.to_thread(Path(tmp).unlink, missing_ok=True)
            if isinstance(exc, OSError):
                raise StorageUnavailable(f"Could not write {name} under {self.root}: {exc}") from exc
            raise

    async def open(self, name: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path_of(name).read_bytes)
        except FileNotFoundError as exc:
            raise BlobNotFound() from exc

    async def open_stream(self, name: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(self.path_of(name).open, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound() from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def exists(self, name: str) -> bool:
        return self.path_of(name).is_file()

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
