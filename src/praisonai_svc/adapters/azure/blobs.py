"""Job outputs in one private blob container; clients read them only through short-lived read-only SAS links.

The SAS carries ``rsct``/``rscd`` overrides, so a download through it is served with the job's content type and
an ``attachment`` Content-Disposition naming the file, whatever the blob's own properties say. Links are built
on the blob client's real URL, so they work for Azure (``https://<account>.blob.core.windows.net/...``) and for
Azurite (``http://127.0.0.1:<port>/devstoreaccount1/...``) alike.
"""

from __future__ import annotations

import base64
import os
import urllib.parse
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobBlock, BlobSasPermissions, ContentSettings, generate_blob_sas
from azure.storage.blob.aio import BlobServiceClient, ContainerClient
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from praisonai_svc.adapters.azure.errors import is_missing_item, storage_errors
from praisonai_svc.errors import BlobNotFound, StorageError, StorageUnavailable
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import BlobStore, SignedUrl

T = TypeVar("T")

UPLOAD_ATTEMPTS = 3
STREAM_BLOCK_BYTES = 4 * 1024 * 1024  # one staged block per this much of a streamed upload
SAS_START_SKEW = timedelta(minutes=5)  # tolerate clocks of client and storage disagreeing a little
_DELEGATION_KEY_LIFETIME = timedelta(days=1)
_DELEGATION_KEY_MAX = timedelta(days=7)  # the service refuses longer user-delegation keys


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` fallback and the exact name as RFC 5987 ``filename*``."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"


class AzureBlobStore(BlobStore):
    def __init__(self, service: BlobServiceClient, container: ContainerClient) -> None:
        self._service = service
        self._container = container
        self._delegation_key: Any = None
        self._delegation_key_expiry: datetime | None = None

    @property
    def container_name(self) -> str:
        return str(self._container.container_name)

    async def _with_retries(self, action: str, call: Callable[[], Awaitable[T]]) -> T:
        """Retry an idempotent call a few times on outages, on top of the SDK's own quick retries."""
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(UPLOAD_ATTEMPTS), wait=wait_exponential(multiplier=0.5, max=4),
            retry=retry_if_exception_type(StorageUnavailable), reraise=True,
        ):
            with attempt, storage_errors(action):
                return await call()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def put(self, name: str, data: bytes, *, content_type: str, filename: str) -> None:
        blob = self._container.get_blob_client(name)
        settings = ContentSettings(content_type=content_type, content_disposition=content_disposition(filename))

        async def upload() -> None:
            await blob.upload_blob(bytes(data), overwrite=True, content_settings=settings)

        await self._with_retries(f"upload blob {name}", upload)

    async def put_stream(
        self, name: str, chunks: AsyncIterable[bytes], *, content_type: str, filename: str
    ) -> int:
        """Stage a block per :data:`STREAM_BLOCK_BYTES` as the chunks arrive, then commit the list at the end.

        Staged blocks stay invisible until the commit: if ``chunks`` raises, nothing is committed (the service
        discards uncommitted blocks on its own) and an older blob of that name keeps its content.
        """
        blob = self._container.get_blob_client(name)
        upload = os.urandom(6).hex()  # block ids of concurrent uploads to one name never collide
        blocks: list[BlobBlock] = []
        size = 0
        buffer = bytearray()

        async def stage(data: bytes) -> None:
            block_id = base64.b64encode(f"{upload}-{len(blocks):08d}".encode()).decode()
            await self._with_retries(f"upload blob {name}", lambda: blob.stage_block(block_id, data))
            blocks.append(BlobBlock(block_id=block_id))

        async for chunk in chunks:
            buffer += chunk
            size += len(chunk)
            if len(buffer) >= STREAM_BLOCK_BYTES:
                await stage(bytes(buffer))
                buffer.clear()
        if buffer:
            await stage(bytes(buffer))
        settings = ContentSettings(content_type=content_type, content_disposition=content_disposition(filename))
        await self._with_retries(
            f"upload blob {name}", lambda: blob.commit_block_list(blocks, content_settings=settings)
        )
        return size

    async def open_stream(self, name: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        """One ranged GET per ``chunk_size``, each conditional on the ETag the first look returned (so an
        overwrite meanwhile fails the read instead of mixing two versions): memory stays at one chunk, where the
        SDK's own downloader fetches the first 32 MiB at once."""
        blob = self._container.get_blob_client(name)
        with storage_errors(f"download blob {name}"):
            try:
                properties = await blob.get_blob_properties()
            except HttpResponseError as exc:
                if is_missing_item(exc):
                    raise BlobNotFound() from exc
                raise
        for offset in range(0, int(properties.size), chunk_size):
            with storage_errors(f"download blob {name}"):
                part = await blob.download_blob(offset=offset, length=chunk_size, etag=properties.etag,
                                                match_condition=MatchConditions.IfNotModified)
                data = bytes(await part.readall())
            yield data

    async def open(self, name: str) -> bytes:
        with storage_errors(f"download blob {name}"):
            try:
                downloader = await self._container.get_blob_client(name).download_blob()
                return bytes(await downloader.readall())
            except HttpResponseError as exc:
                if is_missing_item(exc):
                    raise BlobNotFound() from exc
                raise

    async def exists(self, name: str) -> bool:
        with storage_errors(f"look up blob {name}"):
            return bool(await self._container.get_blob_client(name).exists())

    async def signed_url(
        self, name: str, *, expires_in: timedelta, filename: str, content_type: str
    ) -> SignedUrl:
        now = utcnow()
        expires = now + expires_in
        blob = self._container.get_blob_client(name)
        signing = await self._signing_key(now, expires)
        sas = generate_blob_sas(
            account_name=str(blob.account_name), container_name=self.container_name, blob_name=name,
            permission=BlobSasPermissions(read=True), start=now - SAS_START_SKEW, expiry=expires,
            content_type=content_type, content_disposition=content_disposition(filename), **signing,
        )
        return SignedUrl(url=f"{blob.url}?{sas}", expires_utc=expires)

    async def _signing_key(self, now: datetime, expires: datetime) -> dict[str, Any]:
        """``account_key=`` when we hold the account key, else a cached user-delegation key.

        The delegation path (managed identity / DefaultAzureCredential) cannot be exercised on Azurite, which
        has no Entra ID; it is the documented SDK flow and needs the "Storage Blob Delegator" role.
        """
        account_key = getattr(self._service.credential, "account_key", None)
        if account_key:
            return {"account_key": account_key}
        if not hasattr(self._service.credential, "get_token"):
            raise StorageError("Cannot sign download links: the blob client has neither an account key nor a token.")
        if self._delegation_key is None or self._delegation_key_expiry is None or self._delegation_key_expiry < expires:
            key_expiry = min(max(expires, now + _DELEGATION_KEY_LIFETIME), now + _DELEGATION_KEY_MAX)
            with storage_errors("get a user delegation key to sign download links"):
                self._delegation_key = await self._service.get_user_delegation_key(now - SAS_START_SKEW, key_expiry)
            self._delegation_key_expiry = key_expiry
        return {"user_delegation_key": self._delegation_key}

    async def delete(self, name: str) -> None:
        with storage_errors(f"delete blob {name}"):
            try:
                await self._container.get_blob_client(name).delete_blob()
            except HttpResponseError as exc:
                if not is_missing_item(exc):
                    raise

    async def check(self) -> None:
        with storage_errors(f"read container {self.container_name}"):
            await self._container.get_container_properties()
