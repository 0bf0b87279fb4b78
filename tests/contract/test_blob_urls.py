"""Blob stores opened from ``PRAISONAI_BLOB_URL`` next to a job backend of another kind or place: outputs in
their own Azure container (azure://), or in S3 (s3://, moto) while the jobs stay in SQLite."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import httpx

from praisonai_svc.adapters.azure.blobs import AzureBlobStore
from praisonai_svc.adapters.s3 import S3BlobStore
from praisonai_svc.backend import open_backend
from tests.contract.conftest import StorageNames, settings_for
from tests.support.azurite import AzuriteHandle
from tests.support.moto_s3 import MotoHandle


async def test_azure_url_puts_outputs_in_the_named_container(
    azurite: AzuriteHandle, names: StorageNames, tmp_path: Path
) -> None:
    container = f"urlout{uuid.uuid4().hex[:12]}"
    backend = await open_backend(settings_for(
        data_dir=tmp_path, azure_storage_connection_string=azurite.connection_string, queue_name=names.queue,
        table_name=names.table, container_name=names.container, blob_url=f"azure://{container}"))
    try:
        assert isinstance(backend.blobs, AzureBlobStore) and backend.blobs.container_name == container
        await backend.blobs.put("a/b.txt", b"hello", content_type="text/plain", filename="b.txt")
        link = await backend.blobs.signed_url("a/b.txt", expires_in=timedelta(minutes=5), filename="b.txt",
                                              content_type="text/plain")
        assert f"/{container}/a/b.txt?" in link.url
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(link.url)).content == b"hello"
        await backend.check()
    finally:
        await backend.close()


async def test_s3_outputs_with_jobs_in_sqlite(moto_s3: MotoHandle, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name, value in moto_s3.env.items():
        monkeypatch.setenv(name, value)
    bucket = moto_s3.create_bucket()
    backend = await open_backend(settings_for(data_dir=tmp_path, blob_url=moto_s3.blob_url(bucket, "outputs")))
    try:
        assert backend.kind == "local" and isinstance(backend.blobs, S3BlobStore)
        await backend.blobs.put("svc/j/out.bin", b"\x00\x01", content_type="application/octet-stream",
                                filename="out.bin")
        keys = [item["Key"] for item in moto_s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
        assert keys == ["outputs/svc/j/out.bin"]  # the URL's path is a key prefix
        assert backend.http_routes() == []  # S3 serves its own links: nothing for the API to mount
        await backend.check()
    finally:
        await backend.close()
