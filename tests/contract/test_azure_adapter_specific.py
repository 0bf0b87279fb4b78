"""What only the Azure adapter has to get right, checked against the real SDK on Azurite.

The shared port contracts live in ``test_ports_contract.py``; here: SAS links fetched over plain HTTP, the table
schema of seed 001 §4.6, payloads too big for a table property, the queue's wire format, the number of storage
requests per job, and failing fast (StorageUnavailable, not a minute of retries) when storage is gone.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.data.tables.aio import TableClient
from azure.storage.queue.aio import QueueClient

from praisonai_svc.adapters.azure import open_azure_backend
from praisonai_svc.adapters.azure.connection import derive_service_url, open_clients, proxy_configured
from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConcurrencyConflict, ConfigError, JobNotFound, StorageUnavailable
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, JobResult, JobStatus, utcnow
from praisonai_svc.ports import DuplicateJob
from praisonai_svc.settings import Settings
from tests.support.azurite import AzuriteHandle, start_azurite

pytestmark = pytest.mark.azure

FAIL_FAST_SECONDS = 20  # far below the SDK defaults' minute-plus; blob uploads add our own 3 tries


def unique_settings(connection_string: str) -> Settings:
    suffix = uuid.uuid4().hex[:10]
    return Settings(  # type: ignore[call-arg]  # no .env file: the test decides every setting
        _env_file=None, azure_storage_connection_string=connection_string, queue_name=f"jobs-{suffix}",
        table_name=f"jobs{suffix}", container_name=f"out-{suffix}",
    )


def new_job(payload: dict[str, Any], service: str = "svc") -> Job:
    now = utcnow()
    return Job(
        job_id=uuid.uuid4().hex, service=service, payload=payload, payload_hash=payload_hash(payload, service),
        created_utc=now, updated_utc=now,
    )


@pytest.fixture(scope="module")
def own_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteHandle]:
    """This module's own emulator, so that its request counts see no other test's traffic."""
    with start_azurite(tmp_path_factory.mktemp("azurite-adapter")) as handle:
        yield handle


@pytest.fixture
def settings(own_azurite: AzuriteHandle) -> Settings:
    return unique_settings(own_azurite.connection_string)


@pytest.fixture
async def backend(settings: Settings) -> AsyncIterator[Backend]:
    opened = await open_azure_backend(settings)
    yield opened
    await opened.close()


@pytest.fixture
async def table(own_azurite: AzuriteHandle, settings: Settings) -> AsyncIterator[TableClient]:
    async with TableClient.from_connection_string(own_azurite.connection_string, settings.table_name) as client:
        yield client


# --- signed links ---------------------------------------------------------------------------------------------


async def test_signed_url_downloads_over_http_with_type_and_filename(
    backend: Backend, own_azurite: AzuriteHandle
) -> None:
    data = b"PK\x03\x04 not really a pptx"
    await backend.blobs.put("results/a/slides.pptx", data, content_type="application/octet-stream",
                            filename="ignored.bin")
    link = await backend.blobs.signed_url(
        "results/a/slides.pptx", expires_in=timedelta(hours=1), filename="Präsentation 1.pptx",
        content_type="application/vnd.openxmlformats-officedocument.presentationml.presentation",
    )

    assert link.url.startswith(own_azurite.endpoint("blob") + "/")  # the client's real URL, not a guessed host
    assert timedelta(minutes=59) < link.expires_utc - utcnow() <= timedelta(hours=1)
    async with httpx.AsyncClient() as http:
        response = await http.get(link.url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    )
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="Pr_sentation 1.pptx"' in disposition
    assert "filename*=UTF-8''Pr%C3%A4sentation%201.pptx" in disposition


async def test_signed_url_is_read_only_and_refused_once_expired_or_tampered(backend: Backend) -> None:
    await backend.blobs.put("results/b/out.txt", b"hello", content_type="text/plain", filename="out.txt")
    link = await backend.blobs.signed_url(
        "results/b/out.txt", expires_in=timedelta(seconds=1), filename="out.txt", content_type="text/plain"
    )
    async with httpx.AsyncClient() as http:
        tampered = link.url.replace("sig=", "sig=x")
        assert (await http.get(tampered)).status_code == 403
        assert (await http.put(link.url, content=b"overwritten",
                               headers={"x-ms-blob-type": "BlockBlob"})).status_code == 403
        await asyncio.sleep(2.5)  # SAS expiry has one-second resolution
        assert (await http.get(link.url)).status_code == 403
    assert await backend.blobs.open("results/b/out.txt") == b"hello"


# --- table schema -----------------------------------------------------------------------------------------------


async def test_job_entity_has_the_seed_columns(backend: Backend, table: TableClient) -> None:
    job = await backend.jobs.create(new_job({"topic": "schema"}))
    job.status = JobStatus.ERROR
    job.attempts = 3
    job.started_utc = utcnow()
    job.error_msg = "é" * 20_000  # 40 KB of UTF-8
    job.result = JobResult(blob_name="results/x/y.pdf", content_type="application/pdf", filename="y.pdf",
                           size=5_000_000_000)
    await backend.jobs.update(job)

    entity = await table.get_entity("praison", job.job_id)
    assert entity["PartitionKey"] == "praison"
    assert entity["RowKey"] == job.job_id
    assert entity["Status"] == "error"
    assert entity["DownloadURL"] == ""
    for column in ("CreatedUTC", "UpdatedUTC", "StartedUTC"):
        assert isinstance(entity[column], datetime)
    assert entity["RetryCount"] == 2
    assert entity["JobHash"] == job.payload_hash
    assert 0 < len(entity["ErrorMsg"].encode()) <= 10 * 1024
    assert entity["Service"] == "svc"
    assert entity["Attempts"] == 3
    assert entity["BlobName"] == "results/x/y.pdf"
    assert entity["Payload"] == '{"topic":"schema"}'

    stored = await backend.jobs.get(job.job_id)
    assert stored.result is not None and stored.result.size == 5_000_000_000  # stored as Int64
    assert stored.error_msg == "é" * 5120


async def test_hash_claim_is_its_own_entity_found_by_key(backend: Backend, table: TableClient) -> None:
    job = await backend.jobs.create(new_job({"topic": "claim"}))
    claim = await table.get_entity("praison", "hash:" + job.payload_hash)
    assert claim["JobId"] == job.job_id
    await backend.jobs.delete(job.job_id)
    assert [e async for e in table.list_entities()] == []  # job, list copy and claim all gone


async def test_payload_over_32_kib_is_kept_in_a_blob(backend: Backend, table: TableClient) -> None:
    big = {"text": "ü" * 450_000, "n": list(range(1000))}  # ~0.9 MB of JSON
    job = await backend.jobs.create(new_job(big))

    entity = await table.get_entity("praison", job.job_id)
    assert "Payload" not in entity
    assert entity["PayloadBlob"] == f"payloads/{job.job_id}.json"
    assert await backend.blobs.exists(entity["PayloadBlob"])
    assert (await backend.jobs.get(job.job_id)).payload == big
    assert (await backend.jobs.list()).jobs[0].payload == big
    updated = await backend.jobs.update((await backend.jobs.get(job.job_id)).model_copy(update={"progress": 0.5}))
    assert (await backend.jobs.get(job.job_id)).payload == big
    assert updated.progress == 0.5

    await backend.jobs.delete(job.job_id)
    assert not await backend.blobs.exists(entity["PayloadBlob"])


# --- queue wire format and request budget ---------------------------------------------------------------------


async def test_queue_message_is_the_base64_job_id_and_foreign_messages_do_not_wedge(
    backend: Backend, settings: Settings, own_azurite: AzuriteHandle
) -> None:
    queue = backend.queue(settings.queue_name)
    await queue.send("job-123")
    async with QueueClient.from_connection_string(own_azurite.connection_string, settings.queue_name) as raw:
        [peeked] = await raw.peek_messages(max_messages=5)
        assert peeked.content == base64.b64encode(b"job-123").decode()
        await raw.send_message("plain text from another tool ü")  # no base64

    received = await queue.receive(10, 30)
    assert sorted(m.job_id for m in received) == ["job-123", "plain text from another tool ü"]


async def test_a_short_job_costs_eight_storage_requests(
    backend: Backend, settings: Settings, own_azurite: AzuriteHandle
) -> None:
    queue = backend.queue(settings.queue_name)
    mark = own_azurite.log_mark()

    job = await backend.jobs.create(new_job({"topic": "budget"}))
    message_id = await queue.send(job.job_id)
    [message] = await queue.receive(1, 60)
    running = await backend.jobs.get(message.job_id)
    running = await backend.jobs.update(running.model_copy(update={
        "status": JobStatus.PROCESSING, "attempts": 1, "started_utc": utcnow(), "message_id": message_id,
    }))
    await backend.blobs.put(f"results/{job.job_id}/out.txt", b"done", content_type="text/plain", filename="o.txt")
    await backend.jobs.update(running.model_copy(update={
        "status": JobStatus.DONE, "finished_utc": utcnow(),
        "result": JobResult(blob_name=f"results/{job.job_id}/out.txt", content_type="text/plain",
                            filename="o.txt", size=4),
    }))
    await queue.ack(message)

    requests = own_azurite.requests_since(mark)
    assert len(requests) <= 8, "\n".join(requests)


# --- group commit ---------------------------------------------------------------------------------------------


def _transactions(requests: list[str]) -> int:
    return sum(1 for line in requests if '"POST' in line and "$batch" in line)


async def test_concurrent_creates_share_transactions_and_a_duplicate_fails_alone(
    backend: Backend, own_azurite: AzuriteHandle
) -> None:
    held = await backend.jobs.create(new_job({"n": "held"}))
    mark = own_azurite.log_mark()
    jobs = [new_job({"n": i}) for i in range(40)] + [new_job({"n": "held"})]
    outcomes = await asyncio.gather(*(backend.jobs.create(job) for job in jobs), return_exceptions=True)

    *created, duplicate = outcomes
    assert all(isinstance(job, Job) and job.etag for job in created), created
    assert isinstance(duplicate, DuplicateJob) and duplicate.existing.job_id == held.job_id
    for job in jobs[:40]:
        assert (await backend.jobs.get(job.job_id)).payload == job.payload
    # 41 creates of three entities each: far fewer transactions than creates (100 operations at most in one).
    transactions = _transactions(own_azurite.requests_since(mark))
    assert 2 <= transactions <= 8, transactions


async def test_concurrent_updates_share_transactions_and_a_stale_etag_fails_alone(
    backend: Backend, own_azurite: AzuriteHandle
) -> None:
    jobs = await asyncio.gather(*(backend.jobs.create(new_job({"u": i})) for i in range(30)))
    stale = jobs[7]
    moved = await backend.jobs.update(stale.model_copy(update={"status": JobStatus.PROCESSING, "attempts": 1}))
    mark = own_azurite.log_mark()
    updates = [job.model_copy(update={"status": JobStatus.DONE, "finished_utc": utcnow()}) for job in jobs]
    outcomes = await asyncio.gather(*(backend.jobs.update(job) for job in updates), return_exceptions=True)

    assert isinstance(outcomes[7], ConcurrencyConflict)
    assert all(isinstance(o, Job) for i, o in enumerate(outcomes) if i != 7), outcomes
    for i, job in enumerate(jobs):
        stored = await backend.jobs.get(job.job_id)
        assert stored.status is (JobStatus.PROCESSING if i == 7 else JobStatus.DONE)
    assert (await backend.jobs.get(stale.job_id)).etag == moved.etag
    listed = await backend.jobs.list(status=JobStatus.DONE, limit=100)  # list entries moved with their jobs
    assert {job.job_id for job in listed.jobs} == {job.job_id for i, job in enumerate(jobs) if i != 7}
    transactions = _transactions(own_azurite.requests_since(mark))
    assert 2 <= transactions <= 6, transactions  # one refused batch, then the 29 others (60 ops fit one)


async def test_concurrent_reads_share_a_range_query(backend: Backend, own_azurite: AzuriteHandle) -> None:
    jobs = await asyncio.gather(*(backend.jobs.create(new_job({"r": i})) for i in range(32)))
    ids = sorted(job.job_id for job in jobs)
    missing_inside = ids[5][:-1] + ("0" if ids[5][-1] != "0" else "1")  # sorts among them, never created
    asked = [*ids, missing_inside, "0" * 32, "f" * 32]
    mark = own_azurite.log_mark()
    found = await asyncio.gather(*(backend.jobs.get(job_id) for job_id in asked), return_exceptions=True)

    by_id = {job.job_id: job for job in jobs}
    for job_id, job in zip(asked, found, strict=True):
        if job_id in by_id:
            assert isinstance(job, Job) and job.payload == by_id[job_id].payload and job.etag == by_id[job_id].etag
        else:
            assert isinstance(job, JobNotFound), (job_id, job)
    # One range query; the ids outside the created ones widen it but still fit one page. (No 35 point reads.)
    requests = own_azurite.requests_since(mark)
    assert len(requests) <= 3, "\n".join(requests)


# --- failure behaviour ----------------------------------------------------------------------------------------


async def test_stopped_storage_raises_storage_unavailable_fast_and_recovers(tmp_path: Path) -> None:
    with start_azurite(tmp_path, in_memory=False) as azurite:
        settings = unique_settings(azurite.connection_string)
        backend = await open_azure_backend(settings)
        try:
            queue = backend.queue(settings.queue_name)
            job = await backend.jobs.create(new_job({"topic": "outage"}))
            azurite.stop()  # graceful: Azurite saves its table database on exit (kill -9 may lose it)

            operations = {
                "jobs.get": lambda: backend.jobs.get(job.job_id),
                "jobs.create": lambda: backend.jobs.create(new_job({"topic": "lost"})),
                "jobs.list": lambda: backend.jobs.list(),
                "queue.send": lambda: queue.send(job.job_id),
                "queue.receive": lambda: queue.receive(1, 30),
                "blobs.put": lambda: backend.blobs.put("a.txt", b"a", content_type="text/plain", filename="a"),
                "blobs.open": lambda: backend.blobs.open("a.txt"),
                "check": backend.check,
            }
            for name, operation in operations.items():
                started = time.monotonic()
                with pytest.raises(StorageUnavailable):
                    await operation()
                assert time.monotonic() - started < FAIL_FAST_SECONDS, name

            azurite.start()  # same ports, same data directory
            await backend.check()
            assert (await backend.jobs.get(job.job_id)).payload == {"topic": "outage"}
        finally:
            await backend.close()


async def test_open_fails_with_storage_unavailable_when_nothing_listens() -> None:
    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        await open_azure_backend(Settings(azure_storage_connection_string=conn))
    assert time.monotonic() - started < FAIL_FAST_SECONDS


# --- configuration --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("table_name", "jobs_table"), ("queue_name", "Jobs"), ("container_name", "x"), ("poison_queue_suffix", "_p")],
)
async def test_names_azure_would_refuse_fail_at_open(field: str, value: str) -> None:
    settings = Settings(azure_storage_connection_string="UseDevelopmentStorage=true", **{field: value})
    with pytest.raises(ConfigError, match=r"PRAISONAI_"):
        await open_azure_backend(settings)


async def test_malformed_connection_string_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PRAISONAI_AZURE_STORAGE_CONNECTION_STRING"):
        await open_azure_backend(Settings(azure_storage_connection_string="not a connection string"))


def test_queue_and_table_urls_are_derived_from_the_blob_account_url() -> None:
    assert derive_service_url("https://acct.blob.core.windows.net/", "queue") == "https://acct.queue.core.windows.net"
    assert derive_service_url("acct.blob.core.chinacloudapi.cn", "table") == "https://acct.table.core.chinacloudapi.cn"
    with pytest.raises(ConfigError, match="PRAISONAI_AZURE_STORAGE_ACCOUNT_URL"):
        derive_service_url("http://127.0.0.1:10000/devstoreaccount1", "queue")


@pytest.mark.parametrize(("environ", "configured"), [
    ({}, False), ({"PATH": "/bin", "HOME": "/root"}, False), ({"HTTPS_PROXY": "http://proxy:3128"}, True),
    ({"https_proxy": "http://proxy:3128"}, True), ({"NETRC": "/etc/netrc"}, True), ({"HTTP_PROXY": ""}, False),
])
def test_the_environment_is_read_only_when_a_proxy_or_netrc_is_configured(
    environ: dict[str, str], configured: bool
) -> None:
    assert proxy_configured(environ) is configured


async def test_clients_do_not_trust_the_environment_without_a_proxy(
    own_azurite: AzuriteHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp with trust_env looks for ~/.netrc on every request: the clients must not, unless asked to.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "NETRC"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    clients = open_clients(unique_settings(own_azurite.connection_string))
    try:
        await clients.blobs.get_account_information()  # opens the aiohttp session
        transport = clients.blobs._pipeline._transport
        while not hasattr(transport, "session"):
            transport = transport._transport
        assert transport.session is not None and transport.session.trust_env is False
    finally:
        await clients.close()
