"""BlobStore contract (see ``praisonai_svc.ports.BlobStore``), checked against every adapter: memory, local,
Azure (on Azurite) and S3 (on moto's S3 server, through ``PRAISONAI_BLOB_URL=s3://...``), including
``open_stream`` (bounded chunks; ``put_stream`` has its own suite, test_blob_stream_contract.py).

Signed links are followed for real where the adapter allows it: Azure SAS URLs are downloaded from Azurite, S3
presigned URLs from moto, and local HMAC links are checked with ``FileBlobStore.verify_link`` (what the store's
/blobs route calls) and downloaded through that route.
"""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from praisonai_svc.adapters.local import FileBlobStore
from praisonai_svc.adapters.local.signing import BLOBS_ROUTE
from praisonai_svc.backend import Backend
from praisonai_svc.errors import BlobNotFound, InvalidSignature
from praisonai_svc.models.job import utcnow
from praisonai_svc.ports import BlobStore, SignedUrl

NAME = "svc/job-0001/out.bin"
BINARY = bytes(range(256)) * 64 + b"\x00" * 1024 + b"\xff\x00\x00tail"  # every byte value, runs of zeros
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


@pytest.fixture(params=["memory", "local", "azure", "s3"])
def adapter(request: pytest.FixtureRequest) -> str:
    """The blob suite also runs on S3 (moto); the job and queue suites do not."""
    return str(request.param)


async def test_put_then_open_roundtrips_binary_bytes(backend: Backend) -> None:
    blobs = backend.blobs
    await blobs.put(NAME, BINARY, content_type="application/octet-stream", filename="out.bin")
    assert await blobs.open(NAME) == BINARY
    assert await blobs.exists(NAME)


async def test_put_roundtrips_empty_and_multi_megabyte_blobs(backend: Backend) -> None:
    blobs = backend.blobs
    big = os.urandom(3 * 1024 * 1024 + 17)
    await blobs.put("svc/big/out.bin", big, content_type="application/octet-stream", filename="big.bin")
    await blobs.put("svc/empty/out.txt", b"", content_type="text/plain", filename="empty.txt")
    assert await blobs.open("svc/big/out.bin") == big
    assert await blobs.open("svc/empty/out.txt") == b""
    assert await blobs.exists("svc/empty/out.txt")


async def test_put_overwrites_and_is_idempotent(backend: Backend) -> None:
    blobs = backend.blobs
    await blobs.put(NAME, BINARY, content_type="application/octet-stream", filename="out.bin")
    await blobs.put(NAME, b"short", content_type="text/plain", filename="out.txt")  # shorter: no stale tail
    assert await blobs.open(NAME) == b"short"
    await blobs.put(NAME, b"short", content_type="text/plain", filename="out.txt")
    assert await blobs.open(NAME) == b"short"


async def test_blobs_are_independent(backend: Backend) -> None:
    blobs = backend.blobs
    await blobs.put("svc/a/out.txt", b"A", content_type="text/plain", filename="a.txt")
    await blobs.put("svc/b/out.txt", b"B", content_type="text/plain", filename="b.txt")
    await blobs.delete("svc/a/out.txt")
    assert await blobs.open("svc/b/out.txt") == b"B"
    assert not await blobs.exists("svc/a/out.txt")
    assert not await blobs.exists("svc/a")  # a name prefix is not a blob


async def test_open_missing_raises_blob_not_found(backend: Backend) -> None:
    assert not await backend.blobs.exists("svc/missing/out.txt")
    with pytest.raises(BlobNotFound):
        await backend.blobs.open("svc/missing/out.txt")


async def test_delete_is_idempotent(backend: Backend) -> None:
    blobs = backend.blobs
    await blobs.put(NAME, BINARY, content_type="application/octet-stream", filename="out.bin")
    await blobs.delete(NAME)
    assert not await blobs.exists(NAME)
    with pytest.raises(BlobNotFound):
        await blobs.open(NAME)
    await blobs.delete(NAME)  # again: not an error
    await blobs.delete("svc/never-stored/out.txt")


async def test_signed_url_expires_about_expires_in_from_now(backend: Backend) -> None:
    blobs = backend.blobs
    await blobs.put(NAME, BINARY, content_type="application/octet-stream", filename="out.bin")
    for expires_in in (timedelta(minutes=5), timedelta(hours=1)):
        before = utcnow()
        link = await blobs.signed_url(NAME, expires_in=expires_in, filename="out.bin",
                                      content_type="application/octet-stream")
        after = utcnow()
        assert link.url
        assert link.expires_utc.tzinfo is not None and link.expires_utc.utcoffset() == timedelta(0)
        assert before + expires_in - timedelta(seconds=2) <= link.expires_utc <= after + expires_in + timedelta(
            seconds=2)


async def test_signed_url_is_fresh_per_blob(backend: Backend) -> None:
    blobs = backend.blobs
    for name in ("svc/a/out.txt", "svc/b/out.txt"):
        await blobs.put(name, b"x", content_type="text/plain", filename="out.txt")
    urls = {
        (await blobs.signed_url(name, expires_in=timedelta(hours=1), filename="out.txt",
                                content_type="text/plain")).url
        for name in ("svc/a/out.txt", "svc/b/out.txt")
    }
    assert len(urls) == 2


async def test_signed_url_downloads_the_blob_with_its_type_and_filename(backend: Backend, adapter: str) -> None:
    blobs = backend.blobs
    filename = "Präsentation Q1.pptx"
    await blobs.put(NAME, BINARY, content_type=PPTX, filename=filename)
    link = await blobs.signed_url(NAME, expires_in=timedelta(hours=1), filename=filename, content_type=PPTX)
    if adapter in ("azure", "s3"):
        await assert_http_download(link, BINARY, PPTX, filename)
    elif adapter == "local":
        assert isinstance(blobs, FileBlobStore)
        name, params = parse_local_link(link)
        assert (name, params["fn"], params["ct"]) == (NAME, filename, PPTX)
        blobs.verify_link(name, params["exp"], params["fn"], params["ct"], params["sig"])  # authentic: no raise
        assert blobs.path_of(name).read_bytes() == BINARY
        await assert_served_by_local_route(backend, link, BINARY, PPTX, filename)
    else:
        assert NAME in link.url  # the memory adapter's links are placeholders that name the blob


async def test_check_passes(backend: Backend) -> None:
    await backend.blobs.check()


# --- local: HMAC links ---------------------------------------------------------------------------------------


def parse_local_link(link: SignedUrl) -> tuple[str, dict[str, str]]:
    parts = urlsplit(link.url)
    assert parts.path.startswith(BLOBS_ROUTE + "/"), link.url
    params = {key: values[0] for key, values in parse_qs(parts.query, strict_parsing=True).items()}
    assert set(params) == {"exp", "fn", "ct", "sig"}
    return unquote(parts.path[len(BLOBS_ROUTE) + 1:]), params


async def assert_served_by_local_route(
    backend: Backend, link: SignedUrl, data: bytes, content_type: str, filename: str
) -> None:
    """The route the local store provides (mounted by the API) serves the link; a tampered one is refused."""
    from fastapi import FastAPI

    api = FastAPI()
    for router in backend.http_routes():
        api.include_router(router)
    from praisonai_svc.api.errors import install_error_handlers

    install_error_handlers(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://api") as client:
        await assert_http_download(link, data, content_type, filename, client)
        assert (await client.get(link.url.replace("sig=", "sig=AAAA"))).status_code == 403


@pytest.mark.parametrize("adapter", ["local"], indirect=True)
async def test_local_link_rejects_tampering_and_expiry(backend: Backend) -> None:
    blobs = backend.blobs
    assert isinstance(blobs, FileBlobStore)
    await blobs.put(NAME, BINARY, content_type="text/plain", filename="out.txt")
    name, good = parse_local_link(
        await blobs.signed_url(NAME, expires_in=timedelta(hours=1), filename="out.txt", content_type="text/plain")
    )
    blobs.verify_link(name, good["exp"], good["fn"], good["ct"], good["sig"])

    tampered = {
        "name": ("svc/other/out.txt", good["exp"], good["fn"], good["ct"], good["sig"]),
        "exp": (name, str(int(good["exp"]) + 3600), good["fn"], good["ct"], good["sig"]),
        "exp-not-int": (name, "soon", good["fn"], good["ct"], good["sig"]),
        "fn": (name, good["exp"], "evil.html", good["ct"], good["sig"]),
        "ct": (name, good["exp"], good["fn"], "text/html", good["sig"]),
        "sig": (name, good["exp"], good["fn"], good["ct"], ("B" if good["sig"][0] == "A" else "A") + good["sig"][1:]),
        "no-sig": (name, good["exp"], good["fn"], good["ct"], ""),
    }
    for what, args in tampered.items():
        with pytest.raises(InvalidSignature):
            blobs.verify_link(*args)
            pytest.fail(f"tampered {what} was accepted")

    _, expired = parse_local_link(
        await blobs.signed_url(NAME, expires_in=timedelta(seconds=-30), filename="out.txt", content_type="text/plain")
    )
    with pytest.raises(InvalidSignature):
        blobs.verify_link(name, expired["exp"], expired["fn"], expired["ct"], expired["sig"])


# --- s3: presigned links -----------------------------------------------------------------------------------


@pytest.mark.parametrize("adapter", ["s3"], indirect=True)
async def test_s3_multipart_upload_of_a_large_blob_roundtrips(backend: Backend) -> None:
    from praisonai_svc.adapters.s3.blobs import MULTIPART_THRESHOLD

    big = os.urandom(MULTIPART_THRESHOLD * 2 + 12345)  # three parts
    await backend.blobs.put("svc/huge/out.bin", big, content_type="application/octet-stream", filename="huge.bin")
    assert await backend.blobs.open("svc/huge/out.bin") == big
    link = await backend.blobs.signed_url("svc/huge/out.bin", expires_in=timedelta(minutes=5), filename="huge.bin",
                                          content_type="application/octet-stream")
    await assert_http_download(link, big, "application/octet-stream", "huge.bin")


@pytest.mark.parametrize("adapter", ["s3"], indirect=True)
async def test_s3_presigned_link_is_a_sigv4_get_that_expires(backend: Backend) -> None:
    await backend.blobs.put(NAME, b"x", content_type="text/plain", filename="out.txt")
    link = await backend.blobs.signed_url(NAME, expires_in=timedelta(minutes=10), filename="out.txt",
                                          content_type="text/plain")
    params = parse_qs(urlsplit(link.url).query)
    assert params["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert params["X-Amz-Expires"] == ["600"]
    assert params["response-content-type"] == ["text/plain"]


@pytest.mark.parametrize("adapter", ["s3"], indirect=True)
async def test_s3_missing_bucket_fails_the_check_with_advice(backend: Backend, settings_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from praisonai_svc.blob_url import open_blob_store
    from praisonai_svc.errors import StorageUnavailable

    assert isinstance(backend.blobs, BlobStore)
    moto_url = backend.blobs.location.endpoint_url  # type: ignore[attr-defined]
    store = await open_blob_store(f"s3://no-such-bucket-here?endpoint_url={moto_url}&region=us-east-1",
                                  settings_factory(data_dir=tmp_path))
    try:
        with pytest.raises(StorageUnavailable, match="no-such-bucket-here"):
            await store.check()
    finally:
        await store.close()


# --- azure: SAS links ----------------------------------------------------------------------------------------


async def assert_http_download(
    link: SignedUrl, data: bytes, content_type: str, filename: str, client: httpx.AsyncClient | None = None
) -> None:
    if client is None:
        async with httpx.AsyncClient(timeout=10.0) as own:
            response = await own.get(link.url)
    else:
        response = await client.get(link.url)
    assert response.status_code == 200, response.text
    assert response.content == data
    assert response.headers["content-type"] == content_type
    disposition = response.headers.get("content-disposition", "")
    assert filename in unquote(disposition), f"Content-Disposition {disposition!r} does not name {filename!r}"


@pytest.mark.parametrize("adapter", ["azure"], indirect=True)
async def test_azure_sas_link_is_read_only_and_expires(backend: Backend) -> None:
    blobs: BlobStore = backend.blobs
    await blobs.put(NAME, BINARY, content_type="text/plain", filename="out.txt")
    fresh = await blobs.signed_url(NAME, expires_in=timedelta(hours=1), filename="out.txt", content_type="text/plain")
    expired = await blobs.signed_url(NAME, expires_in=timedelta(seconds=-60), filename="out.txt",
                                     content_type="text/plain")
    async with httpx.AsyncClient(timeout=10.0) as client:
        assert (await client.get(expired.url)).status_code == 403
        write = await client.put(fresh.url, content=b"overwritten", headers={"x-ms-blob-type": "BlockBlob"})
        assert write.status_code == 403, "a download link must not allow writes"
        delete = await client.delete(fresh.url)
        assert delete.status_code == 403, "a download link must not allow deletes"
        tampered = fresh.url.replace("sig=", "sig=AAAA")
        assert (await client.get(tampered)).status_code == 403
    assert await blobs.open(NAME) == BINARY
