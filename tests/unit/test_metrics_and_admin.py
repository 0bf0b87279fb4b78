"""``/metrics`` after a real run (successes, a retry, a poison) and the admin poison-queue endpoints.

In-process: FastAPI's TestClient runs the lifespan with an embedded worker on the memory backend, so the API
and the worker share one process and one metrics registry (the multi-process cases are in docs/operations.md).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from praisonai_svc import JobContext, ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.settings import Settings

API_KEY = "unit-key"
ADMIN_KEY = "admin-key-for-tests"


def make_app(**overrides: Any) -> ServiceApp:
    values: dict[str, Any] = {
        "worker_poll_interval_min": 0.01, "worker_poll_interval_max": 0.05, "retry_backoff_seconds": 0,
        "max_retry_count": 2, "api_key": [API_KEY], "admin_key": ADMIN_KEY, **overrides,
    }
    app = ServiceApp("Metrics", settings=Settings(_env_file=None, **values),  # type: ignore[call-arg]
                     backend=memory_backend())

    @app.job("echo")
    def echo(payload: dict[str, Any], ctx: JobContext) -> tuple[bytes, str, str]:
        mode = payload.get("mode")
        if mode == "flaky" and ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        if mode == "broken":
            raise RuntimeError("always fails")
        return b"ok", "text/plain", "ok.txt"

    return app


@pytest.fixture
def client() -> Any:
    with TestClient(create_api(make_app(), embedded_worker=True), headers={"X-API-Key": API_KEY}) as test_client:
        yield test_client


def submit_and_wait(client: TestClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/jobs", json={"payload": payload})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    for _ in range(1000):
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("done", "error"):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} never finished")


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_successes_a_retry_and_a_poison(client: TestClient) -> None:
    done = [submit_and_wait(client, {"n": n}) for n in range(2)]
    flaky = submit_and_wait(client, {"mode": "flaky"})
    broken = submit_and_wait(client, {"mode": "broken"})
    assert [j["status"] for j in done] == ["done", "done"] and flaky["status"] == "done"
    assert broken["status"] == "error" and flaky["retry_count"] == 1
    assert client.get(f"/jobs/{done[0]['job_id']}/download", params={"format": "json"}).status_code == 200
    assert client.get("/jobs", headers={"X-API-Key": "wrong"}).status_code == 401

    samples = scrape(client)
    assert value(samples, "praisonai_jobs_finished_total", service="echo", status="done") == 3
    assert value(samples, "praisonai_jobs_finished_total", service="echo", status="error") == 1
    assert value(samples, "praisonai_job_retries_total", service="echo") == 2  # flaky once, broken once
    assert value(samples, "praisonai_jobs_poisoned_total", service="echo") == 1
    assert value(samples, "praisonai_job_attempts_total", service="echo") == 6
    assert value(samples, "praisonai_job_duration_seconds_count", service="echo", status="done") == 3
    assert value(samples, "praisonai_queue_wait_seconds_count", service="echo") == 4  # first attempts only
    assert value(samples, "praisonai_poison_queue_depth", service="echo", queue="praison-jobs") == 1
    assert value(samples, "praisonai_queue_depth", service="echo", queue="praison-jobs") == 0
    assert value(samples, "praisonai_jobs", status="done") == 3
    assert value(samples, "praisonai_jobs", status="error") == 1
    assert value(samples, "praisonai_download_links_total") == 1
    assert value(samples, "praisonai_auth_failures_total", kind="api_key") == 1
    assert value(samples, "praisonai_storage_up") == 1
    assert value(samples, "praisonai_http_requests_total", method="POST", route="/jobs", status="202") == 4
    assert value(samples, "praisonai_http_requests_total", method="GET", route="/jobs", status="401") == 1
    polled = value(samples, "praisonai_http_requests_total", method="GET", route="/jobs/{job_id}", status="200")
    assert polled >= 4
    assert value(samples, "praisonai_jobs_running", service="echo") == 0


def test_unknown_paths_share_one_series(client: TestClient) -> None:
    for n in range(5):
        client.get(f"/no/such/path/{n}")
    samples = scrape(client)
    assert value(samples, "praisonai_http_requests_total", method="GET", route="unmatched", status="404") == 5
    assert not any("/no/such" in str(key) for key in samples)


def test_admin_requeue_runs_the_job_again_and_keeps_its_history(client: TestClient) -> None:
    broken = submit_and_wait(client, {"mode": "broken"})
    admin = {"X-Admin-Key": ADMIN_KEY}
    listing = client.get("/admin/poison-queue", headers=admin)
    assert listing.status_code == 200, listing.text
    body = listing.json()
    echo = [queue for queue in body["queues"] if queue["service"] == "echo"]  # built-in services have queues too
    assert echo == [{"service": "echo", "queue": "praison-jobs", "depth": 0, "poison_depth": 1}]
    [entry] = body["messages"]
    assert entry["job_id"] == broken["job_id"] and entry["job_status"] == "error"
    assert entry["reason"] == "RuntimeError: always fails" and entry["dequeue_count"] == 2

    requeued = client.post(f"/admin/poison-queue/{broken['job_id']}/requeue", headers=admin)
    assert requeued.status_code == 200, requeued.text
    assert requeued.json()["status"] == "queued" and requeued.json()["attempts"] == 0
    for _ in range(1000):
        job = client.get(f"/jobs/{broken['job_id']}").json()
        if job["status"] == "error" and job["history"]:
            break
        time.sleep(0.01)
    assert job["attempts"] == 2  # a fresh attempt budget, used up again
    [earlier] = job["history"]
    assert earlier["status"] == "error" and earlier["attempts"] == 2
    assert earlier["error_msg"] == "RuntimeError: always fails" and earlier["finished_utc"]
    assert client.post(f"/admin/poison-queue/{broken['job_id']}/requeue", headers=admin).status_code == 200
    done = submit_and_wait(client, {"n": "fine"})
    conflict = client.post(f"/admin/poison-queue/{done['job_id']}/requeue", headers=admin)
    assert conflict.status_code == 409 and "only a job in error" in conflict.json()["detail"]
    assert client.post("/admin/poison-queue/nope/requeue", headers=admin).status_code == 404
    assert value(scrape(client), "praisonai_jobs_requeued_total", service="echo") == 2


def test_admin_key_is_required_and_compared(client: TestClient) -> None:
    assert client.get("/admin/poison-queue").status_code == 401
    assert client.get("/admin/poison-queue", headers={"X-Admin-Key": ADMIN_KEY + "x"}).status_code == 401
    assert client.get("/admin/poison-queue", headers={"X-Admin-Key": API_KEY}).status_code == 401
    assert value(scrape(client), "praisonai_auth_failures_total", kind="admin_key") == 3


def test_admin_endpoints_do_not_exist_without_an_admin_key() -> None:
    with TestClient(create_api(make_app(admin_key=None)), headers={"X-API-Key": API_KEY}) as client:
        assert client.get("/admin/poison-queue", headers={"X-Admin-Key": ""}).status_code == 404
        assert client.post("/admin/poison-queue/x/requeue").status_code == 404


def test_metrics_can_be_switched_off() -> None:
    with TestClient(create_api(make_app(metrics_enabled=False))) as client:
        assert client.get("/metrics").status_code == 404
