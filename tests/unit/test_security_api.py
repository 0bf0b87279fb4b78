"""The security controls through the in-process API (memory backend, FastAPI's TestClient)."""

from __future__ import annotations

import time
from typing import Any

import jwt
from fastapi.testclient import TestClient

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.errors import JobFailed
from praisonai_svc.job_service import JobService
from praisonai_svc.settings import Settings
from praisonai_svc.testing import run_job

SECRET = "in-process-secret-" + "y" * 48


def make_api(raise_server_exceptions: bool = True, **settings: Any) -> TestClient:
    app = ServiceApp("Unit", settings=Settings(_env_file=None, worker_poll_interval_min=0.01,  # type: ignore[call-arg]
                                               worker_poll_interval_max=0.05, **settings), backend=memory_backend())

    @app.job("echo")
    def echo(payload: dict) -> tuple[bytes, str, str]:
        return b"ok", "text/plain", "ok.txt"

    return TestClient(create_api(app, embedded_worker=True), raise_server_exceptions=raise_server_exceptions)


def bearer(**claims: Any) -> dict[str, str]:
    body = {"exp": int(time.time()) + 60, "aud": "praisonai-svc", "sub": "visitor-1", **claims}
    body = {name: value for name, value in body.items() if value is not None}
    return {"Authorization": "Bearer " + jwt.encode(body, SECRET, algorithm="HS256")}


def test_default_submit_limit_is_ten_a_minute_and_reads_are_not_affected():
    with make_api() as client:
        statuses = [client.post("/jobs", json={"payload": {"i": i}}).status_code for i in range(11)]
        assert statuses == [202] * 10 + [429]
        refused = client.post("/jobs", json={"payload": {"i": 99}})
        assert refused.json()["detail"].startswith("Rate limit reached") and int(refused.headers["retry-after"]) >= 1
        assert all(client.get("/jobs").status_code == 200 for _ in range(30))


def test_zero_turns_the_limits_off():
    with make_api(rate_limit_submit_per_minute=0, rate_limit_read_per_minute=0) as client:
        assert all(client.post("/jobs", json={"payload": {"i": i}}).status_code == 202 for i in range(25))


def test_per_key_submit_limit():
    with make_api(api_key=["k1", "k2"], rate_limit_submit_per_minute=0,
                  rate_limit_submit_per_key_per_minute=2) as client:
        k1 = [client.post("/jobs", json={"payload": {"i": i}}, headers={"X-API-Key": "k1"}).status_code
              for i in range(3)]
        assert k1 == [202, 202, 429]
        assert client.post("/jobs", json={"payload": {"i": 9}}, headers={"X-API-Key": "k2"}).status_code == 202


def test_tenants_and_tokens_in_process():
    with make_api(api_key=["op"], tenant_keys="acme:ka,globex:kg", jwt_secret=SECRET) as client:
        acme = client.post("/jobs", json={"payload": {"x": 1}}, headers={"X-API-Key": "ka"}).json()["job_id"]
        assert client.get(f"/jobs/{acme}", headers={"X-API-Key": "kg"}).status_code == 404
        assert client.get(f"/jobs/{acme}", headers=bearer(tenant="globex")).status_code == 404
        assert client.get(f"/jobs/{acme}", headers=bearer(tenant="acme")).status_code == 200
        # A token without a tenant claim sees only what tokens of its own subject submitted.
        assert client.get(f"/jobs/{acme}", headers=bearer()).status_code == 404
        mine = client.post("/jobs", json={"payload": {"x": 1}}, headers=bearer(sub="visitor-1")).json()["job_id"]
        assert mine != acme, "idempotency is scoped per subject too"
        assert client.get(f"/jobs/{mine}", headers=bearer(sub="visitor-1")).status_code == 200
        assert client.get(f"/jobs/{mine}", headers=bearer(sub="visitor-2")).status_code == 404
        assert [j["job_id"] for j in client.get("/jobs", headers=bearer(sub="visitor-2")).json()["jobs"]] == []
        assert {j["job_id"] for j in client.get("/jobs", headers={"X-API-Key": "op"}).json()["jobs"]} == {acme, mine}
        assert client.get("/jobs", headers=bearer(sub=None)).status_code == 401
        assert client.get("/jobs", headers={"X-API-Key": "kg"}).json()["jobs"] == []
        bad = client.get("/jobs", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.headers["www-authenticate"] == "ApiKey"
        missing = client.get("/jobs")
        assert missing.status_code == 401 and "Authorization: Bearer" in missing.json()["detail"]


def test_tokens_are_refused_when_no_secret_is_configured():
    with make_api(api_key=["op"]) as client:
        response = client.get("/jobs", headers=bearer())
        assert response.status_code == 401 and "X-API-Key" in response.json()["detail"]


def test_failed_auth_limit_blocks_the_address_even_for_a_valid_key():
    with make_api(api_key=["op"], rate_limit_auth_failures_per_minute=3) as client:
        statuses = [client.get("/jobs", headers={"X-API-Key": f"bad{i}"}).status_code for i in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        assert client.get("/jobs", headers={"X-API-Key": "op"}).status_code == 429
        assert client.get("/live").status_code == 200


def test_unhandled_errors_carry_an_incident_id_the_security_headers_and_no_secrets(monkeypatch):
    async def explode(self: JobService, job_id: str, **_kw: Any) -> None:
        raise RuntimeError("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0 unreachable")

    monkeypatch.setattr(JobService, "get", explode)
    with make_api(raise_server_exceptions=False, api_key=["op"]) as client:
        response = client.get("/jobs/abc", headers={"X-API-Key": "op"})
    assert response.status_code == 500
    assert "incident" in response.json()["detail"]
    assert "AccountKey" not in response.text and "Traceback" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_cors_never_allows_credentials():
    for origins in (["*"], ["https://wp.example"]):
        with make_api(cors_origins=origins) as client:
            preflight = client.options("/jobs", headers={
                "Origin": "https://wp.example", "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key,authorization,content-type"})
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] in ("*", "https://wp.example")
            assert "access-control-allow-credentials" not in preflight.headers
            simple = client.get("/jobs", headers={"Origin": "https://wp.example", "Cookie": "session=1"})
            assert "access-control-allow-credentials" not in simple.headers


def test_openapi_declares_auth_only_when_configured_and_400_not_422():
    with make_api() as client:
        open_schema = client.get("/openapi.json").json()
    assert "securitySchemes" not in open_schema.get("components", {})
    with make_api(api_key=["op"], jwt_secret=SECRET) as client:
        schema = client.get("/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"ApiKeyAuth", "BearerAuth"}
    for path, method in (("/jobs", "post"), ("/jobs", "get"), ("/jobs/{job_id}", "get"),
                         ("/jobs/{job_id}/download", "get")):
        operation = schema["paths"][path][method]
        assert operation["security"] == [{"ApiKeyAuth": []}, {"BearerAuth": []}]
        assert {"401", "429", "503"} <= set(operation["responses"]) and "422" not in operation["responses"]
        assert "x-praisonai-guarded" not in operation
    assert "security" not in schema["paths"]["/health"]["get"]
    service = next(p for p in schema["paths"]["/jobs"]["get"]["parameters"] if p["name"] == "service")
    assert service["schema"]["anyOf"][0]["enum"] == ["echo"]


def test_405_lists_every_method_of_the_path():
    with make_api() as client:
        response = client.delete("/jobs")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}


def test_error_msg_is_the_handlers_message_truncated():
    size = 50_000
    app = ServiceApp("Trunc", settings=Settings(_env_file=None))  # type: ignore[call-arg]

    @app.job
    def boom(payload: dict) -> tuple[bytes, str, str]:
        raise JobFailed("x" * size)

    outcome = run_job(app, {})
    assert outcome.status == "error" and outcome.error_msg is not None
    assert set(outcome.error_msg) == {"x"} and len(outcome.error_msg) <= 10_000
