"""Outputs in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO) with the official SDK, boto3.

boto3 is synchronous, so every call runs in a worker thread (``asyncio.to_thread``) and the event loop never
waits on it; one client (thread-safe, with its own connection pool) serves them all. Retries happen in one
layer only, botocore's ("standard" mode: 3 attempts with backoff on throttling, 5xx and connection errors);
this adapter adds none. Large outputs go up as a multipart upload (s3transfer, parts of 8 MiB in parallel).
Download links are presigned GETs (SigV4) that override the response's Content-Type and Content-Disposition.
Streamed uploads (:meth:`S3BlobStore.put_stream`) are one multipart upload, completed at the end or aborted, so a
stream that fails leaves nothing visible; streamed reads fetch one ranged GET per chunk.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import timedelta
from typing import Any, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import Config
from botocore.exceptions import ClientError

from praisonai_svc.adapters.s3.errors import MISSING, error_code, s3_errors
from praisonai_svc.adapters.s3.location import S3Location
from praisonai_svc.errors import BlobNotFound, StorageError, StorageUnavailable
from praisonai_svc.filenames import content_disposition
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import BlobStore, SignedUrl

T = TypeVar("T")
log = get_logger("s3")
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
RETRY_ATTEMPTS = 3
TRANSFER = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD,
                          max_concurrency=4, use_threads=True)


def make_client(location: S3Location) -> Any:
    config = Config(
        signature_version="s3v4", retries={"mode": "standard", "total_max_attempts": RETRY_ATTEMPTS},
        s3={"addressing_style": location.addressing_style}, connect_timeout=5, read_timeout=30,
        max_pool_connections=32,
    )
    session = boto3.session.Session()
    return session.client(
        "s3", endpoint_url=location.endpoint_url, region_name=location.region, config=config,
        aws_access_key_id=location.access_key_id, aws_secret_access_key=location.secret_access_key,
    )


class S3BlobStore(BlobStore):
    def __init__(self, client: Any, location: S3Location) -> None:
        self._client = client
        self.location = location

    @property
    def bucket(self) -> str:
        return self.location.bucket

    async def _call(self, action: str, func: Callable[[], T]) -> T:
        def guarded() -> T:
            with s3_errors(action, self.bucket):
                return func()

        return await asyncio.to_thread(guarded)

    async def put(self, name: str, data: bytes, *, content_type: str, filename: str) -> None:
        extra = {"ContentType": content_type, "ContentDisposition": content_disposition(filename)}
        key = self.location.key(name)

        def upload() -> None:
            if len(data) < MULTIPART_THRESHOLD:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), **extra)
            else:
                self._client.upload_fileobj(io.BytesIO(data), self.bucket, key, ExtraArgs=extra, Config=TRANSFER)

        await self._call(f"upload {name}", upload)

    async def put_stream(
        self, name: str, chunks: AsyncIterable[bytes], *, content_type: str, filename: str
    ) -> int:
        """Parts of :data:`MULTIPART_THRESHOLD` as the chunks arrive, completed at the end; a stream shorter than
        one part is one ``put_object``. If ``chunks`` raises, the multipart upload is aborted: S3 shows nothing
        new under ``name`` (parts are invisible until completion), and an older object keeps its content."""
        key = self.location.key(name)
        iterator = aiter(chunks)
        buffer = bytearray()
        async for chunk in iterator:
            buffer += chunk
            if len(buffer) >= MULTIPART_THRESHOLD:
                break
        else:  # the whole stream fits in one request
            await self.put(name, bytes(buffer), content_type=content_type, filename=filename)
            return len(buffer)
        extra = {"ContentType": content_type, "ContentDisposition": content_disposition(filename)}
        upload = await self._call(f"upload {name}", lambda: self._client.create_multipart_upload(
            Bucket=self.bucket, Key=key, **extra)["UploadId"])
        try:
            return await self._upload_parts(name, key, upload, buffer, iterator)
        except BaseException:
            await asyncio.shield(self._abort(name, key, upload))
            raise

    async def _upload_parts(self, name: str, key: str, upload: str, buffer: bytearray,
                            rest: AsyncIterator[bytes]) -> int:
        parts: list[dict[str, Any]] = []
        size = 0

        async def send(data: bytes) -> None:
            number = len(parts) + 1
            etag = await self._call(f"upload {name}", lambda: self._client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number, Body=data)["ETag"])
            parts.append({"ETag": etag, "PartNumber": number})

        while True:
            while len(buffer) >= MULTIPART_THRESHOLD:  # every part but the last has the same size
                await send(bytes(buffer[:MULTIPART_THRESHOLD]))
                size += MULTIPART_THRESHOLD
                del buffer[:MULTIPART_THRESHOLD]
            chunk = await anext(rest, None)
            if chunk is None:
                break
            buffer += chunk
        if buffer or not parts:
            await send(bytes(buffer))
            size += len(buffer)
        await self._call(f"upload {name}", lambda: self._client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}))
        return size

    async def _abort(self, name: str, key: str, upload: str) -> None:
        try:
            await self._call(f"abort the upload of {name}", lambda: self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload))
        except StorageError as exc:  # the bucket's lifecycle rule removes it eventually
            log.warning("could not abort a failed multipart upload", extra={"blob": name, "error": str(exc)})

    async def open_stream(self, name: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        """The object in chunks of ``chunk_size``, read from one GET's body in a thread per chunk."""
        body = await self._call(f"download {name}", lambda: self._client.get_object(
            Bucket=self.bucket, Key=self.location.key(name))["Body"])
        try:
            while True:
                chunk = await self._call(f"download {name}", lambda: bytes(body.read(chunk_size)))
                if not chunk:
                    return
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def open(self, name: str) -> bytes:
        def download() -> bytes:
            body = self._client.get_object(Bucket=self.bucket, Key=self.location.key(name))["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        return await self._call(f"download {name}", download)

    async def exists(self, name: str) -> bool:
        def head() -> bool:
            try:
                self._client.head_object(Bucket=self.bucket, Key=self.location.key(name))
            except ClientError as exc:
                if error_code(exc) in MISSING:
                    return False
                raise
            return True

        return await self._call(f"look up {name}", head)

    async def signed_url(
        self, name: str, *, expires_in: timedelta, filename: str, content_type: str
    ) -> SignedUrl:
        seconds = min(max(int(expires_in.total_seconds()), 1), MAX_PRESIGN_SECONDS)
        expires = utcnow() + timedelta(seconds=seconds)
        params = {"Bucket": self.bucket, "Key": self.location.key(name), "ResponseContentType": content_type,
                  "ResponseContentDisposition": content_disposition(filename)}
        # Signing is local computation (no request), but botocore may resolve credentials on first use: a thread.
        url = await self._call(f"sign a link to {name}", lambda: str(self._client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=seconds)))
        return SignedUrl(url=url, expires_utc=expires)

    async def delete(self, name: str) -> None:
        await self._call(f"delete {name}", lambda: self._client.delete_object(
            Bucket=self.bucket, Key=self.location.key(name)))

    async def check(self) -> None:
        try:
            await self._call("read the bucket", lambda: self._client.head_bucket(Bucket=self.bucket))
        except BlobNotFound:  # HEAD answers a bare 404 for a missing bucket
            raise StorageUnavailable(f"S3 bucket {self.bucket} does not exist (or is not visible to these "
                                     f"credentials); create it, or fix PRAISONAI_BLOB_URL.") from None

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
