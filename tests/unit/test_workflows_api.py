"""Workflows in-process: the API and an embedded worker on the memory backend, executions end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.errors import JobFailed
from praisonai_svc.settings import Settings

CALLS: dict[str, int] = {}


def make_app(**settings: Any) -> ServiceApp:
    app = ServiceApp("Unit", settings=Settings(worker_poll_interval_min=0.01, worker_poll_interval_max=0.05,
                                               workflow_retry_backoff_seconds=0.05, **settings),
                     backend=memory_backend())

    @app.job("upper")
    def upper(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        CALLS["upper"] = CALLS.get("upper", 0) + 1
        return str(payload["text"]).upper().encode(), "text/plain", "upper.txt"

    @app.job("flaky", max_attempts=1)
    def flaky(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        CALLS["flaky"] = CALLS.get("flaky", 0) + 1
        if CALLS["flaky"] < int(payload["succeed_on"]):
            raise JobFailed("not yet")
        return b"ok", "text/plain", "ok.txt"

    @app.job("slow")
    def slow(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        time.sleep(float(payload["seconds"]))
        return b"slow", "text/plain", "slow.txt"

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    CALLS.clear()
    with TestClient(create_api(make_app(), embedded_worker=True)) as test_client:
        yield test_client


def wait_finished(client: TestClient, execution_id: str, timeout: float = 20.0, **headers: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/executions/{execution_id}", headers=headers).json()
        if body["status"] in ("completed", "failed", "cancelled", "timeout"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"execution never finished: {body}")


def create(client: TestClient, definition: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post("/workflows", json=definition, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def trigger(client: TestClient, workflow_id: str, data: dict[str, Any] | None = None, **headers: str) -> dict[
        str, Any]:
    response = client.post(f"/workflows/{workflow_id}/trigger", json={"trigger_data": data or {}}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def test_create_read_list_update_delete(client: TestClient) -> None:
    created = create(client, {"name": "First", "cron_expression": "0 9 * * 1-5",
                              "config": {"steps": [{"action": "log", "message": "hi"}]}})
    assert created["status"] == "active" and created["cron_expression"] == "0 9 * * 1-5"
    assert created["execution_stats"] == {"total": 0, "successful": 0, "failed": 0}
    assert client.get(f"/workflows/{created['id']}").json()["name"] == "First"
    page = client.get("/workflows?skip=0&limit=10").json()
    assert page["total"] == 1 and page["skip"] == 0 and page["limit"] == 10
    updated = client.put(f"/workflows/{created['id']}", json={"status": "paused", "description": "d"}).json()
    assert updated["status"] == "paused" and updated["description"] == "d" and updated["steps"] == created["steps"]
    assert client.get("/workflows?status=paused").json()["total"] == 1
    assert client.get("/workflows?status=active").json()["total"] == 0
    assert client.delete(f"/workflows/{created['id']}").json()["status"] == "deleted"
    assert client.get(f"/workflows/{created['id']}").status_code == 404
    assert client.get("/workflows").json()["total"] == 0


def test_invalid_definitions_name_the_step(client: TestClient) -> None:
    response = client.post("/workflows", json={"name": "x", "steps": [{"id": "a", "type": "job"}]})
    assert response.status_code == 400
    assert "steps[0] (a).service: Field required" in response.json()["detail"]
    yaml_body = "name: From YAML\nsteps:\n  - id: hello\n    type: log\n    message: hi\n"
    made = client.post("/workflows", content=yaml_body, headers={"Content-Type": "application/yaml"})
    assert made.status_code == 201 and made.json()["steps"][0]["id"] == "hello"


def test_a_job_step_chains_into_templates_and_a_condition(client: TestClient) -> None:
    workflow = create(client, {"name": "Chain", "steps": [
        {"id": "up", "type": "job", "service": "upper", "payload": {"text": "{{ trigger.word }}"}},
        {"id": "check", "type": "condition", "left": "{{ steps.up.content }}", "operator": "equals",
         "right": "HELLO", "on_true": "continue", "on_false": "stop"},
        {"id": "say", "type": "log", "message": "got {{ steps.up.content }} from job {{ steps.up.job_id }}"},
    ]})
    execution = trigger(client, workflow["id"], {"word": "hello"})
    assert execution["status"] == "pending" and execution["trigger_type"] == "manual"
    done = wait_finished(client, execution["id"])
    assert done["status"] == "completed", done
    steps = {step["id"]: step for step in done["steps"]}
    assert steps["up"]["result"]["content"] == "HELLO" and steps["up"]["result"]["download_url"]
    assert steps["check"]["result"]["result"] is True
    assert steps["say"]["result"]["message"].startswith("got HELLO from job ")
    assert any(entry["message"].startswith("got HELLO") for entry in done["log"])
    assert done["execution_time_ms"] is not None
    stats = client.get(f"/workflows/{workflow['id']}").json()
    assert stats["execution_stats"] == {"total": 1, "successful": 1, "failed": 0}
    assert stats["last_execution_at"] is not None
    listed = client.get(f"/workflows/{workflow['id']}/executions").json()
    assert listed["total"] == 1 and listed["executions"][0]["id"] == execution["id"]
    assert client.get("/executions?status=completed").json()["total"] == 1


def test_condition_stop_and_goto(client: TestClient) -> None:
    workflow = create(client, {"name": "Loop", "steps": [
        {"id": "one", "type": "log", "message": "loop"},
        {"id": "again", "type": "condition", "left": "{{ execution.id }}", "operator": "equals", "right": "never",
         "on_true": "goto:one", "on_false": "stop"},
        {"id": "unreached", "type": "log", "message": "no"},
    ]})
    done = wait_finished(client, trigger(client, workflow["id"])["id"])
    steps = {step["id"]: step for step in done["steps"]}
    assert done["status"] == "completed" and steps["unreached"]["status"] == "pending"


def test_a_template_error_fails_the_step_clearly(client: TestClient) -> None:
    workflow = create(client, {"name": "Bad", "steps": [
        {"id": "a", "type": "log", "message": "{{ steps.nothing.value }}"}]})
    done = wait_finished(client, trigger(client, workflow["id"])["id"])
    assert done["status"] == "failed"
    assert "step a failed: steps.a.message: template" in done["error_message"]
    assert "'dict object' has no attribute 'nothing'" in done["error_message"]
    assert done["retry_count"] == 0  # a template error is not retried


def test_retries_with_backoff_then_success_and_then_failure(client: TestClient) -> None:
    ok = create(client, {"name": "Retry", "max_retries": 3, "steps": [
        {"id": "f", "type": "job", "service": "flaky", "payload": {"succeed_on": 3}}]})
    done = wait_finished(client, trigger(client, ok["id"])["id"])
    assert done["status"] == "completed" and done["retry_count"] == 2 and done["steps"][0]["attempt"] == 3
    CALLS.clear()
    failing = create(client, {"name": "Retry out", "max_retries": 1, "steps": [
        {"id": "f", "type": "job", "service": "flaky", "payload": {"succeed_on": 99}}]})
    done = wait_finished(client, trigger(client, failing["id"])["id"])
    assert done["status"] == "failed" and done["retry_count"] == 1 and "not yet" in done["error_message"]
    assert CALLS["flaky"] == 2


def test_continue_on_error(client: TestClient) -> None:
    workflow = create(client, {"name": "Tolerant", "max_retries": 0, "steps": [
        {"id": "f", "type": "job", "service": "flaky", "payload": {"succeed_on": 99}, "continue_on_error": True},
        {"id": "after", "type": "log", "message": "still here"}]})
    done = wait_finished(client, trigger(client, workflow["id"])["id"])
    assert done["status"] == "completed"
    assert [step["status"] for step in done["steps"]] == ["failed", "completed"]


def test_timeout_over_the_whole_execution(client: TestClient) -> None:
    workflow = create(client, {"name": "Slow", "timeout_seconds": 1, "steps": [
        {"id": "wait", "type": "delay", "seconds": 30}, {"id": "never", "type": "log", "message": "no"}]})
    started = time.monotonic()
    done = wait_finished(client, trigger(client, workflow["id"])["id"])
    assert done["status"] == "timeout" and "timeout of 1 s" in done["error_message"]
    assert time.monotonic() - started < 15
    assert client.get(f"/workflows/{workflow['id']}").json()["execution_stats"]["failed"] == 1


def test_cancel_a_waiting_execution_and_a_finished_one(client: TestClient) -> None:
    workflow = create(client, {"name": "Cancel", "steps": [
        {"id": "wait", "type": "delay", "seconds": 60}, {"id": "never", "type": "log", "message": "no"}]})
    execution = trigger(client, workflow["id"])
    for _ in range(200):
        if client.get(f"/executions/{execution['id']}").json()["steps"][0]["status"] == "waiting":
            break
        time.sleep(0.02)
    cancelled = client.post(f"/executions/{execution['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    done = wait_finished(client, execution["id"])
    assert done["status"] == "cancelled" and done["steps"][1]["status"] == "pending"
    assert client.post(f"/executions/{execution['id']}/cancel").status_code == 409


def test_delete_cancels_running_executions(client: TestClient) -> None:
    workflow = create(client, {"name": "Gone", "steps": [{"id": "wait", "type": "delay", "seconds": 60}]})
    execution = trigger(client, workflow["id"])
    client.delete(f"/workflows/{workflow['id']}")
    assert wait_finished(client, execution["id"])["status"] == "cancelled"


def test_trigger_gives_409_when_inactive_paused_or_disabled(client: TestClient) -> None:
    workflow = create(client, {"name": "Off", "steps": [{"id": "a", "type": "log", "message": "m"}]})
    for patch, words in (({"status": "inactive"}, "inactive"), ({"status": "paused"}, "paused"),
                         ({"status": "active", "is_enabled": False}, "disabled")):
        client.put(f"/workflows/{workflow['id']}", json=patch)
        response = client.post(f"/workflows/{workflow['id']}/trigger", json={})
        assert response.status_code == 409 and words in response.json()["detail"]
    assert client.post("/workflows/nope/trigger", json={}).status_code == 404


def test_validate_cron(client: TestClient) -> None:
    good = client.post("/workflows/validate-cron", json={"expression": "30 1 * * *",
                                                          "timezone": "Europe/London"}).json()
    assert good["is_valid"] is True and len(good["next_runs"]) == 5 and good["error"] is None
    bad = client.post("/workflows/validate-cron", json={"expression": "30 1 * *"}).json()
    assert bad == {"is_valid": False, "error": bad["error"], "next_runs": []} and "5 fields" in bad["error"]


def test_http_step_to_a_private_address_is_refused_by_the_safe_fetcher(client: TestClient) -> None:
    workflow = create(client, {"name": "Hook", "steps": [
        {"id": "tell", "type": "http", "url": "http://10.1.2.3/x", "secret": "s3cret"}]})
    assert workflow["steps"][0]["secret"] == "********"  # secrets never leave
    done = wait_finished(client, trigger(client, workflow["id"])["id"])
    assert done["status"] == "failed" and "only public addresses are fetched" in done["error_message"]
    assert done["retry_count"] == 0 and done["steps"][0]["attempt"] == 1  # a refusal is not retried


def test_tenants_see_only_their_own() -> None:
    app = make_app(tenant_keys="acme:ka,globex:kg")
    with TestClient(create_api(app, embedded_worker=True)) as client:
        acme, globex = {"X-API-Key": "ka"}, {"X-API-Key": "kg"}
        workflow = create(client, {"name": "Acme's", "steps": [{"id": "a", "type": "log", "message": "m"}]}, **acme)
        execution = trigger(client, workflow["id"], **acme)
        assert wait_finished(client, execution["id"], **acme)["status"] == "completed"
        for method, path in (("GET", f"/workflows/{workflow['id']}"), ("PUT", f"/workflows/{workflow['id']}"),
                             ("DELETE", f"/workflows/{workflow['id']}"),
                             ("POST", f"/workflows/{workflow['id']}/trigger"),
                             ("GET", f"/workflows/{workflow['id']}/executions"),
                             ("GET", f"/executions/{execution['id']}"),
                             ("POST", f"/executions/{execution['id']}/cancel")):
            response = client.request(method, path, headers=globex, json={})
            assert response.status_code == 404, (method, path, response.text)
        assert client.get("/workflows", headers=globex).json()["total"] == 0
        assert client.get("/executions", headers=globex).json()["total"] == 0
        assert client.get("/executions", headers=acme).json()["total"] == 1
        assert client.get("/workflows").status_code == 401


def test_health_shows_the_scheduler_and_ready_fails_without_a_leader() -> None:
    from praisonai_svc.cluster import KIND
    from praisonai_svc.services.leader import ALL_LEADER_SERVICES, lease_id

    app = make_app()
    with TestClient(create_api(app, embedded_worker=True)) as client:
        for _ in range(300):  # the embedded worker's runtime takes the lease and starts the scheduler
            client.app.state.scheduler_info = None  # type: ignore[attr-defined]
            scheduler = client.get("/health").json()["scheduler"]
            if scheduler["state"] == "ok" and scheduler.get("last_tick"):
                break
            time.sleep(0.02)
        assert scheduler["state"] == "ok" and scheduler["leader"] and scheduler["last_tick"]
        assert client.get("/ready").json()["checks"]["scheduler"] == "ok"
        assert app.backend is not None
        lease = client.portal.call(app.backend.records.get, KIND, lease_id(ALL_LEADER_SERVICES))  # type: ignore[union-attr]
        gone = lease.evolve(body={"holder": "gone", "expires_at": time.time() - 61}, etag=None)
        client.portal.call(app.backend.records.replace, gone)  # type: ignore[union-attr]  # its holder died long ago
        client.app.state.scheduler_info = None  # type: ignore[attr-defined]
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["scheduler"] == "leaderless"


class RecordingHttp:
    """Stands in for the safe fetcher (not in this build): answers with the next status and records requests."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[dict[str, Any]] = []

    async def request(self, method: str, url: str, *, headers: dict[str, str], content: bytes | None,
                      timeout: float, max_bytes: int) -> Any:
        from praisonai_svc.workflows.gateways import HttpReply

        self.requests.append({"method": method, "url": url, "headers": headers, "content": content})
        status = self.statuses.pop(0) if self.statuses else 200
        return HttpReply(status, b'{"ok": true}', "application/json")


def test_http_step_signs_its_body_and_retries_server_errors() -> None:
    from praisonai_svc.webhooks.signing import verify
    from praisonai_svc.workflows.gateways import Gateways

    app = make_app()
    http = RecordingHttp([503, 200, 400])
    app._workflow_gateways = Gateways(http=http)  # type: ignore[attr-defined]
    with TestClient(create_api(app, embedded_worker=True)) as client:
        workflow = create(client, {"name": "Hook", "max_retries": 2, "steps": [
            {"id": "up", "type": "job", "service": "upper", "payload": {"text": "deck"}},
            {"id": "tell", "type": "http", "url": "https://hooks.example/x", "secret": "{{ trigger.key }}",
             "body": {"url": "{{ steps.up.download_url }}", "text": "{{ steps.up.content }}"}}]})
        done = wait_finished(client, trigger(client, workflow["id"], {"key": "s3cret"})["id"])
        assert done["status"] == "completed" and done["steps"][1]["attempt"] == 2, done
        assert done["steps"][1]["result"] == {"status_code": 200, "content_type": "application/json",
                                              "body": {"ok": True}}
        first, second = http.requests
        assert first["content"] == second["content"] and b'"text":"DECK"' in second["content"]
        assert verify("s3cret", second["headers"]["X-PraisonAI-Signature"], second["content"])
        assert not verify("other", second["headers"]["X-PraisonAI-Signature"], second["content"])
        assert second["headers"]["X-PraisonAI-Delivery"] == f"{done['id']}:tell"
        refused = wait_finished(client, trigger(client, workflow["id"], {"key": "k"})["id"])
        assert refused["status"] == "failed" and "answered HTTP 400" in refused["error_message"]
        assert refused["retry_count"] == 0  # a 4xx is not retried


def test_cancelling_an_execution_cancels_its_child_job(client: TestClient) -> None:
    workflow = create(client, {"name": "Slow child", "steps": [
        {"id": "nap", "type": "job", "service": "slow", "payload": {"seconds": 3}},
        {"id": "never", "type": "log", "message": "no"}]})
    execution = trigger(client, workflow["id"])
    deadline = time.monotonic() + 20
    while not client.get(f"/executions/{execution['id']}").json()["steps"][0]["job_id"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert client.post(f"/executions/{execution['id']}/cancel").status_code == 200
    done = wait_finished(client, execution["id"])
    assert done["status"] == "cancelled" and done["steps"][1]["status"] == "pending"
    child = done["steps"][0]["job_id"]
    while client.get(f"/jobs/{child}").json()["status"] not in ("cancelled", "done", "error"):
        assert time.monotonic() < deadline + 20
        time.sleep(0.05)
    assert client.get(f"/jobs/{child}").json()["status"] == "cancelled"
