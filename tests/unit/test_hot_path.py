"""The lean POST /jobs path keeps every behaviour: the edge middleware (security headers, CORS, metrics), the
DirectRoute contract, the guard, idempotent hits without reference cycles, and the GC tuning of the lifespan."""

from __future__ import annotations

import asyncio
import gc
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request, Response
from fastapi.params import Depends
from fastapi.testclient import TestClient

from praisonai_svc.adapters.local import open_local_backend
from praisonai_svc.api.direct_route import DirectRoute
from praisonai_svc.api.edge import vary_origin
from praisonai_svc.api.factory import create_api
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, utcnow
from praisonai_svc.ports import DuplicateJob
from praisonai_svc.security.guard import address_key
from praisonai_svc.settings import Settings
from tests.support.apps import two_service_app

SECURITY = ("x-content-type-options", "x-frame-options", "referrer-policy", "cache-control", "content-security-policy")


def make_client(**settings: Any) -> TestClient:
    return TestClient(create_api(two_service_app("Hot", Settings(rate_limit_submit_per_minute=0, **settings))))


def test_submit_without_origin_gets_security_headers_and_vary() -> None:
    with make_client() as client:
        response = client.post("/jobs", json={"payload": {"n": 1}})
        assert response.status_code == 202
        assert response.headers["location"] == f"/jobs/{response.json()['job_id']}"
        assert all(name in response.headers for name in SECURITY)
        assert response.headers["vary"] == "Origin"
        assert "access-control-allow-origin" not in response.headers
        again = client.post("/jobs", json={"payload": {"n": 1}})
        assert again.status_code == 200 and again.json()["job_id"] == response.json()["job_id"]


def test_submit_from_an_allowed_origin_gets_cors_headers() -> None:
    with make_client(cors_origins=["https://wp.example"]) as client:
        response = client.post("/jobs", json={"payload": {"n": 2}}, headers={"Origin": "https://wp.example"})
        assert response.status_code == 202
        assert response.headers["access-control-allow-origin"] == "https://wp.example"
        assert "Location" in response.headers["access-control-expose-headers"]
        assert response.headers["vary"] == "Origin"
        assert all(name in response.headers for name in SECURITY)
        foreign = client.post("/jobs", json={"payload": {"n": 3}}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers


def test_errors_on_the_hot_path_keep_their_status_and_headers() -> None:
    with make_client(api_key="k" * 32) as client:
        unauthenticated = client.post("/jobs", json={"payload": {}})
        assert unauthenticated.status_code == 401 and unauthenticated.headers["www-authenticate"] == "ApiKey"
        assert all(name in unauthenticated.headers for name in SECURITY)
        key = {"X-API-Key": "k" * 32}
        assert client.post("/jobs", content=b"{", headers=key).status_code == 400
        assert client.post("/jobs?service=nope", json={"payload": {}}, headers=key).status_code == 400
        chosen = client.post("/jobs?service=other", json={"payload": {}}, headers=key)
        assert chosen.status_code == 202 and chosen.json()["service"] == "other"
        assert client.post("/jobs", content=b"x" * 2_000_000, headers=key).status_code == 413
        metrics = client.get("/metrics").text
        assert 'route="/jobs",status="401"' in metrics and 'route="/jobs",status="202"' in metrics


def test_vary_origin_joins_existing_values_into_the_first() -> None:
    assert vary_origin([(b"content-type", b"x")]) == [(b"content-type", b"x"), (b"vary", b"Origin")]
    merged = vary_origin([(b"vary", b"Accept"), (b"a", b"1"), (b"vary", b"Cookie")])
    assert merged == [(b"vary", b"Accept, Cookie, Origin"), (b"a", b"1")]


async def _endpoint_with_a_parameter(request: Request, extra: int) -> Response:
    return Response()


async def _endpoint(request: Request) -> Response:
    return Response()


async def _dependency_with_a_parameter(request: Request, extra: int) -> None:
    return None


def test_direct_route_refuses_what_it_would_not_inject() -> None:
    with pytest.raises(TypeError, match="endpoint"):
        DirectRoute("/x", _endpoint_with_a_parameter, methods=["POST"])
    with pytest.raises(TypeError, match="dependencies"):
        DirectRoute("/x", _endpoint, methods=["POST"], dependencies=[Depends(_dependency_with_a_parameter)])


def test_client_address_is_memoised_and_follows_the_trusted_hops() -> None:
    assert address_key("10.0.0.1", ("1.2.3.4",), 0) == "10.0.0.1"
    assert address_key("10.0.0.1", ("1.2.3.4, 5.6.7.8",), 1) == "5.6.7.8"
    assert address_key("2001:db8::1", (), 0) == "2001:db8::/64"
    assert address_key.cache_info().maxsize is not None  # bounded: forged headers cannot grow it


def test_lifespan_tunes_the_collector_and_restores_it() -> None:
    before = gc.get_threshold()
    with make_client() as client:
        assert gc.get_threshold()[0] > before[0]
        assert gc.get_freeze_count() > 0
        client.post("/jobs", json={"payload": {"n": 4}})
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_idempotent_hit_leaves_no_reference_cycle(tmp_path: Path) -> None:
    """A DuplicateJob raised inside the group commit kept its traceback, whose frames referred back to it."""

    async def scenario() -> int:
        backend = await open_local_backend(Settings(data_dir=tmp_path))
        payload = {"same": True}
        now = utcnow()

        def job() -> Job:
            return Job(job_id=uuid.uuid4().hex, service="s", payload=payload,
                       payload_hash=payload_hash(payload, "s"), created_utc=now, updated_utc=now)

        await backend.create_and_enqueue(job(), "q")
        gc.collect()
        gc.disable()
        try:
            for _ in range(20):
                with pytest.raises(DuplicateJob):
                    await backend.create_and_enqueue(job(), "q")
            return sum(isinstance(o, DuplicateJob) for o in _cyclic_garbage())
        finally:
            gc.enable()
            await backend.close()

    assert asyncio.run(scenario()) == 0


def _cyclic_garbage() -> list[object]:
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_edge_headers_in_one_pass_equal_the_two_step_composition() -> None:
    from praisonai_svc.api.edge import with_edge_headers
    from praisonai_svc.security.headers import SecurityHeaders

    security = SecurityHeaders()
    cases: list[list[tuple[bytes, bytes]]] = [
        [], [(b"content-type", b"application/json"), (b"content-length", b"2")],
        [(b"vary", b"Accept")], [(b"Vary", b"Accept"), (b"x", b"1"), (b"vary", b"Cookie")],
        [(b"cache-control", b"max-age=60"), (b"content-type", b"text/html")], [(b"X-Frame-Options", b"SAMEORIGIN")],
    ]
    for headers in cases:
        for path in ("/jobs", "/docs"):
            extra = security.for_path(path)
            for from_browser in (False, True):
                expected = security.added(list(headers) if from_browser else vary_origin(list(headers)), extra)
                assert with_edge_headers(list(headers), extra, from_browser) == expected, (headers, from_browser)
