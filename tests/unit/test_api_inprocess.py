"""The HTTP API in-process on the memory backend (FastAPI's TestClient runs the lifespan and embedded worker)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.settings import Settings


class Deck(BaseModel):
    title: str = Field(min_length=1)
    slides: int = Field(ge=1, le=50)


def make_app(**settings: Any) -> ServiceApp:
    app = ServiceApp("Unit", settings=Settings(worker_poll_interval_min=0.01, worker_poll_interval_max=0.05,
                                               **settings), backend=memory_backend())

    @app.job("deck")
    def deck(payload: Deck) -> tuple[bytes, str, str]:
        return (payload.title * payload.slides).encode(), "text/plain", "deck.txt"

    return app


@pytest.fixture
def client():
    with TestClient(create_api(make_app(), embedded_worker=True)) as test_client:
        yield test_client


def wait_done(client: TestClient, job_id: str) -> dict[str, Any]:
    for _ in range(500):
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("done", "error"):
            return job
        time.sleep(0.01)
    raise AssertionError("job never finished")


def test_model_payload_is_validated_before_queueing(client):
    bad = client.post("/jobs", json={"payload": {"title": "", "slides": 0}})
    assert bad.status_code == 400
    assert "payload.title" in bad.json()["detail"] and "payload.slides" in bad.json()["detail"]
    assert client.get("/jobs").json()["jobs"] == []
    good = client.post("/jobs", json={"payload": {"title": "ab", "slides": 2}})
    assert good.status_code == 202
    assert wait_done(client, good.json()["job_id"])["status"] == "done"


def test_openapi_publishes_the_payload_model(client):
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "Deck" in components
    submission = components["JobSubmission"]
    assert any(option.get("$ref") == "#/components/schemas/Deck" for option in submission["properties"]["payload"]
               ["anyOf"])
    body = schema["paths"]["/jobs"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/yaml"} <= set(body)


def test_cors_preflight_allows_the_configured_origin():
    app = make_app(cors_origins=["https://wp.example"])
    with TestClient(create_api(app)) as client:
        preflight = client.options("/jobs", headers={
            "Origin": "https://wp.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://wp.example"
        assert "access-control-allow-credentials" not in preflight.headers
        other = client.options("/jobs", headers={"Origin": "https://evil.example",
                                                 "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in other.headers


def test_api_keys_with_rotation():
    with TestClient(create_api(make_app(api_key=["old", "new"]))) as client:
        assert client.get("/jobs").status_code == 401
        assert client.get("/jobs", headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/jobs", headers={"X-API-Key": "old"}).status_code == 200
        assert client.get("/jobs", headers={"X-API-Key": "new"}).status_code == 200
        assert client.get("/health").status_code == 200 and client.get("/ready").status_code == 200


def test_errors_never_leak_tracebacks(client):
    response = client.post("/jobs", content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()) == {"detail"} and "Traceback" not in response.text
