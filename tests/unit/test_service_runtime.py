"""One process's ServiceRuntime: shutdown order and abandonment; a stopped job service's running jobs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastapi.testclient import TestClient

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.services import Service, ServiceState
from praisonai_svc.services.runtime import ServiceRuntime
from praisonai_svc.settings import Settings

STOPPED: list[str] = []


class Recorded(Service):
    stop_seconds = 0.0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await asyncio.sleep(self.stop_seconds)
        STOPPED.append(self.name)


class Slow(Recorded):
    stop_seconds = 30.0


def plain_app(tmp_path: Path, config: str = "") -> ServiceApp:
    path = tmp_path / "praisonai.yaml"
    path.write_text(config)
    settings = Settings(_env_file=None, worker_poll_interval_min=0.01, worker_poll_interval_max=0.05,  # type: ignore[call-arg]
                        shutdown_grace_seconds=0.3, trusted_proxy_hops=1)  # X-Forwarded-For: 127.0.0.1 = loopback
    return ServiceApp("Runtime", settings=settings,
                      backend=memory_backend(), config_file=path)


async def test_shutdown_stops_in_reverse_registration_order(tmp_path: Path) -> None:
    STOPPED.clear()
    app = plain_app(tmp_path)
    for name in ("first", "second", "third"):
        app.register_service(Recorded, name)
    assert app.backend is not None
    runtime = ServiceRuntime(app, app.backend, "api")
    await runtime.start()
    assert all(app.background[name].service.state == ServiceState.RUNNING for name in ("first", "second", "third"))
    assert await runtime.close() == []
    assert STOPPED == ["third", "second", "first"]


async def test_a_service_that_does_not_stop_in_time_is_abandoned_and_the_rest_still_stop(tmp_path: Path) -> None:
    STOPPED.clear()
    app = plain_app(tmp_path, "server: {closing_timeout_seconds: 0.5}\n")
    app.register_service(Recorded, "first")
    app.register_service(Slow, "slow")
    assert app.backend is not None
    runtime = ServiceRuntime(app, app.backend, "api")
    await runtime.start()
    started = time.monotonic()
    assert await runtime.close() == ["slow"]
    assert time.monotonic() - started < 10
    assert app.background["slow"].service.state == ServiceState.ERROR
    assert STOPPED == ["first"]


async def test_runs_on_decides_which_processes_host_a_service(tmp_path: Path) -> None:
    app = plain_app(tmp_path)
    app.register_service(Recorded, "on-api", runs_on="api")
    app.register_service(Recorded, "on-worker", runs_on="worker")
    app.register_service(Recorded, "everywhere", runs_on="all")
    app.register_service(Recorded, "leader", runs_on="one")
    assert app.backend is not None
    hosted = {role: set(ServiceRuntime(app, app.backend, role).hosted) - {"workflow-scheduler", "pruner"}  # built in
              for role in ("api", "worker", "all")}
    assert hosted["api"] == {"on-api", "everywhere", "leader"}
    assert hosted["worker"] == {"on-worker", "everywhere", "leader"}
    assert hosted["all"] == {"on-api", "on-worker", "everywhere", "leader"}


def test_a_stopped_job_service_releases_its_running_jobs_after_the_grace(tmp_path: Path) -> None:
    app = plain_app(tmp_path)

    @app.job("slow")
    async def slow(payload: dict) -> tuple[bytes, str, str]:
        await asyncio.sleep(60)
        return b"", "text/plain", "x.txt"

    with TestClient(create_api(app, embedded_worker=True)) as client:
        job_id = client.post("/jobs", json={"payload": {}}).json()["job_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/jobs/{job_id}").json()["status"] != "processing":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        stopped = client.post("/services/slow/stop", headers={"X-Forwarded-For": "127.0.0.1"})
        assert stopped.status_code == 200
        while client.get(f"/jobs/{job_id}").json()["status"] != "queued":
            assert time.monotonic() < deadline, "the running job was never released"
            time.sleep(0.05)
        job = client.get(f"/jobs/{job_id}").json()
        assert job["retry_count"] == 0  # released like at a SIGTERM: no attempt spent
        time.sleep(0.5)
        assert client.get(f"/jobs/{job_id}").json()["status"] == "queued"  # and not started again while stopped
