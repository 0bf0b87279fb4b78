"""The fast lane (api/fast_lane.py) answers exactly what the router answered: the same requests are sent to two
apps, one with the lane and one without, and their answers (status, headers, body, ids aside) must be equal."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.testclient import TestClient

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.api.fast_lane import ServiceAPI
from praisonai_svc.settings import Settings
from tests.support.apps import two_service_app

SECRET = "fast-lane-secret-" + "z" * 48
HEX_ID = re.compile(r"[0-9a-f]{32}")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")
INCIDENT = re.compile(r"incident [0-9a-f]{12}")
VARYING_HEADERS = {"content-length", "retry-after", "date"}


def make_app(**settings: Any) -> ServiceApp:
    return two_service_app("Lane", Settings(_env_file=None, **settings))  # type: ignore[call-arg]


def clients(**settings: Any) -> tuple[TestClient, TestClient]:
    """(with the lane, without it), on two apps of identical settings and separate backends."""
    return (TestClient(create_api(make_app(**settings)), raise_server_exceptions=False),
            TestClient(create_api(make_app(**settings)), raise_server_exceptions=False))


TOKEN = re.compile(r"eyJ[\w-]+\.(eyJ[\w-]+)\.[\w-]+")
TIMES = re.compile(r'"(iat|exp)":\d+')


def claims(match: re.Match[str]) -> str:
    """A receipt (a signed token naming the job) as its claims: the job id and times differ, the rest must not."""
    body = match[1] + "=" * (-len(match[1]) % 4)
    return "<receipt " + TIMES.sub(r'"\1":<t>', base64.urlsafe_b64decode(body).decode()) + ">"


def normal(text: str) -> str:
    text = TOKEN.sub(claims, text)
    return INCIDENT.sub("incident ?", STAMP.sub("<time>", HEX_ID.sub("<id>", text)))


def answer(response: Any) -> tuple[int, dict[str, str], str]:
    headers = {name: normal(value) for name, value in response.headers.items() if name not in VARYING_HEADERS}
    if "retry-after" in response.headers:
        headers["retry-after"] = "<present>"
    return response.status_code, headers, normal(response.text)


def bearer(**claims: Any) -> dict[str, str]:
    body = {"exp": int(time.time()) + 60, "aud": "praisonai-svc", "sub": "visitor-1", **claims}
    return {"Authorization": "Bearer " + jwt.encode(body, SECRET, algorithm="HS256")}


def chunked(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 1000):
        yield data[start:start + 1000]


OP = {"X-API-Key": "operator-key"}
ACME = {"X-API-Key": "acme-key"}
GLOBEX = {"X-API-Key": "globex-key"}
JSON = {"Content-Type": "application/json"}
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/jobs", {"json": {"payload": {"a": 1}}}),  # no credentials
    ("POST", "/jobs", {"json": {"payload": {"a": 1}}, "headers": {"X-API-Key": "wrong"}}),
    ("POST", "/jobs", {"json": {"payload": {"a": 1}}, "headers": {"Authorization": "Bearer nonsense"}}),
    ("POST", "/jobs", {"json": {"payload": {"a": 1}}, "headers": OP}),
    ("POST", "/jobs", {"json": {"payload": {"a": 1}}, "headers": OP}),  # idempotent hit: 200
    ("POST", "/jobs", {"json": {"payload": {"a": 1}}, "headers": ACME}),  # another tenant: a job of its own
    ("POST", "/jobs", {"json": {"payload": {"a": 1}}, "headers": GLOBEX}),
    ("POST", "/jobs", {"json": {"payload": {"a": 1}}, "headers": ACME}),
    ("POST", "/jobs", {"json": {"payload": {"a": 2}}, "headers": ACME}),
    ("POST", "/jobs", {"json": {"payload": {"a": 3}}, "headers": ACME}),
    ("POST", "/jobs", {"json": {"payload": {"a": 4}}, "headers": ACME}),  # acme's quota (3 a day): 429
    ("POST", "/jobs", {"json": {"payload": {"a": 5}}, "headers": bearer(tenant="acme")}),  # also for tokens
    ("POST", "/jobs", {"json": {"payload": {"a": 5}}, "headers": bearer(tenant="globex")}),  # a receipt
    ("POST", "/jobs", {"json": {"payload": {"a": 5}}, "headers": bearer(tenant="globex")}),
    ("POST", "/jobs", {"content": b"{", "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b'{"payload": {"a": NaN}}', "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b'{"payload": {"a": -Infinity}}', "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b'{"payload": {"a": 1e400}}', "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b'{"payload": {"a": ' + b"7" * 4400 + b"}}", "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b'{"payload": {"a": "\\udc00"}}', "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b'{"payload": {"a": "\\ud83d\\ude00"}}', "headers": {**OP, **JSON}}),  # a pair
    ("POST", "/jobs", {"content": b"[" * 80 + b"]" * 80, "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b"", "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b"\xff\xfe{}", "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b"[1, 2]", "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"json": {"payload": [1]}, "headers": OP}),
    ("POST", "/jobs", {"json": {"nopayload": {}}, "headers": OP}),
    ("POST", "/jobs", {"json": {"payload": {}, "extra": 1}, "headers": OP}),
    ("POST", "/jobs", {"json": {"payload": {}, "service": 5}, "headers": OP}),
    ("POST", "/jobs", {"json": {"payload": {}, "callback_url": "https://example.com/hook"}, "headers": OP}),
    ("POST", "/jobs", {"json": {"payload": {}, "webhook_progress": "yes"}, "headers": OP}),
    ("POST", "/jobs?service=nope", {"json": {"payload": {}}, "headers": OP}),
    ("POST", "/jobs?service=other", {"json": {"payload": {}, "service": "echo"}, "headers": OP}),
    ("POST", "/jobs?service=other", {"json": {"payload": {"b": 1}}, "headers": OP}),
    ("POST", "/jobs", {"content": b"payload: {y: 1}", "headers": {**OP, "Content-Type": "application/yaml"}}),
    ("POST", "/jobs", {"content": b"payload: {y: 2}", "headers": OP}),  # no media type: JSON, then YAML
    ("POST", "/jobs", {"content": b'{"payload": {"y": 3}}', "headers": {**OP, "Content-Type": "text/plain"}}),
    ("POST", "/jobs", {"content": b"a: &a [1]\nb: &b [*a, *a]\npayload: {c: [*b, *b]}\nz: !!python/object:os.system x",
                       "headers": {**OP, "Content-Type": "application/yaml"}}),
    ("POST", "/jobs", {"content": b'{"payload": {"big": "' + b"x" * 9000 + b'"}}', "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": lambda: chunked(b'{"payload": {"big": "' + b"x" * 9000 + b'"}}'),
                       "headers": {**OP, **JSON}}),  # no Content-Length: 413 while reading
    ("POST", "/jobs", {"content": b'{"payload": {"mid": "' + b"m" * 1500 + b'"}}', "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b'{"payload": {"mid": "' + b"m" * 5000 + b'"}}', "headers": {**OP, **JSON}}),
    ("POST", "/jobs", {"content": b"payload: {mid: " + b"m" * 5000 + b"}", "headers": OP}),
    ("POST", "/jobs", {"json": {"payload": {"o": 1}}, "headers": {**OP, "Origin": "https://wp.example"}}),
    ("POST", "/jobs", {"json": {"payload": {"o": 2}}, "headers": {**OP, "Origin": "https://evil.example"}}),
    ("OPTIONS", "/jobs", {"headers": {"Origin": "https://wp.example", "Access-Control-Request-Method": "POST"}}),
    ("POST", "/jobs/", {"json": {"payload": {"slash": 1}}, "headers": OP}),
    ("PUT", "/jobs", {"json": {"payload": {}}, "headers": OP}),
    ("GET", "/jobs", {"headers": OP}),
    ("POST", "/jobs/batch", {"json": {"jobs": [{"payload": {"batch": 1}}]}, "headers": OP}),
]


@pytest.fixture
def quota_file(tmp_path: Path) -> Path:
    path = tmp_path / "quotas.yaml"
    path.write_text("tenants:\n  acme:\n    max_jobs_per_day: 3\n")
    return path


def fresh(options: dict[str, Any]) -> dict[str, Any]:
    """The request's options, with a streamed body made anew for each send."""
    return {name: value() if callable(value) else value for name, value in options.items()}


def test_the_lane_answers_what_the_router_answered(quota_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[dict[str, Any]] = []
    real = AsyncExitStackMiddleware.__call__

    async def spy(self: Any, scope: Any, receive: Any, send: Any) -> None:  # the router's way in
        passes.append(scope)
        await real(self, scope, receive, send)

    monkeypatch.setattr(AsyncExitStackMiddleware, "__call__", spy)
    lane, router = clients(api_key=["operator-key"], tenant_keys="acme:acme-key,globex:globex-key",
                           jwt_secret=SECRET, quotas_file=quota_file, rate_limit_submit_per_minute=0,
                           max_payload_size=8192, cors_origins=["https://wp.example"])
    with lane, router:
        assert isinstance(lane.app, ServiceAPI) and lane.app.fast_lane
        router.app.close_fast_lane()  # type: ignore[attr-defined]
        for method, url, options in REQUESTS:
            passes.clear()
            ours = lane.request(method, url, **fresh(options))
            through_lane = not passes
            passes.clear()
            theirs = router.request(method, url, **fresh(options))
            assert passes or method == "OPTIONS", "without the lane, requests go through the router"
            assert answer(ours) == answer(theirs), (method, url, options)
            if method != "OPTIONS":  # a CORS preflight is answered before either
                assert through_lane == (method == "POST" and url.split("?")[0] == "/jobs"), (method, url)


def test_the_lane_keeps_rate_limits_and_the_failed_auth_block() -> None:
    lane, router = clients(api_key=["operator-key"], rate_limit_submit_per_minute=2,
                           rate_limit_auth_failures_per_minute=2)
    with lane, router:
        router.app.close_fast_lane()  # type: ignore[attr-defined]
        for client in (lane, router):
            client.headers["X-Forwarded-For"] = "ignored"
        sent = [({"payload": {"i": i}}, OP) for i in range(3)] + [({"payload": {}}, {"X-API-Key": "bad"})] * 3 \
            + [({"payload": {"i": 9}}, OP)]
        ours = [answer(lane.post("/jobs", json=body, headers=headers)) for body, headers in sent]
        theirs = [answer(router.post("/jobs", json=body, headers=headers)) for body, headers in sent]
        assert ours == theirs
        assert [status for status, _h, _b in ours] == [202, 202, 429, 401, 401, 429, 429]


def test_the_lane_serves_under_the_api_prefix(tmp_path: Path) -> None:
    (tmp_path / "praisonai.yaml").write_text("server: {api_prefix: /svc}\n")

    def prefixed() -> TestClient:
        app = make_app(rate_limit_submit_per_minute=0)
        app.root_dir = tmp_path
        return TestClient(create_api(app))

    with prefixed() as lane, prefixed() as router:
        router.app.close_fast_lane()  # type: ignore[attr-defined]
        assert lane.app.fast_lane  # type: ignore[attr-defined]
        for url in ("/svc/jobs", "/jobs", "/svc/jobs?service=other", "/svcjobs", "/svc/svc/jobs"):
            ours, theirs = lane.post(url, json={"payload": {"u": url}}), router.post(url, json={"payload": {"u": url}})
            assert answer(ours) == answer(theirs), url
        assert lane.post("/svc/jobs", json={"payload": {"p": 1}}).headers["location"].startswith("/svc/jobs/")


def test_an_unexpected_error_is_a_500_with_an_incident_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    from praisonai_svc.job_service import JobService

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(JobService, "submit", broken)
    lane, router = clients(rate_limit_submit_per_minute=0)
    with lane, router:
        router.app.close_fast_lane()  # type: ignore[attr-defined]
        ours, theirs = lane.post("/jobs", json={"payload": {}}), router.post("/jobs", json={"payload": {}})
        assert ours.status_code == 500 and "incident" in ours.json()["detail"]
        assert answer(ours) == answer(theirs)


def test_the_lane_stays_closed_with_telemetry_or_a_route_in_front(monkeypatch: pytest.MonkeyPatch) -> None:
    from praisonai_svc.api import fast_lane

    monkeypatch.setattr(fast_lane, "_telemetry_on", lambda api: True)
    with TestClient(create_api(make_app())) as client:
        assert not client.app.fast_lane  # type: ignore[attr-defined]
        assert client.post("/jobs", json={"payload": {}}).status_code == 202
    monkeypatch.undo()

    api = create_api(make_app(rate_limit_submit_per_minute=0))

    async def mine() -> dict[str, str]:
        return {"mine": "yes"}

    api.router.add_api_route("/{anything}", mine, methods=["POST"])
    api.router.routes.insert(0, api.router.routes.pop())  # before the submit route: it takes POST /jobs
    with TestClient(api) as client:
        assert not api.fast_lane
        assert client.post("/jobs", json={"payload": {}}).json() == {"mine": "yes"}
    assert not api.fast_lane  # closed again after the lifespan


@pytest.mark.parametrize("root_path", ["", "/svc", "/svc/", "/a/b"])
@pytest.mark.parametrize("path", ["/jobs", "/svc/jobs", "/svc", "/svcjobs", "/a/b/jobs", "/a/bjobs", "/svc/", "/"])
def test_the_lane_strips_the_root_path_as_starlette_does(root_path: str, path: str) -> None:
    from starlette._utils import get_route_path as starlettes

    from praisonai_svc.api.fast_lane import get_route_path

    scope = {"type": "http", "path": path, "root_path": root_path}
    assert get_route_path(scope) == starlettes(scope)


def test_the_lane_stays_closed_for_a_route_with_a_body_limit_of_its_own() -> None:
    api = create_api(make_app(rate_limit_submit_per_minute=0))
    assert api.submit_route is not None
    api.submit_route.max_body_size = 10  # type: ignore[attr-defined]
    api.open_fast_lane()
    assert not api.fast_lane
    api.submit_route.max_body_size = None  # type: ignore[attr-defined]
    api.open_fast_lane()
    assert api.fast_lane
    api.close_fast_lane()
