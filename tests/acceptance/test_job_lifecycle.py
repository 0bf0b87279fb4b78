"""The main path and the job semantics of DESIGN.md §4, through the real CLI processes."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import httpx

from tests.acceptance.conftest import HANDLERS
from tests.support.service import backend_counts, markers, running_service, wait_job


def submit(client: httpx.Client, payload: dict, **kw: object) -> dict:
    response = client.post("/jobs", json={"payload": payload, **kw})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/jobs/{response.json()['job_id']}"
    return response.json()


def test_submit_poll_download(service, markers_dir):
    with service.client() as client:
        job = submit(client, {"n": 1, "marker_dir": str(markers_dir), "filename": "../../evil name.txt"})
        assert job["status"] == "queued"
        done = wait_job(client, job["job_id"])
        assert done["status"] == "done", done
        assert done["attempts"] == 1 and done["retry_count"] == 0
        assert done["download_url"].endswith(f"/jobs/{job['job_id']}/download")
        assert done["filename"] == "evil name.txt"  # path components stripped
        for stamp in ("created_utc", "updated_utc", "started_utc"):
            assert done[stamp].endswith(("Z", "+00:00"))
        redirect = client.get(f"/jobs/{job['job_id']}/download")
        assert redirect.status_code == 307
        file = client.get(redirect.headers["location"])
        assert file.status_code == 200
        assert json.loads(file.content)["n"] == 1
        assert "evil name.txt" in file.headers["content-disposition"]
        link = client.get(f"/jobs/{job['job_id']}/download", headers={"Accept": "application/json"}).json()
        assert set(link) == {"download_url", "expires_utc"}
        assert client.get(link["download_url"]).content == file.content
    assert [m["event"] for m in markers(markers_dir, job["job_id"])] == ["start", "end"]


def test_yaml_body_and_second_service(service):
    with service.client() as client:
        response = client.post("/jobs?service=other", content=b"payload:\n  greeting: hi\n",
                               headers={"Content-Type": "application/yaml"})
        assert response.status_code == 202, response.text
        done = wait_job(client, response.json()["job_id"])
        assert done["service"] == "other" and done["status"] == "done"
        body = client.get(f"/jobs/{done['job_id']}/download", follow_redirects=True).content
        assert body == b'other:{"greeting": "hi"}'
        unknown = client.post("/jobs", json={"payload": {}, "service": "nope"})
        assert unknown.status_code == 400 and "work, other" in unknown.json()["detail"]


def test_download_before_done_is_409_and_unknown_is_404(service):
    with service.client() as client:
        job = submit(client, {"mode": "sleep", "seconds": 2})
        early = client.get(f"/jobs/{job['job_id']}/download")
        assert early.status_code == 409
        assert "status" in early.json()["detail"]
        assert client.get("/jobs/does-not-exist").status_code == 404
        assert client.get("/jobs/does-not-exist/download").status_code == 404
        wait_job(client, job["job_id"])


def test_always_failing_handler_gets_exactly_three_attempts_then_poison(service, markers_dir, backend_env):
    with service.client() as client:
        job = submit(client, {"mode": "fail", "marker_dir": str(markers_dir)})
        done = wait_job(client, job["job_id"])
    assert done["status"] == "error"
    assert done["attempts"] == 3 and done["retry_count"] == 2
    assert done["error_msg"] == "RuntimeError: this handler always fails"
    assert "Traceback" not in done["error_msg"]
    assert [m["attempt"] for m in markers(markers_dir, job["job_id"])] == [1, 2, 3]
    queue_len, poison_len = backend_counts(backend_env)
    assert (queue_len, poison_len) == (0, 1)


def test_non_retryable_error_and_bad_return_fail_at_once(service, backend_env):
    with service.client() as client:
        fatal = submit(client, {"mode": "fatal"})
        bad = submit(client, {"mode": "bad-return"})
        fatal_done, bad_done = wait_job(client, fatal["job_id"]), wait_job(client, bad["job_id"])
    assert (fatal_done["status"], fatal_done["attempts"]) == ("error", 1)
    assert fatal_done["error_msg"] == "the payload can never work"
    assert (bad_done["status"], bad_done["attempts"]) == ("error", 1)
    assert "must return (bytes, content_type, filename)" in bad_done["error_msg"]
    assert backend_counts(backend_env) == (0, 2)


def test_hanging_handler_times_out_and_the_worker_keeps_serving(backend_env, tmp_path):
    env = {**backend_env, "PRAISONAI_MAX_JOB_DURATION_MINUTES": "0.05", "PRAISONAI_WORKER_CONCURRENCY": "1"}
    with running_service(HANDLERS, env, tmp_path / "logs") as svc, svc.client() as client:
        hung = submit(client, {"mode": "hang"})
        started = time.monotonic()
        hung_done = wait_job(client, hung["job_id"], timeout=30)
        elapsed = time.monotonic() - started
        after = submit(client, {"n": "after the hang"})
        after_done = wait_job(client, after["job_id"], timeout=30)
    assert hung_done["status"] == "error"
    assert hung_done["error_msg"] == "Job exceeded 0.05 minute timeout"
    assert hung_done["attempts"] == 1
    assert elapsed < 3 + 10, "the timeout must fire within seconds of the limit"
    assert after_done["status"] == "done"


def test_fifty_identical_concurrent_posts_make_one_job(service):
    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            body = {"payload": {"same": "payload", "n": [1, 2, 3]}}

            async def post() -> httpx.Response:
                # A 503 (storage overloaded on a busy machine) is a legitimate answer; clients retry it.
                for _ in range(10):
                    response = await client.post("/jobs", json=body)
                    if response.status_code != 503:
                        return response
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                return response

            return await asyncio.gather(*[post() for _ in range(50)])

    responses = asyncio.run(fire())
    assert all(r.status_code in (200, 202) for r in responses), [(r.status_code, r.text) for r in responses
                                                                  if r.status_code not in (200, 202)]
    ids = {r.json()["job_id"] for r in responses}
    codes = sorted(r.status_code for r in responses)
    assert len(ids) == 1
    assert codes == [200] * 49 + [202]
    with service.client() as client:
        assert len(client.get("/jobs").json()["jobs"]) == 1
        done = wait_job(client, ids.pop())
        # key order does not matter; a done job is returned again, an error job is replaced
        again = client.post("/jobs", json={"payload": {"n": [1, 2, 3], "same": "payload"}})
        assert again.status_code == 200 and again.json()["job_id"] == done["job_id"]
        failed = submit(client, {"mode": "fatal"})
        wait_job(client, failed["job_id"])
        retry = client.post("/jobs", json={"payload": {"mode": "fatal"}})
        assert retry.status_code == 202 and retry.json()["job_id"] != failed["job_id"]


def test_list_filters_and_cursor_pagination(service):
    with service.client() as client:
        ids = [submit(client, {"i": i})["job_id"] for i in range(7)]
        for job_id in ids:
            wait_job(client, job_id)
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 3, "status": "done", **({"cursor": cursor} if cursor else {})}
            page = client.get("/jobs", params=params).json()
            seen += [j["job_id"] for j in page["jobs"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == list(reversed(ids))
        assert client.get("/jobs", params={"status": "bogus"}).status_code == 400
        assert client.get("/jobs", params={"cursor": "!!"}).status_code == 400
        assert client.get("/jobs", params={"status": "queued"}).json()["jobs"] == []


def test_health_live_ready(service):
    with service.client() as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["services"] == ["work", "other"]
        assert "extract" in health["builtin_services"]  # listed apart from the user's services
        assert client.get("/live").json() == {"status": "alive"}
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["storage"] == "ok"
        assert client.get("/docs").status_code == 200
        schema = client.get("/openapi.json").json()
        assert "JobSubmission" in schema["components"]["schemas"]


def test_sigterm_lets_the_running_job_finish(backend_env, tmp_path, markers_dir):
    with running_service(HANDLERS, backend_env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        worker = svc.start_worker()
        job = submit(client, {"mode": "sleep", "seconds": 2, "marker_dir": str(markers_dir)})
        _wait_marker(markers_dir, job["job_id"], "start")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        done = client.get(f"/jobs/{job['job_id']}").json()
    assert done["status"] == "done" and done["attempts"] == 1


def test_sigterm_past_the_grace_period_releases_the_job_without_losing_it(backend_env, tmp_path, markers_dir):
    env = {**backend_env, "PRAISONAI_SHUTDOWN_GRACE_SECONDS": "0.5"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        first = svc.start_worker()
        job = submit(client, {"mode": "sleep", "seconds": 4, "marker_dir": str(markers_dir)})
        _wait_marker(markers_dir, job["job_id"], "start")
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
        released = client.get(f"/jobs/{job['job_id']}").json()
        assert released["status"] == "queued" and released["attempts"] == 0
        svc.start_worker()
        done = wait_job(client, job["job_id"], timeout=60)
    assert done["status"] == "done"
    assert done["attempts"] == 1, "a graceful release must not spend an attempt"


def _wait_marker(marker_dir: Path, job_id: str, event: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(m["event"] == event for m in markers(marker_dir, job_id)):
            return
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} never reached {event}")
