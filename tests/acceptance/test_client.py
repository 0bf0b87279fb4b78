"""praisonai_svc.client against the real CLI-started service (local and Azurite): no mocks."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from praisonai_svc.client import AsyncClient, Client, Conflict, NotFound, RateLimited, RetryPolicy, Unauthorized
from tests.acceptance.conftest import HANDLERS
from tests.acceptance.security_support import ACME_KEY, OPERATOR_KEY, secured
from tests.support.service import Service, running_service


@pytest.fixture
def secured_service(backend_env, tmp_path: Path) -> Iterator[Service]:
    quotas = tmp_path / "quotas.yaml"
    quotas.write_text("tenants:\n  acme:\n    max_jobs_per_day: 2\n")
    env = secured(backend_env, PRAISONAI_QUOTAS_FILE=str(quotas))
    with running_service(HANDLERS, env, tmp_path / "logs") as svc:
        yield svc


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def other_origin() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A real HTTP server on another port (another origin) that records the headers it receives."""
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    server.shutdown()


def test_client_submits_waits_lists_and_downloads(secured_service, tmp_path: Path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with Client(secured_service.url, api_key=OPERATOR_KEY) as client:
        job = client.submit({"filename": "hello.txt", "n": 1}, wait=True, timeout=60)
        assert job.status.value == "done" and job.filename == "hello.txt"
        assert client.get(job.job_id).job_id == job.job_id
        assert job.job_id in [listed.job_id for listed in client.list(status="done").jobs]

        saved = client.download(job.job_id, tmp_path)
        assert saved == tmp_path / "hello.txt"
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == job.outputs[0].sha256
        assert not list(tmp_path.glob("*.part"))

        multi = client.submit({"mode": "multi", "scratch_dir": str(scratch)}, wait=True, timeout=60)
        archive = client.download(multi.job_id, tmp_path / "all.zip")
        with zipfile.ZipFile(archive) as zipped:
            assert zipped.namelist() == [output.filename for output in multi.outputs]
        one = client.download_output(multi.job_id, "data.bin", tmp_path)
        assert hashlib.sha256(one.read_bytes()).hexdigest() == multi.outputs[1].sha256

        other = client.submit({"n": 2}, service="other", wait=True, timeout=60)
        assert other.service == "other"

        batch = client.submit_many([{"batch": i} for i in range(5)] + [{"n": 1, "filename": "hello.txt"}],
                                   batch_size=2)  # three requests; the last item is the job above again
        assert [item.index for item in batch.results] == list(range(6))
        assert (batch.queued, batch.existing, batch.failed) == (5, 1, 0)
        assert batch.results[5].job is not None and batch.results[5].job.job_id == job.job_id
        queued = [item.job for item in batch.results[:5] if item.job is not None]
        assert all(client.wait(one.job_id, 60).status.value == "done" for one in queued)
        bad = client.submit_many([{"n": 3}], service="no-such-service")
        assert bad.failed == 1 and bad.results[0].status == 400 and bad.results[0].detail


def test_client_maps_http_errors_to_exceptions(secured_service):
    with Client(secured_service.url, api_key=OPERATOR_KEY) as client:
        with pytest.raises(NotFound):
            client.get("f" * 32)
        running = client.submit({"mode": "sleep", "seconds": 3})
        with pytest.raises(Conflict, match="not done yet"):
            client.download(running.job_id)
    with Client(secured_service.url, api_key="wrong-key") as wrong, pytest.raises(Unauthorized):
        wrong.get(running.job_id)
    with Client(secured_service.url, api_key=ACME_KEY, retry=RetryPolicy(max_wait=5)) as acme:
        acme.submit({"q": 1})
        acme.submit({"q": 2})
        with pytest.raises(RateLimited) as refused:  # resets at midnight: not waited out, raised at once
            acme.submit({"q": 3})
        assert refused.value.retry_after > 5 and refused.value.body["quota"] == "max_jobs_per_day"
        report = acme.usage()
        assert set(report.totals) <= {"acme"}


def test_the_key_goes_only_to_the_service_origin(secured_service, other_origin):
    url, seen = other_origin
    with Client(secured_service.url, api_key=OPERATOR_KEY) as client:
        client.request("GET", f"{url}/signed?sig=abc")
        assert client.request("GET", "/jobs").status_code == 200  # the service itself does get it
    assert seen and "x-api-key" not in seen[0] and "authorization" not in seen[0]


def test_async_client_submits_waits_and_downloads(secured_service, tmp_path: Path):
    async def scenario() -> Path:
        async with AsyncClient(secured_service.url, api_key=OPERATOR_KEY) as client:
            job = await client.submit({"filename": "async.txt"}, wait=True, timeout=60)
            assert job.status.value == "done"
            batch = await client.submit_many([{"filename": "async.txt"}, {"async": 2}])
            assert [item.status for item in batch.results] == [200, 202]
            assert (await client.list(limit=5)).jobs
            with pytest.raises(NotFound):
                await client.get("0" * 32)
            return await client.download(job.job_id, tmp_path)

    saved = asyncio.run(scenario())
    assert saved.name == "async.txt" and b"async.txt" in saved.read_bytes()
