"""Outputs in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO) with the official SDK, boto3.

boto3 is synchronous, so every call runs in a worker thread (``asyncio.to_thread``) and the event loop never
waits on it; one client (thread-safe, with its own connection pool) serves them all. Retries happen in one
layer only, botocore's ("standard" mode: 3 attempts with backoff on throttling, 5xx and connection errors);
this adapter adds none. Large outputs go up as a multipart upload (s3transfer, parts of 8 MiB in parallel).
Download links are presigned GETs (SigV4) that override the response's Content-Type and Content-Disposition.
Streamed uploads (``put_stream``) buffer one 8 MiB part at a time: a stream that ends below that is one PUT, a
longer one a multipart upload, invisible until completed and aborted if the stream raises. Streamed reads
(``open_stream``) read one GET's body a chunk at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from praisonai_svc.errors import BlobNotFound, StorageUnavailable
from praisonai_svc.filenames import content_disposition
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import BlobStore, SignedUrl

T = TypeVar("T")
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
        """One PUT for a stream under :data:`MULTIPART_THRESHOLD`, else a multipart upload of parts of that size
        (memory bounded by one part), completed at the end; aborted, so nothing becomes visible, if ``chunks``
        raises."""
        extra = {"ContentType": content_type, "ContentDisposition": content_disposition(filename)}
        upload = _MultipartUpload(self, self.location.key(name), name)
        buffer = bytearray()
        size = 0
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= MULTIPART_THRESHOLD:
                    await upload.add_part(bytes(buffer), extra)
                    buffer.clear()
            if not upload.started:
                data = bytes(buffer)
                await self._call(f"upload {name}", lambda: self._client.put_object(
                    Bucket=self.bucket, Key=upload.key, Body=data, **extra))
                return size
            if buffer:
                await upload.add_part(bytes(buffer), extra)
            await upload.complete()
        except BaseException:
            await asyncio.shield(upload.abort())
            raise
        return size

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


class _MultipartUpload:
    """One S3 multipart upload, started at its first part; parts are numbered in the order they are added."""

    def __init__(self, store: S3BlobStore, key: str, name: str) -> None:
        self.store, self.key, self.name = store, key, name
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    @property
    def started(self) -> bool:
        return self.upload_id is not None

    async def add_part(self, data: bytes, extra: dict[str, str]) -> None:
        client, bucket = self.store._client, self.store.bucket
        if self.upload_id is None:
            created = await self.store._call(f"upload {self.name}", lambda: client.create_multipart_upload(
                Bucket=bucket, Key=self.key, **extra))
            self.upload_id = str(created["UploadId"])
        upload_id, number = self.upload_id, len(self.parts) + 1
        answer = await self.store._call(f"upload {self.name}", lambda: client.upload_part(
            Bucket=bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=data))
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})

    async def complete(self) -> None:
        client, bucket, upload_id = self.store._client, self.store.bucket, self.upload_id
        await self.store._call(f"upload {self.name}", lambda: client.complete_multipart_upload(
            Bucket=bucket, Key=self.key, UploadId=upload_id, MultipartUpload={"Parts": self.parts}))
        self.upload_id = None  # nothing left to abort

    async def abort(self) -> None:
        """Drop the parts uploaded so far (best effort: a bucket lifecycle rule removes what a crash leaves)."""
        if self.upload_id is None:
            return
        client, bucket, upload_id = self.store._client, self.store.bucket, self.upload_id
        self.upload_id = None
        with contextlib.suppress(Exception):
            await self.store._call(f"abort upload {self.name}", lambda: client.abort_multipart_upload(
                Bucket=bucket, Key=self.key, UploadId=upload_id))
