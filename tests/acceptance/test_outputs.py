"""Multi-file outputs through the CLI-started service, on local and Azurite: the ZIP and each file on its own."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import httpx

from tests.support.service import wait_job


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_three_file_job_zips_and_downloads_each_file(service, tmp_path: Path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with service.client() as client:
        submitted = client.post("/jobs", json={"payload": {"mode": "multi", "scratch_dir": str(scratch)}})
        assert submitted.status_code == 202, submitted.text
        job = wait_job(client, submitted.json()["job_id"])
        assert job["status"] == "done", job
        listed = job["outputs"]
        assert [o["filename"] for o in listed] == ["report.txt", "data.bin", "Data-2.bin"]
        assert all(set(o) == {"filename", "content_type", "size", "sha256"} for o in listed)

        archive = client.get(f"/jobs/{job['job_id']}/download")
        assert archive.status_code == 200
        assert archive.headers["content-type"] == "application/zip"
        assert ".zip" in archive.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
            assert zipped.testzip() is None
            names = zipped.namelist()
            contents = {name: zipped.read(name) for name in names}
        assert names == [o["filename"] for o in listed]
        for output in listed:
            assert _sha(contents[output["filename"]]) == output["sha256"]
            assert len(contents[output["filename"]]) == output["size"]
        assert contents["data.bin"] == contents["Data-2.bin"]  # a path and a file object of the same file

        for output in listed:
            link = client.get(f"/jobs/{job['job_id']}/outputs/{output['filename']}/download",
                              params={"format": "json"})
            assert link.status_code == 200, link.text
            fetched = httpx.get(link.json()["download_url"], timeout=30)  # a signed link: no credentials
            assert fetched.status_code == 200
            assert _sha(fetched.content) == output["sha256"]
            assert fetched.headers["content-type"].startswith(output["content_type"])

        missing = client.get(f"/jobs/{job['job_id']}/outputs/nope.txt/download", params={"format": "json"})
        assert missing.status_code == 404 and "GET /jobs/" in missing.json()["detail"]
        traversal = client.get(f"/jobs/{job['job_id']}/outputs/..%2F..%2Fsecret/download", params={"format": "json"})
        assert traversal.status_code == 404


def test_single_file_job_is_unchanged_and_lists_its_one_output(service):
    with service.client() as client:
        job = wait_job(client, client.post("/jobs", json={"payload": {"n": 1}}).json()["job_id"])
        assert job["filename"] == "result.txt" and job["content_type"] == "text/plain"
        assert [o["filename"] for o in job["outputs"]] == ["result.txt"]
        redirect = client.get(f"/jobs/{job['job_id']}/download")
        assert redirect.status_code == 307
        body = httpx.get(redirect.headers["location"], timeout=30).content
        assert _sha(body) == job["outputs"][0]["sha256"] and len(body) == job["size"]
        one = client.get(f"/jobs/{job['job_id']}/outputs/result.txt/download")
        assert one.status_code == 307
