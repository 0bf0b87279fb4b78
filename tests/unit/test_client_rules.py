"""The client's rules that need no service: which origin gets credentials, and when a 429/503 is retried."""

from __future__ import annotations

import httpx
import pytest

from praisonai_svc.client import ConnectionFailed, RetryPolicy
from praisonai_svc.client.common import Credentials, origin
from praisonai_svc.client.errors import Conflict, RateLimited, error_for


@pytest.mark.parametrize(("url", "gets_key"), [
    ("/jobs/1", True),
    ("https://svc.example.com/jobs", True),
    ("https://SVC.example.com:443/x", True),
    ("http://svc.example.com/jobs", False),  # another scheme
    ("https://svc.example.com:8443/jobs", False),  # another port
    ("https://account.blob.core.windows.net/out/x?sig=1", False),
    ("https://svc.example.com.evil.test/jobs", False),
    ("https://evil.test/?https://svc.example.com", False),
])
def test_credentials_only_for_the_service_origin(url: str, gets_key: bool):
    credentials = Credentials("https://svc.example.com", api_key="k")
    assert (credentials.headers_for(url) == {"X-API-Key": "k"}) is gets_key
    assert Credentials("https://svc.example.com", token="t").headers_for(url) == (
        {"Authorization": "Bearer t"} if gets_key else {})


def test_origin_fills_in_default_ports():
    assert origin("https://a.example") == ("https", "a.example", 443)
    assert origin("http://a.example:8080/x") == ("http", "a.example", 8080)


def _response(status: int, retry_after: str | None = None, body: object = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers, json=body if body is not None else {"detail": "x"})


def test_retry_policy_honours_retry_after_and_gives_up():
    policy = RetryPolicy(attempts=3, max_wait=10)
    assert policy.delay(_response(503, "2"), 0) == 2.0
    assert policy.delay(_response(429, "0"), 1) == 0.0
    assert policy.delay(_response(429, "2"), 2) is None  # attempts used up
    assert policy.delay(_response(429, "3600"), 0) is None  # longer than max_wait: raise, do not sleep an hour
    assert policy.delay(_response(500), 0) is None
    assert policy.delay(_response(503), 1) == 2.0  # no header: exponential


def test_error_mapping_keeps_detail_and_retry_after():
    limited = error_for(_response(429, "17", {"detail": "Quota used up", "quota": "max_jobs_per_day"}))
    assert isinstance(limited, RateLimited) and limited.retry_after == 17.0 and limited.body["quota"]
    conflict = error_for(_response(409, body={"detail": "not done yet"}))
    assert isinstance(conflict, Conflict) and conflict.status == 409 and "not done yet" in conflict.message


def test_an_unreachable_service_says_so():
    from praisonai_svc.client import Client
    with Client("http://127.0.0.1:9", retry=RetryPolicy(attempts=1)) as client, \
            pytest.raises(ConnectionFailed, match="Is the service running"):
        client.get("x")


def test_plugin_calls_use_the_plugins_route_and_unwrap_the_envelope() -> None:
    from praisonai_svc.client.common import plugin_data, plugin_path

    assert plugin_path("/image/resize/") == "/api/v1/image/resize"
    assert plugin_data({"success": True, "data": {"width": 10}, "execution_time_ms": 3}) == {"width": 10}
    assert plugin_data({"width": 10}) == {"width": 10}  # no envelope: the answer itself
    assert plugin_data([1, 2]) == {"data": [1, 2]}
