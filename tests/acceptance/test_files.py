"""Files through the real CLI processes (API + worker), on the local backend and on Azurite.

One service per backend for the module (starting one costs seconds); each test uses its own files. The last test
kills the worker with SIGKILL mid-extraction and starts another one.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import documents as docs
from tests.support.service import CLI, Service, running_service

FILES_APP = Path(__file__).parent / "svc" / "files_app.py"
ACME = {"X-API-Key": "acme-key-0123456789"}
GLOBEX = {"X-API-Key": "globex-key-0123456789"}
MAX_SIZE = 64 * 1024 * 1024


@pytest.fixture(scope="module", params=["local", "azure"])
def files_service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp(f"files-{request.param}")
    env = {
        "PRAISONAI_TENANT_KEYS": "acme:acme-key-0123456789,globex:globex-key-0123456789",
        "PRAISONAI_FILES_MAX_SIZE": "64MB",
        "PRAISONAI_QUEUE_VISIBILITY_TIMEOUT": "2",
        "FILES_EVENT_LOG": str(root / "events.jsonl"),
    }
    if request.param == "local":
        env["PRAISONAI_DATA_DIR"] = str(root / "data")
    else:
        suffix = uuid.uuid4().hex[:10]
        env.update({
            "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING": request.getfixturevalue("azurite").connection_string,
            "PRAISONAI_QUEUE_NAME": f"files-{suffix}", "PRAISONAI_TABLE_NAME": f"files{suffix}",
            "PRAISONAI_CONTAINER_NAME": f"files-{suffix}",
        })
    with running_service(FILES_APP, env, root / "logs", workers=1) as service:
        yield service


def upload(client: httpx.Client, name: str, data: bytes, headers: dict[str, str] = ACME) -> dict[str, Any]:
    response = client.post("/files/upload", files={"file": (name, data)}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["file"]  # type: ignore[no-any-return]


def wait_file(client: httpx.Client, file_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        file = client.get(f"/files/{file_id}", headers=ACME).json()["file"]
        if file["status"] in ("processed", "failed"):
            return file  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise TimeoutError(f"file {file_id} still {file['status']} after {timeout}s")


def stored_blobs(service: Service) -> set[str]:
    """The names of every blob the backend holds (read from the storage itself, not through the API)."""
    env = service.env
    if "PRAISONAI_DATA_DIR" in env:
        root = Path(env["PRAISONAI_DATA_DIR"]) / "blobs"
        found = [p.relative_to(root).parts for p in root.rglob("*") if p.is_file()]
        return {"/".join(parts[1:] if len(parts[0]) == 2 else parts) for parts in found}  # without the shard level
    from azure.storage.blob import ContainerClient

    container = ContainerClient.from_connection_string(env["PRAISONAI_AZURE_STORAGE_CONNECTION_STRING"],
                                                       env["PRAISONAI_CONTAINER_NAME"])
    with container:
        return {blob.name for blob in container.list_blobs()}


def file_events(service: Service, file_id: str) -> list[str]:
    path = Path(service.env["FILES_EVENT_LOG"])
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line["topic"] for line in lines if line["file_id"] == file_id]


def assert_events(service: Service, file_id: str, expected: list[str], timeout: float = 15) -> None:
    """The file's events are ``expected``, in that order: the worker publishes just after it stores the outcome, so
    the API may show the outcome a moment before the event is logged. File events are durable and delivered *at
    least once* (files/outbox.py): when a subscriber failed under load (a storage timeout), the event is delivered
    again, so a repeat of an event already seen is allowed; a missing or unexpected one is not."""
    def distinct() -> list[str]:
        return list(dict.fromkeys(file_events(service, file_id)))

    deadline = time.monotonic() + timeout
    while distinct() != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert distinct() == expected, file_events(service, file_id)


def test_each_format_is_uploaded_processed_and_extracted(files_service: Service) -> None:
    cases = {
        "report.pdf": (docs.text_pdf(pages=2), docs.PDF_PHRASES[1]),
        "minutes.docx": (docs.docx(), "Budget | Ana"),
        "cities.xlsx": (docs.xlsx(), "Lisbon\t545923\tPortugal"),
        "people.csv": (docs.latin1_csv(), "Dupont;Genève;Hélène"),
        "notes.txt": (docs.utf16_txt(), "日本語"),
    }
    with files_service.client() as client:
        uploaded = {name: upload(client, name, data) for name, (data, _expected) in cases.items()}
        for name, (_data, expected) in cases.items():
            file = wait_file(client, uploaded[name]["id"])
            assert file["status"] == "processed", (name, file)
            extract = client.get(f"/files/{file['id']}/extract", headers=ACME).json()
            assert expected in extract["content"], (name, extract["content"][:500])
            assert_events(files_service, file["id"], ["file.uploaded", "file.processed"])


@pytest.mark.parametrize(("name", "make", "words"), [
    ("encrypted.pdf", lambda: docs.text_pdf(encrypt_password="s3cret"), "password-protected"),
    ("truncated.pdf", lambda: docs.text_pdf(pages=4)[:1500], "truncated"),
    ("truncated.docx", lambda: docs.docx()[:400], "truncated"),
    ("bomb.docx", lambda: docs.zip_bomb_docx(300), "ZIP bomb"),
    ("bomb.xlsx", lambda: docs.zip_bomb_xlsx(300), "ZIP bomb"),
    ("laughs.docx", docs.billion_laughs_docx, "declares a DTD"),
    ("huge.pdf", lambda: docs.many_pages_pdf(10_000), "10000 pages"),
    ("oneline.csv", lambda: docs.one_line_csv(50), "longer than 1 MB"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_hostile_documents_fail_and_the_worker_keeps_serving(files_service: Service, name: str, make: Any,
                                                             words: str) -> None:
    with files_service.client() as client:
        file = upload(client, name, make())
        failed = wait_file(client, file["id"])
        assert failed["status"] == "failed" and words in failed["error_message"], failed
        assert_events(files_service, file["id"], ["file.uploaded", "file.failed"])
        follow_up = wait_file(client, upload(client, "after.txt", b"still serving")["id"])
        assert follow_up["status"] == "processed"
    assert all(worker.poll() is None for worker in files_service.workers), "the worker survived"


def test_oversized_upload_is_refused_mid_stream_and_nothing_is_stored(files_service: Service) -> None:
    before = stored_blobs(files_service)
    sent = 0

    def body() -> Iterator[bytes]:  # chunked: no Content-Length, so the limit is found while streaming
        nonlocal sent
        yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
        chunk = b"x" * (1024 * 1024)
        for _ in range(MAX_SIZE // len(chunk) + 8):
            sent += len(chunk)
            yield chunk
        yield b"\r\n--XyZ--\r\n"

    with files_service.client() as client:
        count = client.get("/files", headers=ACME).json()["total"]
        response = client.post("/files/upload", content=body(), headers={
            **ACME, "Content-Type": "multipart/form-data; boundary=XyZ"})
        assert response.status_code == 413, response.text
        assert "64 MB" in response.json()["detail"]
        assert client.get("/files", headers=ACME).json()["total"] == count
    # The service is shared by this module: an earlier test's extraction may store its results meanwhile.
    # Nothing else may appear (the refused upload leaves no blob, whole or partial).
    new = stored_blobs(files_service) - before
    assert all(name.startswith("extract/") for name in new), new


def test_wrong_magic_is_400_and_other_tenants_get_404(files_service: Service) -> None:
    with files_service.client() as client:
        fake = client.post("/files/upload", files={"file": ("invoice.pdf", docs.docx())}, headers=ACME)
        assert fake.status_code == 400 and "ZIP" in fake.json()["detail"]
        file = upload(client, "mine.txt", b"acme only")
        for path in ("", "/extract", "/download"):
            assert client.get(f"/files/{file['id']}{path}", headers=GLOBEX).status_code == 404
        assert client.delete(f"/files/{file['id']}", headers=GLOBEX).status_code == 404
        assert file["id"] not in [f["id"] for f in client.get("/files", headers=GLOBEX).json()["files"]]
        assert client.get(f"/files/{file['id']}", headers=ACME).status_code == 200


def test_delete_removes_the_blob_and_keeps_a_deleted_record(files_service: Service) -> None:
    with files_service.client() as client:
        file = upload(client, "gone.txt", b"delete me")
        wait_file(client, file["id"])
        blob = f"files/{file['id']}/{file['filename']}"
        assert blob in stored_blobs(files_service)
        download = client.get(f"/files/{file['id']}/download", headers=ACME, follow_redirects=True)
        assert download.content == b"delete me"
        assert client.delete(f"/files/{file['id']}", headers=ACME).status_code == 200
        record = client.get(f"/files/{file['id']}", headers=ACME).json()["file"]
        assert record["status"] == "deleted" and record["deleted_at"]
    assert not any(name.startswith(f"files/{file['id']}/") for name in stored_blobs(files_service))


def test_kill_9_of_the_worker_mid_extraction_still_ends_processed_exactly_once(files_service: Service) -> None:
    data = docs.text_pdf(pages=1000)
    with files_service.client() as client:
        file = upload(client, "long.pdf", data)
        deadline = time.monotonic() + 60
        while client.get(f"/files/{file['id']}", headers=ACME).json()["file"]["status"] != "processing":
            assert time.monotonic() < deadline, "extraction never started"
            time.sleep(0.02)
        victim = files_service.workers[-1]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert client.get(f"/files/{file['id']}", headers=ACME).json()["file"]["status"] == "processing"
        files_service.start_worker()
        done = wait_file(client, file["id"], timeout=180)
        assert done["status"] == "processed" and done["retry_count"] >= 1, done["error_message"]
        assert done["extraction_metadata"]["pages"] == 1000
        content = client.get(f"/files/{file['id']}/extract", headers=ACME).json()["content"]
        assert content.count("--- Page ") == 1000
    assert_events(files_service, file["id"], ["file.uploaded", "file.processed"])  # processed exactly once


def test_cli_uploads_waits_and_prints_the_text(files_service: Service, tmp_path: Path) -> None:
    document = tmp_path / "minutes.docx"
    document.write_bytes(docs.docx())
    base = [*CLI, "files"]
    common = ["--url", files_service.url, "--api-key", ACME["X-API-Key"]]
    env = {**files_service.env, "NO_COLOR": "1"}
    uploaded = subprocess.run([*base, "upload", str(document), "--wait", *common], env=env, capture_output=True,
                              text=True, timeout=180)
    assert uploaded.returncode == 0, uploaded.stderr
    assert docs.DOCX_PARAGRAPHS[0] in uploaded.stdout and "Budget | Ana" in uploaded.stdout
    assert "processed" in uploaded.stderr
    listed = subprocess.run([*base, "list", *common], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "minutes.docx" in listed.stdout
    with files_service.client() as client:
        newest = client.get("/files", params={"limit": 1}, headers=ACME).json()["files"][0]
    shown = subprocess.run([*base, "show", newest["id"], *common], env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(shown.stdout)["original_filename"] == "minutes.docx"
    extracted = subprocess.run([*base, "extract", newest["id"], "--json", *common], env=env, capture_output=True,
                               text=True, timeout=60)
    assert json.loads(extracted.stdout)["metadata"]["tables"] == 1
    refused = subprocess.run([*base, "show", newest["id"], "--url", files_service.url, "--api-key",
                              GLOBEX["X-API-Key"]], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "404" in refused.stderr


def test_the_typed_client_uploads_with_progress_and_reads_files(files_service: Service, tmp_path: Path) -> None:
    import asyncio

    from praisonai_svc.client import AsyncClient, Client, NotFound

    path = tmp_path / "notes.txt"
    path.write_text("hello from the client\n" * 200)
    read: list[int] = []
    with Client(files_service.url, api_key=ACME["X-API-Key"]) as client:
        file = client.upload_file(path, on_progress=read.append)
        assert file["original_filename"] == "notes.txt" and sum(read) == path.stat().st_size
        deadline = time.monotonic() + 120
        while file["status"] not in ("processed", "failed"):
            assert time.monotonic() < deadline, file
            time.sleep(0.2)
            file = client.get_file(file["id"])
        assert file["status"] == "processed", file["error_message"]
        assert "hello from the client" in client.file_extract(file["id"])["content"]
        assert file["id"] in [listed["id"] for listed in client.list_files(limit=20)["files"]]
    with Client(files_service.url, api_key=GLOBEX["X-API-Key"]) as other, pytest.raises(NotFound):
        other.get_file(file["id"])

    async def upload_async() -> dict[str, Any]:
        async with AsyncClient(files_service.url, api_key=ACME["X-API-Key"]) as aio:
            return await aio.upload_file(path, process=False)

    unprocessed = asyncio.run(upload_async())
    assert unprocessed["status"] == "uploaded" and unprocessed["file_size"] == path.stat().st_size
