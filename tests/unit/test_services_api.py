"""The management API in-process (memory backend, embedded worker): shapes, switches, errors, auth, 503."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from praisonai_svc import JobContext, ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.services import Service, ServiceState
from praisonai_svc.settings import Settings

CONFIG = """\
app: {title: "Unit Services", version: "9.9.9"}
server: {heartbeat_seconds: 1}
services:
  ppt: {concurrency: 2, theme: dark}
  video: {enabled: false}
  ticker: {interval_seconds: 0.01}
"""


class TickerConfig(BaseModel):
    interval_seconds: float = Field(1.0, gt=0)


class PptConfig(BaseModel):
    theme: str = "plain"


ticker_router = APIRouter()
THEMES: list[str] = []  # what ppt handlers saw as context.config.theme


@ticker_router.get("/ticks")
async def ticks() -> dict[str, int]:
    return {"ticks": 1}


class Ticker(Service):
    config_model = TickerConfig
    router = ticker_router

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class Broken(Service):
    async def start(self) -> None:
        raise RuntimeError("the printer is on fire")

    async def stop(self) -> None:
        pass


def make_app(tmp_path: Path, **settings: Any) -> ServiceApp:
    path = tmp_path / "praisonai.yaml"
    path.write_text(CONFIG)
    app = ServiceApp("Unit", settings=Settings(_env_file=None, worker_poll_interval_min=0.01,  # type: ignore[call-arg]
                                               worker_poll_interval_max=0.05, **settings),
                     backend=memory_backend(), config_file=path)

    @app.job("ppt", config_model=PptConfig)
    def ppt(payload: dict, ctx: JobContext) -> tuple[bytes, str, str]:
        THEMES.append(ctx.config.theme)
        return ctx.config.theme.encode(), "text/plain", "theme.txt"

    @app.job("other")
    def other(payload: dict) -> tuple[bytes, str, str]:
        return b"other", "text/plain", "other.txt"

    @app.job("video")
    def video(payload: dict) -> tuple[bytes, str, str]:
        return b"video", "text/plain", "video.txt"

    app.register_service(Ticker, "ticker")
    app.service("broken")(Broken)
    return app


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def build(**settings: Any) -> TestClient:
        client = TestClient(create_api(make_app(tmp_path, **settings), embedded_worker=True))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


LOOPBACK = {"X-Forwarded-For": "127.0.0.1"}  # with trusted_proxy_hops=1 the client counts as this machine


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(trusted_proxy_hops=1)


def wait_status(client: TestClient, job_id: str, statuses: tuple[str, ...] = ("done", "error")) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {statuses}")


def test_root_lists_the_app_and_every_service(client: TestClient) -> None:
    body = client.get("/", headers={"Accept": "application/json"}).json()
    assert body["app"] == "Unit Services" and body["version"] == "9.9.9"
    assert body["state"] == "error"  # the broken service failed to start
    assert set(body["services"]) == {"ppt", "other", "video", "ticker", "broken", "workflow-scheduler", "pruner"}
    assert body["services"]["video"]["desired_state"] == "disabled"
    page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 307 and page.headers["location"] == "/docs"


def test_services_show_kind_states_and_instances(client: TestClient) -> None:
    services = {s["name"]: s for s in client.get("/services").json()["services"]}
    assert services["ppt"]["kind"] == "job" and services["ppt"]["queue_depth"] == 0
    assert services["ppt"]["state"] == "running" and services["ppt"]["desired_state"] == "running"
    assert services["ticker"]["kind"] == "background" and services["ticker"]["runs_on"] == "api"
    assert services["ticker"]["state"] == "running" and services["ticker"]["is_configured"] is True
    [instance] = services["ticker"]["instances"]
    assert instance["role"] == "all" and instance["state"] == "running" and instance["pid"] > 0
    assert services["broken"]["state"] == "error" and services["broken"]["error"] == (
        "RuntimeError: the printer is on fire")
    assert client.get("/services/ppt").json()["name"] == "ppt"
    assert client.get("/services/nope").status_code == 404


def test_stopped_job_service_keeps_its_jobs_queued_until_started(client: TestClient) -> None:
    assert client.post("/services/ppt/stop", headers=LOOPBACK).json() == {"status": "stopped", "service": "ppt"}
    queued = client.post("/jobs?service=ppt", json={"payload": {"n": 1}})
    assert queued.status_code == 202
    other = client.post("/jobs?service=other", json={"payload": {"n": 1}}).json()
    assert wait_status(client, other["job_id"])["status"] == "done"
    time.sleep(0.5)  # many poll cycles of the embedded worker
    assert client.get(f"/jobs/{queued.json()['job_id']}").json()["status"] == "queued"
    assert client.get("/services/ppt").json()["state"] in ("stopped", "stopping")
    assert client.post("/services/ppt/start", headers=LOOPBACK).json() == {"status": "started", "service": "ppt"}
    done = wait_status(client, queued.json()["job_id"])
    assert done["status"] == "done"
    assert THEMES[-1] == "dark"  # context.config, from the file


def test_illegal_transitions_are_409_naming_the_state(client: TestClient) -> None:
    again = client.post("/services/ppt/start", headers=LOOPBACK)
    assert again.status_code == 409 and "running" in again.json()["detail"]
    assert client.post("/services/ticker/stop", headers=LOOPBACK).status_code == 200
    twice = client.post("/services/ticker/stop", headers=LOOPBACK)
    assert twice.status_code == 409 and "stopped" in twice.json()["detail"]
    disabled = client.post("/services/video/start", headers=LOOPBACK)
    assert disabled.status_code == 409 and "enabled: false" in disabled.json()["detail"]
    assert client.post("/services/nope/start", headers=LOOPBACK).status_code == 404


def test_a_broken_service_may_be_started_again(client: TestClient) -> None:
    retry = client.post("/services/broken/start", headers=LOOPBACK)
    assert retry.status_code == 200  # from ERROR: allowed; it fails again, with its message
    deadline = time.monotonic() + 10
    while client.get("/services/broken").json()["state"] != "error" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.get("/services/broken").json()["error"] == "RuntimeError: the printer is on fire"


def test_disabled_service_answers_503(client: TestClient) -> None:
    refused = client.post("/jobs?service=video", json={"payload": {"n": 1}})
    assert refused.status_code == 503 and "enabled: false" in refused.json()["detail"]
    assert client.get("/jobs").json()["jobs"] == []


def test_background_routes_are_mounted_and_503_when_stopped(client: TestClient) -> None:
    assert client.get("/services/ticker/ticks").json() == {"ticks": 1}
    client.post("/services/ticker/stop", headers=LOOPBACK)
    deadline = time.monotonic() + 10
    while client.get("/services/ticker/ticks").status_code != 503 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.get("/services/ticker/ticks").status_code == 503


def test_configure_validates_with_the_model_and_reaches_the_service(client: TestClient) -> None:
    bad = client.post("/services/ticker/configure", json={"interval_seconds": -1}, headers=LOOPBACK)
    assert bad.status_code == 400 and "interval_seconds" in bad.json()["detail"]
    good = client.post("/services/ticker/configure", json={"interval_seconds": 2}, headers=LOOPBACK)
    assert good.status_code == 200 and good.json()["config"] == {"interval_seconds": 2.0}
    runtime = client.app.state.service_runtime  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while runtime.hosted["ticker"].service.config != TickerConfig(interval_seconds=2):
        assert time.monotonic() < deadline, "the new configuration never reached the service"
        time.sleep(0.02)
    assert client.post("/services/broken/configure", json={}, headers=LOOPBACK).status_code == 400
    assert client.get("/services/ticker").json()["changed_by"] == "loopback client 127.0.0.1"


def test_changes_need_the_admin_key_when_one_is_configured(make_client: Callable[..., TestClient]) -> None:
    client = make_client(admin_key="s3cret-admin")
    assert client.post("/services/ppt/stop").status_code == 401
    assert client.post("/services/ppt/stop", headers={"X-Admin-Key": "wrong"}).status_code == 401
    assert client.post("/services/ppt/stop", headers={"X-Admin-Key": "s3cret-admin"}).status_code == 200
    assert client.get("/services/ppt").json()["changed_by"].startswith("admin key from")


def test_without_an_admin_key_only_loopback_may_change(make_client: Callable[..., TestClient]) -> None:
    client = make_client(trusted_proxy_hops=1)
    remote = client.post("/services/ppt/stop", headers={"X-Forwarded-For": "203.0.113.9"})
    assert remote.status_code == 403 and "PRAISONAI_ADMIN_KEY" in remote.json()["detail"]
    assert client.get("/services").status_code == 200  # reads are open when the service has no keys
    assert client.post("/services/ppt/stop", headers=LOOPBACK).status_code == 200


def test_reads_need_a_credential_when_the_service_has_keys(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key="reader-key")
    assert client.get("/services").status_code == 401
    assert client.get("/services", headers={"X-API-Key": "reader-key"}).status_code == 200


def test_shutdown_stops_background_services(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    runtime = client.app.state.service_runtime  # type: ignore[attr-defined]
    ticker = runtime.hosted["ticker"].service
    client.__exit__(None, None, None)
    assert ticker.state == ServiceState.STOPPED
    assert client.app.state.abandoned == []  # type: ignore[attr-defined]


def test_api_prefix_serves_every_route_under_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, api_prefix="/api")
    with TestClient(create_api(app, embedded_worker=True)) as client:
        created = client.post("/api/jobs?service=other", json={"payload": {"n": 1}})
        assert created.status_code == 202 and created.headers["location"].startswith("/api/jobs/")
        assert wait_status(client, created.json()["job_id"])["status"] == "done"
        assert client.get(created.headers["location"]).json()["download_url"].startswith("http://testserver/api/")
        assert client.get("/api/services/other").json()["state"] == "running"


def test_guessing_the_admin_key_is_counted_like_any_credential(make_client: Callable[..., TestClient]) -> None:
    client = make_client(admin_key="s3cret-admin", rate_limit_auth_failures_per_minute=2)
    statuses = [client.post("/services/ppt/stop", headers={"X-Admin-Key": f"guess-{n}"}).status_code
                for n in range(4)]
    assert statuses[:2] == [401, 401] and statuses[-1] == 429
