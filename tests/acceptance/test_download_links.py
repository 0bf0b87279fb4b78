"""Signed download links are valid URLs whatever the file is called (issue 11: a space in a filename made a link
that Python's http.client refused). Every path segment is percent-encoded; each link is fetched from the
CLI-started service with three real clients: http.client, httpx and curl."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from praisonai_svc.backend import open_backend
from praisonai_svc.settings import Settings
from tests.acceptance.conftest import HANDLERS
from tests.support.service import running_service, wait_job

HOSTILE_NAME = "Still Waters #1? 100% café 🎉.pptx"
SIGNING_KEY = "download-links-test-signing-key"


def fetch_all_ways(url: str, tmp_path: Path) -> dict[str, tuple[int, bytes, str]]:
    """(status, body, Content-Disposition) of ``url`` through http.client, httpx and curl."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.request("GET", f"{parts.path}?{parts.query}")  # raises InvalidURL for an unencoded space
    response = connection.getresponse()
    results = {"http.client": (response.status, response.read(), response.getheader("content-disposition", ""))}
    connection.close()
    with_httpx = httpx.get(url, timeout=30)
    results["httpx"] = (with_httpx.status_code, with_httpx.content, with_httpx.headers.get("content-disposition", ""))
    headers, body = tmp_path / "curl-headers", tmp_path / "curl-body"
    code = subprocess.run(["curl", "--silent", "--globoff", "--dump-header", str(headers), "--output", str(body),
                           "--write-out", "%{http_code}", url], capture_output=True, text=True, timeout=30,
                          check=True).stdout
    disposition = next((line.split(":", 1)[1].strip() for line in headers.read_text().splitlines()
                        if line.lower().startswith("content-disposition:")), "")
    results["curl"] = (int(code), body.read_bytes(), disposition)
    return results


def test_a_job_whose_file_name_has_spaces_and_symbols_downloads_with_every_client(tmp_path: Path) -> None:
    env = {"PRAISONAI_DATA_DIR": str(tmp_path / "data")}
    with running_service(HANDLERS, env, tmp_path / "logs") as svc, svc.client() as client:
        job = client.post("/jobs", json={"payload": {"filename": HOSTILE_NAME}}).json()
        assert wait_job(client, job["job_id"])["status"] == "done"
        url = client.get(f"/jobs/{job['job_id']}/download", params={"format": "json"}).json()["download_url"]
        assert " " not in url and url.isascii()
        for name, (status, body, disposition) in fetch_all_ways(url, tmp_path).items():
            assert status == 200, name
            assert json.loads(body)["filename"] == HOSTILE_NAME, name
            assert disposition.startswith("attachment;"), name


def test_a_blob_named_with_every_awkward_character_is_reachable_by_its_link(tmp_path: Path) -> None:
    """The blob store itself (not only the sanitised names the worker writes) signs a name with spaces, #, ?,
    %, non-ASCII letters and an emoji; the running service serves it to all three clients."""
    data = tmp_path / "data"
    env = {"PRAISONAI_DATA_DIR": str(data), "PRAISONAI_SIGNING_KEY": SIGNING_KEY}
    blob = f"work/0123/{HOSTILE_NAME}"

    async def put_and_sign() -> str:
        backend = await open_backend(Settings(_env_file=None, data_dir=data, signing_key=SIGNING_KEY))  # type: ignore[call-arg]
        try:
            await backend.blobs.put(blob, b"deck bytes", content_type="text/plain", filename=HOSTILE_NAME)
            return (await backend.blobs.signed_url(blob, expires_in=timedelta(minutes=5), filename=HOSTILE_NAME,
                                                   content_type="text/plain")).url
        finally:
            await backend.close()

    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc:
        path = asyncio.run(put_and_sign())
        assert [unquote(segment) for segment in urlsplit(path).path.split("/")[2:]] == blob.split("/")
        for name, (status, body, disposition) in fetch_all_ways(svc.url + path, tmp_path).items():
            assert status == 200, name
            assert body == b"deck bytes", name
            assert "filename*=UTF-8''Still%20Waters%20%231%3F%20100%25%20caf%C3%A9%20%F0%9F%8E%89.pptx" in disposition
