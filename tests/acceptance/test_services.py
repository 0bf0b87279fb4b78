"""Services across real processes (the CLI as subprocesses), on the local backend and on Azurite.

* ``run --workers 2``: stop a job service → its jobs stay queued while another service's jobs finish → start →
  they finish; a service whose start() raises is ERROR and the others run; ``enabled: false`` → 503; changes
  without the admin key → 401.
* API + 2 workers: a ``runs_on="one"`` service runs in exactly one process; ``kill -9`` it → exactly one again
  within the lease; never two at once; changes from a non-loopback client without an admin key → 403.
* API + 1 worker backed off: a submit is taken by its hint (Azure; on local the queue's signal file wakes the
  worker first), and a message sent without a hint by the safety poll.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.service import CLI, Service, clean_env, wait_http, wait_job

IDLE_LINE = "worker idle: queues are polled by their hints from now on"

HANDLERS = Path(__file__).parent / "svc_services" / "handlers.py"
ADMIN = {"X-Admin-Key": "acceptance-admin-key"}
LEASE_SECONDS = 5


def poll(check: Any, timeout: float, message: str) -> Any:
    """``check()`` until it returns something truthy, or fail with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.fixture
def run_workers_2(backend_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    """``praisonai-svc run --workers 2`` (one API process with two worker children), admin key configured."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (tmp_path / "ticks").mkdir()
    env = clean_env({**backend_env, "PRAISONAI_ADMIN_KEY": ADMIN["X-Admin-Key"], "TICK_DIR": str(tmp_path / "ticks")})
    service = Service(str(HANDLERS), env, logs)
    service.api = service._spawn([*CLI, "run", str(HANDLERS), "--port", str(service.port), "--workers", "2"], "run")
    try:
        wait_http(service.url + "/live", service.api, timeout=60)
        yield service
    finally:
        service.stop()


def services_cli(service: Service, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``praisonai-svc services ARGS --url <the service>``."""
    return subprocess.run([*CLI, "services", *args, "--url", service.url], env=env or service.env,
                          capture_output=True, text=True, timeout=60, check=False)


def describe(client: httpx.Client, name: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/services/{name}").json()
    return body


def test_stopped_job_service_queues_until_started(run_workers_2: Service) -> None:
    with run_workers_2.client() as client:
        workers_report = poll(lambda: len([i for i in describe(client, "work")["instances"]
                                           if i["role"] == "worker"]) == 2, 60, "two workers never reported")
        assert workers_report
        broken = describe(client, "broken")
        assert broken["state"] == "error" and broken["error"] == "RuntimeError: cannot reach the printer"
        assert describe(client, "other")["state"] == "running"
        refused = client.post("/jobs?service=video", json={"payload": {}})
        assert refused.status_code == 503 and "enabled: false" in refused.json()["detail"]

        assert client.post("/services/work/stop").status_code == 401
        assert client.post("/services/work/stop", headers={"X-Admin-Key": "wrong"}).status_code == 401
        without_key = {k: v for k, v in run_workers_2.env.items() if k != "PRAISONAI_ADMIN_KEY"}
        refused = services_cli(run_workers_2, "stop", "work", env=without_key)
        assert refused.returncode != 0 and "HTTP 401" in refused.stderr
        stopped = services_cli(run_workers_2, "stop", "work")  # PRAISONAI_ADMIN_KEY from the environment
        assert stopped.returncode == 0 and "work: stopped" in stopped.stdout, stopped.stderr
        listed = services_cli(run_workers_2, "list")
        assert listed.returncode == 0 and "ticker" in listed.stdout and "broken" in listed.stdout, listed.stderr
        poll(lambda: all(i["state"] == "stopped" for i in describe(client, "work")["instances"]
                         if i["role"] == "worker"), 30, "workers never reported work stopped")

        queued = [client.post("/jobs?service=work", json={"payload": {"n": n}}).json()["job_id"] for n in range(4)]
        others = [client.post("/jobs?service=other", json={"payload": {"n": n}}).json()["job_id"] for n in range(4)]
        for job_id in others:
            assert wait_job(client, job_id, timeout=60)["status"] == "done"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # ten seconds: still queued, nothing started
            assert {client.get(f"/jobs/{j}").json()["status"] for j in queued} == {"queued"}
            time.sleep(0.5)
        assert describe(client, "work")["queue_depth"] == 4

        assert client.post("/services/work/start", headers=ADMIN).json() == {"status": "started", "service": "work"}
        for job_id in queued:
            assert wait_job(client, job_id, timeout=90)["status"] == "done"
        assert "service change" in run_workers_2.logs() and "admin key from 127.0.0.1" in run_workers_2.logs()


@pytest.fixture
def three_processes(backend_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Service, Path]]:
    """One API and two worker processes (separately, so any of them can be killed), no admin key."""
    logs, ticks = tmp_path / "logs", tmp_path / "ticks"
    logs.mkdir()
    ticks.mkdir()
    env = clean_env({**backend_env, "TICK_DIR": str(ticks), "TEST_LEASE_SECONDS": str(LEASE_SECONDS),
                     "PRAISONAI_TRUSTED_PROXY_HOPS": "1"})
    service = Service(str(HANDLERS), env, logs)
    try:
        service.start_api()
        service.start_worker()
        service.start_worker()
        yield service, ticks
    finally:
        service.stop()


def running_ticker_pids(client: httpx.Client, exclude: int | None = None) -> list[int]:
    return [i["pid"] for i in describe(client, "ticker")["instances"]
            if i["state"] == "running" and i["pid"] != exclude]


def tick_spans(ticks: Path) -> dict[int, tuple[float, float]]:
    spans = {}
    for path in ticks.iterdir():
        times = [float(line) for line in path.read_text().split()]
        if times:
            spans[int(path.name)] = (min(times), max(times))
    return spans


def test_one_leader_at_a_time_and_failover_after_kill_9(three_processes: tuple[Service, Path]) -> None:
    service, ticks = three_processes
    with service.client() as client:
        poll(lambda: len(describe(client, "ticker")["instances"]) == 3, 60, "three processes never reported")
        leader = poll(lambda: running_ticker_pids(client), 60, "no process ever ran the ticker")
        assert len(leader) == 1
        for _ in range(10):  # steady state: never two (a late heartbeat on a loaded machine may show none)
            assert len(running_ticker_pids(client)) <= 1
            time.sleep(0.2)
        [pid] = leader

        remote = client.post("/services/ticker/stop", headers={"X-Forwarded-For": "203.0.113.7"})
        assert remote.status_code == 403

    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    if service.api is not None and service.api.pid == pid:  # the API led: start another one to watch
        service.api.wait()
        service.start_api()
    with service.client() as client:
        successor = poll(lambda: running_ticker_pids(client, exclude=pid), LEASE_SECONDS + 30,
                         "no other process took the ticker over")
        assert len(successor) == 1 and successor[0] != pid
    spans = tick_spans(ticks)
    assert spans[pid][1] <= killed_at + 0.5  # the killed leader ticked no more
    assert spans[successor[0]][0] >= spans[pid][1]  # the successor began after: never two at once
    others = [p for p in spans if p not in (pid, successor[0])]
    assert others == [], f"processes {others} ran the ticker too"


def test_worker_exit_code_is_zero_after_a_clean_stop(three_processes: tuple[Service, Path]) -> None:
    service, _ticks = three_processes
    with service.client() as client:
        poll(lambda: len(describe(client, "ticker")["instances"]) == 3, 60, "three processes never reported")
    worker = service.workers[0]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    with service.client() as client:
        poll(lambda: len(describe(client, "ticker")["instances"]) == 2, 30,
             "a cleanly stopped worker's heartbeat record was not removed")


def test_config_errors_stop_the_start_with_file_and_line(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "handlers.py").write_text(HANDLERS.read_text())
    (app_dir / "praisonai.yaml").write_text("services:\n  ticker: {tick_dir: \"${NOT_SET_ANYWHERE}\"}\n")
    env = clean_env({"PRAISONAI_DATA_DIR": str(tmp_path / "data")})
    result = subprocess.run([*CLI, "worker", str(app_dir / "handlers.py")], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "NOT_SET_ANYWHERE" in result.stderr and "praisonai.yaml:2" in result.stderr


@pytest.fixture
def api_and_idle_worker(backend_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    """An API and one worker that backs off within seconds (poll delay at most 2 s) and logs why it polls."""
    logs, ticks = tmp_path / "logs", tmp_path / "ticks"
    logs.mkdir()
    ticks.mkdir()
    env = clean_env({**backend_env, "TICK_DIR": str(ticks), "PRAISONAI_WORKER_POLL_INTERVAL_MAX": "2",
                     "PRAISONAI_WORKER_SAFETY_POLL_SECONDS": "3", "PRAISONAI_LOG_LEVEL": "DEBUG"})
    service = Service(str(HANDLERS), env, logs)
    try:
        service.start_api()
        service.start_worker()
        yield service
    finally:
        service.stop()


def submit_without_hint(env: dict[str, str], payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """Submit a ``work`` job from this process like an old sender would: stored and queued, no doorbell rung."""
    import asyncio

    from praisonai_svc.backend import open_backend
    from praisonai_svc.job_service import JobService
    from praisonai_svc.loader import load_app
    from praisonai_svc.models.job import JobRequest
    from praisonai_svc.settings import Settings

    monkeypatch.setenv("TICK_DIR", env["TICK_DIR"])  # praisonai.yaml beside the handlers needs it

    async def submit() -> str:
        overrides = {k[len("PRAISONAI_"):].lower(): v for k, v in env.items()
                     if k.startswith("PRAISONAI_") and k != "PRAISONAI_LOG_LEVEL"}
        settings = Settings(_env_file=None, **overrides)  # type: ignore[call-arg]
        app = load_app(str(HANDLERS))
        app.settings = settings
        backend = await open_backend(settings)
        backend.hints.ring = lambda queue: None  # type: ignore[method-assign]
        try:
            submission = await JobService(app, backend).submit(JobRequest(payload=payload, service="work"))
            return submission.job.job_id
        finally:
            await backend.close()

    return asyncio.run(submit())


def test_an_idle_worker_takes_a_job_by_its_hint_and_an_unhinted_one_by_the_safety_poll(
        api_and_idle_worker: Service, backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    service = api_and_idle_worker
    on_azure = "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING" in backend_env
    with service.client() as client:
        poll(lambda: IDLE_LINE in service.logs(), 60, "the worker never backed off")
        job_id = client.post("/jobs?service=work", json={"payload": {"n": "hinted"}}).json()["job_id"]
        assert wait_job(client, job_id, timeout=60)["status"] == "done"
        reasons = ['"work": "hint"'] + ([] if on_azure else ['"work": "woken"'])  # local: the signal file
        assert any(reason in service.logs() for reason in reasons), service.logs()[-3000:]

        poll(lambda: service.logs().count(IDLE_LINE) >= 2, 60, "the worker never backed off again")
        unhinted = submit_without_hint(service.env, {"n": "unhinted"}, monkeypatch)
        assert wait_job(client, unhinted, timeout=60)["status"] == "done"
        if on_azure:  # nothing but the safety poll can have found it (on local, the signal file wakes the worker)
            assert '"work": "safety"' in service.logs(), service.logs()[-3000:]
