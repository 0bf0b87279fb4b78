"""Job outputs in one private blob container; clients read them only through short-lived read-only SAS links.

The SAS carries ``rsct``/``rscd`` overrides, so a download through it is served with the job's content type and
an ``attachment`` Content-Disposition naming the file, whatever the blob's own properties say. Links are built
on the blob client's real URL, so they work for Azure (``https://<account>.blob.core.windows.net/...``) and for
Azurite (``http://127.0.0.1:<port>/devstoreaccount1/...``) alike.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobSasPermissions, ContentSettings, generate_blob_sas
from azure.storage.blob.aio import BlobServiceClient, ContainerClient
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from praisonai_svc.adapters.azure.errors import is_missing_item, storage_errors
from praisonai_svc.errors import BlobNotFound, StorageError, StorageUnavailable
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import BlobStore, SignedUrl

T = TypeVar("T")

UPLOAD_ATTEMPTS = 3
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
    ) -> None:
        """Staged blocks as the chunks come (the SDK commits the block list at the end): no whole-file buffer.

        Not retried here like :meth:`put` (a stream cannot be replayed); the worker retries the whole output.
        """
        blob = self._container.get_blob_client(name)
        settings = ContentSettings(content_type=content_type, content_disposition=content_disposition(filename))
        with storage_errors(f"upload blob {name}"):
            await blob.upload_blob(chunks, overwrite=True, content_settings=settings)

    async def open_stream(self, name: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        with storage_errors(f"download blob {name}"):
            try:
                downloader = await self._container.get_blob_client(name).download_blob()
            except HttpResponseError as exc:
                if is_missing_item(exc):
                    raise BlobNotFound() from exc
                raise
        async for chunk in downloader.chunks():
            yield bytes(chunk)

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
