"""The /files routes in-process on the memory backend, with the embedded worker running the extract service."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import Backend, memory_backend
from praisonai_svc.events import Event
from praisonai_svc.files.sizes import parse_size
from praisonai_svc.settings import Settings
from tests.support import documents as docs

ACME = {"X-API-Key": "acme-key-0123456789"}
GLOBEX = {"X-API-Key": "globex-key-0123456789"}


def make_app(backend: Backend, **settings: Any) -> ServiceApp:
    values: dict[str, Any] = {
        "worker_poll_interval_min": 0.01, "worker_poll_interval_max": 0.05,
        "tenant_keys": "acme:acme-key-0123456789,globex:globex-key-0123456789",
        "rate_limit_submit_per_minute": 0, "rate_limit_read_per_minute": 0, **settings,
    }
    app = ServiceApp("Files", settings=Settings(_env_file=None, **values), backend=backend)  # type: ignore[call-arg]

    @app.job("work")
    def work(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"ok", "text/plain", "ok.txt"

    return app


@pytest.fixture
def backend() -> Backend:
    return memory_backend()


@pytest.fixture
def events(backend: Backend) -> list[Event]:
    return []


@pytest.fixture
def client(backend: Backend, events: list[Event]):
    app = make_app(backend, files_max_size="1MB")

    async def record(event: Event) -> None:
        events.append(event)

    app.events.subscribe("file.*", record)
    with TestClient(create_api(app, embedded_worker=True)) as test_client:
        yield test_client


def upload(client: TestClient, name: str, data: bytes, headers: dict[str, str] = ACME, **params: Any):
    return client.post("/files/upload", files={"file": (name, data, "application/octet-stream")}, headers=headers,
                       params=params)


def topics(events: list[Event], count: int) -> list[tuple[str, str, str | None]]:
    """The events once ``count`` have arrived (the worker publishes just after storing the outcome)."""
    for _ in range(500):
        if len(events) >= count:
            break
        time.sleep(0.01)
    return [(e.topic, e.subject, e.tenant) for e in events]


def wait_file(client: TestClient, file_id: str, headers: dict[str, str] = ACME) -> dict[str, Any]:
    for _ in range(1500):
        file = client.get(f"/files/{file_id}", headers=headers).json()["file"]
        if file["status"] in ("processed", "failed"):
            return file  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"file {file_id} never finished")


def test_upload_process_extract_with_events(client: TestClient, events: list[Event], backend: Backend) -> None:
    response = upload(client, "report.pdf", docs.text_pdf(pages=2))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["message"] == "File uploaded successfully"
    file = body["file"]
    assert response.headers["location"] == f"/files/{file['id']}"
    assert file["original_filename"] == "report.pdf" and file["filename"] == f"{file['id']}.pdf"
    assert file["mime_type"] == "application/pdf" and file["status"] == "uploaded"
    assert len(file["file_hash"]) == 64 and file["file_size"] == len(docs.text_pdf(pages=2))
    done = wait_file(client, file["id"])
    assert done["status"] == "processed" and done["processed_at"] and done["retry_count"] == 0
    assert done["extraction_metadata"]["pages"] == 2
    extract = client.get(f"/files/{file['id']}/extract", headers=ACME).json()
    assert extract["file_id"] == file["id"] and extract["status"] == "processed" and "error" not in extract
    assert docs.PDF_PHRASES[1] in extract["content"] and extract["metadata"]["pages"] == 2
    assert topics(events, 2) == [("file.uploaded", file["id"], "acme"), ("file.processed", file["id"], "acme")]
    assert events[1].data["status"] == "processed"
    meter = client.app.state.job_service.meter  # type: ignore[attr-defined]
    [upload_use] = [c for k, c in meter._totals.items() if k.is_hour and (k.tenant, k.service) == ("acme", "files")]
    assert upload_use.bytes_in == file["file_size"] and upload_use.storage_requests > 0


def test_large_results_live_in_the_blob_store(client: TestClient, backend: Backend) -> None:
    file = upload(client, "cities.xlsx", docs.big_xlsx(rows=1000, columns=20)).json()["file"]
    done = wait_file(client, file["id"])
    assert done["status"] == "processed", done
    assert done["extracted_content"] is None and done["extracted_content_ref"] == f"/files/{file['id']}/extract"
    assert "rows" not in done["extraction_metadata"]["sheets"][0]
    extract = client.get(f"/files/{file['id']}/extract", headers=ACME).json()
    assert extract["metadata"]["sheets"][0]["row_count"] == 1000
    assert extract["metadata"]["sheets"][0]["rows"][999][1] == "r999c1"


def test_hostile_document_fails_the_file_and_the_worker_goes_on(client: TestClient, events: list[Event]) -> None:
    bad = upload(client, "lol.docx", docs.billion_laughs_docx()).json()["file"]
    failed = wait_file(client, bad["id"])
    assert failed["status"] == "failed" and "declares a DTD" in failed["error_message"]
    extract = client.get(f"/files/{bad['id']}/extract", headers=ACME).json()
    assert extract["status"] == "failed" and extract["content"] == "" and "DTD" in extract["error"]
    assert ("file.failed", bad["id"], "acme") in topics(events, 2)
    good = upload(client, "notes.txt", docs.utf16_txt()).json()["file"]
    assert wait_file(client, good["id"])["status"] == "processed"


def test_refusals_store_nothing(client: TestClient, backend: Backend) -> None:
    too_big = upload(client, "big.txt", b"x" * (1024 * 1024 + 1))
    assert too_big.status_code == 413 and "1 MB" in too_big.json()["detail"]
    declared_too_big = upload(client, "big.txt", b"x" * (3 * 1024 * 1024))  # refused on its Content-Length
    assert declared_too_big.status_code == 413
    assert "3.0 MB; files may be at most 1 MB" in declared_too_big.json()["detail"]
    wrong_magic = upload(client, "fake.pdf", docs.docx())
    assert wrong_magic.status_code == 400 and "ZIP" in wrong_magic.json()["detail"]
    wrong_type = upload(client, "run.exe", b"MZ....")
    assert wrong_type.status_code == 400 and "pdf, docx, txt, csv, xlsx" in wrong_type.json()["detail"]
    empty = upload(client, "empty.txt", b"")
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    not_multipart = client.post("/files/upload", content=b"raw", headers={**ACME, "Content-Type": "text/plain"})
    assert not_multipart.status_code == 400 and "multipart" in not_multipart.json()["detail"]
    no_file = client.post("/files", data={"other": "x"}, files={"attachment": ("a.txt", b"a")}, headers=ACME)
    assert no_file.status_code == 400 and '"file"' in no_file.json()["detail"]
    assert client.get("/files", headers=ACME).json()["total"] == 0
    assert backend.blobs._blobs == {}  # type: ignore[attr-defined]


def test_tenants_see_only_their_own_files(client: TestClient) -> None:
    file = upload(client, "a.txt", b"acme secret", process="false").json()["file"]
    for path in ("", "/extract", "/download"):
        assert client.get(f"/files/{file['id']}{path}", headers=GLOBEX).status_code == 404
    assert client.post(f"/files/{file['id']}/process", headers=GLOBEX).status_code == 404
    assert client.delete(f"/files/{file['id']}", headers=GLOBEX).status_code == 404
    assert client.get("/files", headers=GLOBEX).json() == {"files": [], "total": 0, "skip": 0, "limit": 100}
    assert client.get("/files", headers=ACME).json()["total"] == 1
    assert client.get("/files/nope", headers=ACME).status_code == 404


def test_process_extract_states_and_list_filters(client: TestClient) -> None:
    file = upload(client, "a.csv", docs.latin1_csv(), process="false").json()["file"]
    early = client.get(f"/files/{file['id']}/extract", headers=ACME)
    assert early.status_code == 409 and early.json()["detail"] == "File not processed yet"
    started = client.post(f"/files/{file['id']}/process", headers=ACME)
    assert started.status_code == 202 and started.json()["message"] == "File processing started"
    assert wait_file(client, file["id"])["status"] == "processed"
    again = client.post(f"/files/{file['id']}/process", headers=ACME)
    assert again.status_code == 200 and again.json()["message"] == "File processed"
    listed = client.get("/files", params={"status": "processed"}, headers=ACME).json()
    assert [f["id"] for f in listed["files"]] == [file["id"]] and listed["total"] == 1
    assert client.get("/files", params={"status": "bogus"}, headers=ACME).status_code == 400


def test_failed_file_can_be_processed_again(client: TestClient) -> None:
    file = upload(client, "enc.pdf", docs.text_pdf(encrypt_password="pw")).json()["file"]
    assert wait_file(client, file["id"])["status"] == "failed"
    retry = client.post(f"/files/{file['id']}/process", headers=ACME)
    assert retry.status_code == 202 and retry.json()["file"]["status"] == "uploaded"
    again = wait_file(client, file["id"])
    assert again["status"] == "failed" and "password" in again["error_message"]


def test_listing_is_newest_first_with_skip_and_limit(client: TestClient) -> None:
    ids = [upload(client, f"n{i}.txt", f"note {i}".encode(), process="false").json()["file"]["id"] for i in range(5)]
    page = client.get("/files", params={"skip": 1, "limit": 2}, headers=ACME).json()
    assert [f["id"] for f in page["files"]] == [ids[3], ids[2]]
    assert page["total"] == 5 and page["skip"] == 1 and page["limit"] == 2


def test_delete_is_soft_and_removes_the_bytes(client: TestClient, backend: Backend, events: list[Event]) -> None:
    file = upload(client, "a.txt", b"to be deleted").json()["file"]
    wait_file(client, file["id"])
    blob_name = f"files/{file['id']}/{file['filename']}"
    assert blob_name in backend.blobs._blobs  # type: ignore[attr-defined]
    deleted = client.delete(f"/files/{file['id']}", headers=ACME)
    assert deleted.status_code == 200 and deleted.json()["message"] == "File deleted successfully"
    record = client.get(f"/files/{file['id']}", headers=ACME).json()["file"]
    assert record["status"] == "deleted" and record["deleted_at"]
    assert blob_name not in backend.blobs._blobs  # type: ignore[attr-defined]
    assert client.get("/files", headers=ACME).json()["total"] == 0
    assert client.get("/files", params={"status": "deleted"}, headers=ACME).json()["total"] == 1
    assert client.get(f"/files/{file['id']}/extract", headers=ACME).status_code == 409
    assert client.get(f"/files/{file['id']}/download", headers=ACME).status_code == 409
    assert "file.deleted" in [e.topic for e in events]


def test_download_is_a_signed_link(client: TestClient) -> None:
    file = upload(client, "a.txt", b"download me", process="false").json()["file"]
    link = client.get(f"/files/{file['id']}/download", params={"format": "json"}, headers=ACME).json()
    assert set(link) == {"download_url", "expires_utc"}
    redirect = client.get(f"/files/{file['id']}/download", headers=ACME, follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"].startswith("memory://files/")


def test_extract_is_not_submittable_through_jobs(client: TestClient) -> None:
    refused = client.post("/jobs", json={"payload": {"file_id": "x"}, "service": "extract"}, headers=ACME)
    assert refused.status_code == 400 and "built in" in refused.json()["detail"]
    assert client.post("/jobs", json={"payload": {}}, headers=ACME).json()["service"] == "work"


def test_builtin_service_stays_after_the_users_and_keeps_its_name() -> None:
    app = make_app(memory_backend())
    assert list(app.services)[:2] == ["work", "extract"]  # then the other built-ins (workflow-execution)
    assert app.services["work"].queue_name == "praison-jobs"
    assert app.services["extract"].queue_name == "praison-jobs-extract"
    assert app.services["extract"].internal and app.services["extract"].runs_on_loop
    with pytest.raises(Exception, match="built-in"):
        app.job("extract")(lambda payload: None)


def test_size_settings_take_units_and_the_seed_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_size("10MB") == 10 * 1024 * 1024 and parse_size("512 kb") == 512 * 1024
    assert parse_size("1GiB") == 1024**3 and parse_size("2048") == 2048
    with pytest.raises(ValueError):
        parse_size("ten megabytes")
    monkeypatch.setenv("MAX_FILE_SIZE", "5MB")
    monkeypatch.setenv("ALLOWED_EXTENSIONS", "pdf, .TXT")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.files_max_size == 5 * 1024 * 1024 and settings.files_allowed_extensions == ["pdf", "txt"]
    monkeypatch.setenv("PRAISONAI_FILES_MAX_SIZE", "2M")
    assert Settings(_env_file=None).files_max_size == 2 * 1024 * 1024  # type: ignore[call-arg]


def test_the_api_process_never_imports_the_parsers() -> None:
    # Parsing happens in the worker's extraction children only; the API (and an app's import) stays light.
    import subprocess
    import sys

    code = ("import sys; from praisonai_svc import ServiceApp; from praisonai_svc.api.factory import create_api; "
            "from praisonai_svc.files.extractors import extractors; create_api(ServiceApp('x')); extractors(); "
            "print([m for m in ('pypdf', 'docx', 'openpyxl', 'charset_normalizer', 'lxml') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


async def test_a_stalled_upload_is_a_408() -> None:
    import asyncio
    from collections.abc import AsyncIterator

    from praisonai_svc.api.multipart import MultipartFile
    from praisonai_svc.errors import RequestTimeout

    async def stalls() -> AsyncIterator[bytes]:
        yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello'
        await asyncio.sleep(30)  # the client stops sending mid-file
        yield b"never"

    form = MultipartFile(stalls(), b"B", idle_timeout=0.1)
    upload = await form.open()
    assert upload.filename == "a.txt"
    received = []
    with pytest.raises(RequestTimeout, match="stalled"):
        async for chunk in upload.chunks:
            received.append(chunk)
    assert received == [b"hello"]


def run_workflow(client: TestClient, steps: list[dict[str, Any]], trigger_data: dict[str, Any],
                 headers: dict[str, str] = ACME) -> dict[str, Any]:
    workflow = client.post("/workflows", json={"name": "files", "max_retries": 2, "steps": steps}, headers=headers)
    assert workflow.status_code == 201, workflow.text
    execution = client.post(f"/workflows/{workflow.json()['id']}/trigger", json={"trigger_data": trigger_data},
                            headers=headers).json()
    for _ in range(1500):
        body = client.get(f"/executions/{execution['id']}", headers=headers).json()
        if body["status"] in ("completed", "failed", "cancelled", "timeout"):
            return body  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"execution {execution['id']} never finished: {body}")


EXTRACT_STEP = {"id": "text", "type": "file_process", "file_id": "{{ trigger.file_id }}"}


def test_a_file_process_step_queues_the_extraction_of_an_uploaded_file_and_waits(client: TestClient) -> None:
    file = upload(client, "cities.csv", b"city,population\nLisbon,545923\nPorto,231800\n",
                  process="false").json()["file"]
    done = run_workflow(client, [EXTRACT_STEP, {"id": "say", "type": "log",
                                                "message": "{{ steps.text.metadata.columns | join('+') }}"}],
                        {"file_id": file["id"]})
    assert done["status"] == "completed", done
    result = done["steps"][0]["result"]
    assert result["file_id"] == file["id"] and result["filename"] == "cities.csv" and result["mime_type"] == "text/csv"
    assert "Porto,231800" in result["content"] and not result["content_truncated"]
    assert result["metadata"]["row_count"] == 3 and done["steps"][1]["result"]["message"] == "city+population"
    assert done["input_file_ids"] == [file["id"]]
    assert client.get(f"/files/{file['id']}", headers=ACME).json()["file"]["status"] == "processed"


def test_a_file_process_step_fails_at_once_on_a_failed_or_foreign_file(client: TestClient) -> None:
    bad = upload(client, "lol.docx", docs.billion_laughs_docx()).json()["file"]
    assert wait_file(client, bad["id"])["status"] == "failed"
    failed = run_workflow(client, [EXTRACT_STEP], {"file_id": bad["id"]})
    assert failed["status"] == "failed" and failed["steps"][0]["attempt"] == 1  # no retry can read it
    assert "is failed" in failed["error_message"] and "DTD" in failed["error_message"]
    mine = upload(client, "a.txt", b"acme only").json()["file"]
    foreign = run_workflow(client, [EXTRACT_STEP], {"file_id": mine["id"]}, headers=GLOBEX)
    assert foreign["status"] == "failed" and "does not exist" in foreign["error_message"]
    assert foreign["steps"][0]["attempt"] == 1


def test_a_file_result_fits_the_step_budget_and_keeps_the_metadata() -> None:
    import json

    from praisonai_svc.workflows.engine import MAX_RESULT_BYTES
    from praisonai_svc.workflows.gateways import FileView
    from praisonai_svc.workflows.steps import file_result

    metadata = {"columns": [f"column {i}" for i in range(50)], "row_count": 1000}
    view = FileView(file_id="f", status="processed", filename="big.csv", mime_type="text/csv", file_size=10**6,
                    content="Grüße, 日本語; " * 5000, metadata=metadata)
    result = file_result(view)
    assert len(json.dumps(result)) <= MAX_RESULT_BYTES  # whole: the engine keeps it as it is
    assert result["metadata"] == metadata and result["content_truncated"]
    assert result["content"] and view.content is not None and view.content.startswith(result["content"])
    small = file_result(FileView(file_id="f", status="processed", content="short"))
    assert small["content"] == "short" and not small["content_truncated"]
