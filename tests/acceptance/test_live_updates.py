"""Live job updates, webhooks and cancellation through the CLI-started service, on local and Azurite."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.live import Receiver, iter_sse, sse_events
from tests.support.service import Service, running_service, wait_job

pytestmark = pytest.mark.timeout(300)  # services restarted and several jobs run to the end on a shared machine
HANDLERS = Path(__file__).parent / "svc" / "live_handlers.py"
SECRET = "whsec-acceptance-0123456789abcdef"
LIVE_ENV = {
    "PRAISONAI_WEBHOOK_SECRET": SECRET,
    "PRAISONAI_FETCH_ALLOWED_HOSTS": "127.0.0.1",
    "PRAISONAI_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "PRAISONAI_WORKER_CONCURRENCY": "8",
}


@pytest.fixture
def live(backend_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    with running_service(HANDLERS, {**backend_env, **LIVE_ENV}, tmp_path / "logs", workers=1) as svc:
        yield svc


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver(SECRET, fail_first=2).start()
    yield hook
    hook.stop()


def submit(client: httpx.Client, service: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = client.post("/jobs", json={"payload": payload, "service": service, **extra})
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def test_sse_delivers_every_event_in_order_and_ends(live: Service) -> None:
    with live.client() as client:
        job = submit(client, "steps", {"delay": 0.3})
        events = sse_events(client, f"/jobs/{job['job_id']}/events")
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert [e["event"] for e in events] == ["queued", "started", *["progress"] * 10, "done"]
    assert [e["data"]["message"] for e in events if e["event"] == "progress"] == [f"step {i}" for i in range(1, 11)]
    assert events[-1]["data"]["download_url"].endswith(f"/jobs/{job['job_id']}/download")
    assert all(e["data"]["job_id"] == job["job_id"] for e in events)


def test_reconnect_with_last_event_id_misses_nothing_and_websocket_delivers_the_same(live: Service) -> None:
    with live.client() as client:
        job = submit(client, "steps", {"delay": 0.3, "n": 2})
        path = f"/jobs/{job['job_id']}/events"
        first = sse_events(client, path, limit=4)  # queued, started, two progress: then the client drops
        rest = sse_events(client, path, headers={"Last-Event-ID": str(first[-1]["id"])})
        ws_url = live.url.replace("http", "ws") + f"/jobs/{job['job_id']}/ws"
        with connect(ws_url) as ws:
            over_ws = [json.loads(message) for message in ws]
    combined = first + rest
    assert [e["id"] for e in combined] == list(range(1, 14))
    assert combined[-1]["event"] == "done"
    assert [(e["seq"], e["type"]) for e in over_ws] == [(e["id"], e["event"]) for e in combined]


def test_long_poll_returns_when_the_job_changes(live: Service) -> None:
    with live.client() as client:
        job = submit(client, "steps", {"delay": 0.3, "n": 3})
        seen = {job["status"]}
        deadline = time.monotonic() + 60
        while job["status"] != "done" and time.monotonic() < deadline:
            started = time.monotonic()
            job = client.get(f"/jobs/{job['job_id']}", params={"wait": 30}).json()
            seen.add(job["status"])
            assert time.monotonic() - started < 25  # it answered on a change, not at the end of the wait
        assert job["status"] == "done" and "processing" in seen


def test_cancel_every_kind_of_job(live: Service) -> None:
    with live.client() as client:
        running = {name: submit(client, name, {"seconds": 600}) for name in ("sleeper", "cooperative", "stubborn")}
        for job in running.values():
            wait_job(client, job["job_id"], until=("processing",))
        for name, job in running.items():
            requested = time.monotonic()
            answer = client.post(f"/jobs/{job['job_id']}/cancel")
            assert answer.status_code == 200, answer.text
            ended = wait_job(client, job["job_id"], timeout=30, until=("cancelled", "done", "error"))
            assert ended["status"] == "cancelled", (name, ended)
            assert time.monotonic() - requested < 10, name
            events = sse_events(client, f"/jobs/{job['job_id']}/events")
            assert events[-1]["event"] == "cancelled" and [e["id"] for e in events] == list(
                range(1, len(events) + 1))
        # a queued job: the only worker is busy with nothing, so stop it first to keep the job queued
        live.workers[0].terminate()
        live.workers[0].wait(timeout=30)
        queued = submit(client, "quick", {"queued": True})
        cancelled = client.post(f"/jobs/{queued['job_id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        live.start_worker()
        time.sleep(3)  # the worker receives its message and drops it unrun
        assert client.get(f"/jobs/{queued['job_id']}").json()["status"] == "cancelled"
        done = submit(client, "quick", {"after": True})
        wait_job(client, done["job_id"])
        assert client.post(f"/jobs/{done['job_id']}/cancel").status_code == 409
        stats = client.get(f"/jobs/{queued['job_id']}/events")
        assert stats.status_code == 200


def test_webhook_is_signed_retried_and_delivered_exactly_once(live: Service, receiver: Receiver) -> None:
    with live.client() as client:
        job = submit(client, "quick", {"hook": 1}, callback_url=receiver.url)
        wait_job(client, job["job_id"])
        deadline = time.monotonic() + 60
        while not receiver.successes() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # anything else that would (wrongly) come
        attempts = client.get(f"/jobs/{job['job_id']}/webhooks").json()
    assert all(r["valid"] for r in receiver.received)
    assert [r["answer"] for r in receiver.received] == [500, 500, 200]
    assert len({r["delivery"] for r in receiver.received}) == 1  # one idempotency id over the retries
    assert receiver.successes()[0]["job"]["status"] == "done" and receiver.received[0]["event"] == "done"
    [delivery] = attempts["deliveries"]
    assert delivery["state"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]


def test_restarting_worker_and_api_midway_loses_no_webhook(live: Service, tmp_path: Path) -> None:
    hook = Receiver(SECRET, fail_first=3).start()
    try:
        with live.client() as client:
            jobs = [submit(client, "quick", {"restart": i}, callback_url=hook.url) for i in range(5)]
            for job in jobs:
                wait_job(client, job["job_id"])
        deadline = time.monotonic() + 30
        while not hook.received and time.monotonic() < deadline:
            time.sleep(0.05)
        live.workers[0].kill()  # mid-way: some deliveries failed, none succeeded yet
        live.workers[0].wait()
        assert live.api is not None
        live.api.terminate()
        live.api.wait(timeout=30)
        live.start_api()
        live.start_worker()
        deadline = time.monotonic() + 90
        while len({r["job"]["job_id"] for r in hook.successes()}) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
    finally:
        hook.stop()
    # At least once: a delivery whose success was not yet recorded when its worker died is sent again, with
    # the same idempotency id, which is what receivers deduplicate on.
    successes = hook.successes()
    assert {r["job"]["job_id"] for r in successes} == {job["job_id"] for job in jobs}, live.logs()[-3000:]
    ids_per_job: dict[str, set[str]] = {}
    for r in successes:
        ids_per_job.setdefault(r["job"]["job_id"], set()).add(r["delivery"])
    assert all(len(ids) == 1 for ids in ids_per_job.values())


def test_stream_of_another_tenant_is_404_and_tickets_are_single_use(backend_env: dict[str, str],
                                                                    tmp_path: Path) -> None:
    env = {**backend_env, **LIVE_ENV, "PRAISONAI_TENANT_KEYS": "acme:key-acme-1234567890,globex:key-globex-12345678"}
    with running_service(HANDLERS, env, tmp_path / "logs") as svc, svc.client() as client:
        acme = {"X-API-Key": "key-acme-1234567890"}
        globex = {"X-API-Key": "key-globex-12345678"}
        job = client.post("/jobs", json={"payload": {"t": 1}, "service": "quick"}, headers=acme).json()
        for path in ("events", "webhooks", "ws-ticket", "cancel"):
            method = "POST" if path in ("ws-ticket", "cancel") else "GET"
            assert client.request(method, f"/jobs/{job['job_id']}/{path}", headers=globex).status_code == 404
            assert client.request(method, f"/jobs/{job['job_id']}/{path}").status_code == 401
        assert client.get(f"/jobs/{job['job_id']}", params={"wait": 1}, headers=globex).status_code == 404
        ticket = client.post(f"/jobs/{job['job_id']}/ws-ticket", headers=acme).json()["ticket"]
        ws_url = svc.url.replace("http", "ws") + f"/jobs/{job['job_id']}/ws?ticket={ticket}"
        with connect(ws_url) as ws:
            assert json.loads(ws.recv())["type"] == "queued"
        with connect(ws_url) as ws, pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401  # a replayed ticket
        events = list(iter_sse(client, f"/jobs/{job['job_id']}/events", headers=acme))
        assert events[-1]["event"] == "done"


def test_cli_submit_wait_follows_the_stream_and_jobs_cancel(live: Service, tmp_path: Path) -> None:
    from tests.support.service import CLI, clean_env

    request = tmp_path / "steps.json"
    request.write_text(json.dumps({"payload": {"delay": 0.3, "cli": 1}, "service": "steps"}))
    env = clean_env({"PRAISONAI_URL": live.url, "TTY_COMPATIBLE": "1", "COLUMNS": "160"})
    waited = subprocess.run([*CLI, "submit", str(request), "--wait", "-o", str(tmp_path / "out.txt")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert waited.returncode == 0, waited.stderr
    assert (tmp_path / "out.txt").read_bytes() == b"ten steps"
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", waited.stderr)
    assert re.search(r"processing .*step \d", shown), shown  # the bar showed the handler's messages
    with live.client() as client:
        job = submit(client, "sleeper", {"seconds": 600, "cli": 1})
        wait_job(client, job["job_id"], until=("processing",))
    cancelled = subprocess.run([*CLI, "jobs", "cancel", job["job_id"]], env=env, capture_output=True, text=True,
                               timeout=60)
    assert cancelled.returncode == 0, cancelled.stderr
    with live.client() as client:
        assert wait_job(client, job["job_id"], until=("cancelled", "done", "error"))["status"] == "cancelled"


def test_streams_and_long_polls_of_a_job_that_never_runs_are_cut_short_and_resume(
        backend_env: dict[str, str], tmp_path: Path) -> None:
    """A job whose service is stopped never ends: its SSE stream, WebSocket and long-poll end at their limits
    (PRAISONAI_EVENTS_STREAM_MAX_SECONDS, PRAISONAI_LONG_POLL_MAX_SECONDS) instead of holding forever, and a
    client that reconnects after the service is started again receives the rest."""
    env = {**backend_env, **LIVE_ENV, "PRAISONAI_EVENTS_STREAM_MAX_SECONDS": "1",
           "PRAISONAI_LONG_POLL_MAX_SECONDS": "1"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=1) as svc, svc.client() as client:
        assert client.post("/services/steps/stop").status_code == 200
        job = submit(client, "steps", {"delay": 0.01, "n": 1})
        path = f"/jobs/{job['job_id']}/events"
        first = sse_events(client, path, timeout=30)  # ends on its own, with no terminal event
        assert [e["event"] for e in first] == ["queued"]
        polled = client.get(f"/jobs/{job['job_id']}", params={"wait": 30}, timeout=30)
        assert polled.status_code == 200 and polled.json()["status"] == "queued"
        with connect(svc.url.replace("http", "ws") + f"/jobs/{job['job_id']}/ws", open_timeout=30) as ws:
            assert [t for m in ws if (t := json.loads(m)["type"]) != "ping"] == ["queued"]
        assert client.post("/services/steps/start").status_code == 200
        rest = sse_events(client, path, headers={"Last-Event-ID": "1"}, timeout=30)
        while not rest or rest[-1]["event"] != "done":  # the stream may end at its limit before the job does
            rest += sse_events(client, path, headers={"Last-Event-ID": str(rest[-1]["id"] if rest else 1)},
                               timeout=30)
    assert [e["id"] for e in first + rest] == list(range(1, len(rest) + 2))
    kinds = [e["event"] for e in rest]  # progress events close together may be coalesced
    assert kinds[0] == "started" and kinds[-1] == "done" and set(kinds[1:-1]) <= {"progress"}, kinds
