"""Webhook signatures, the private-address refusal of the transport, and which events go where."""

from __future__ import annotations

import pytest

from praisonai_svc import ServiceApp
from praisonai_svc.events.bus import Event
from praisonai_svc.settings import Settings
from praisonai_svc.webhooks import sign, verify
from praisonai_svc.webhooks.enqueue import targets
from praisonai_svc.webhooks.transport import RefusedDestination, post_signed


def test_signature_verifies_and_refuses_tampering_other_secrets_and_old_timestamps() -> None:
    body = b'{"job_id":"j","status":"done"}'
    header = sign("secret", body, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify("secret", header, body, now=1_700_000_100)
    assert not verify("secret", header, body + b" ", now=1_700_000_100)
    assert not verify("other", header, body, now=1_700_000_100)
    assert not verify("secret", header, body, now=1_700_000_000 + 301)  # replayed later
    assert not verify("secret", "v1=abc", body) and not verify("secret", "t=x,v1=abc", body)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook", "http://localhost:9/", "http://10.1.2.3/", "http://169.254.169.254/latest/meta-data",
    "http://[::1]:9/", "http://[::ffff:127.0.0.1]:9/", "http://0.0.0.0:9/", "http://192.168.1.1/",
])
async def test_private_and_reserved_destinations_are_refused(url: str) -> None:
    with pytest.raises(RefusedDestination, match="PRAISONAI_FETCH_ALLOWED_HOSTS"):
        await post_signed(url, b"{}", {}, Settings())


async def test_an_allowed_host_is_reached_even_on_loopback() -> None:
    import httpx

    settings = Settings(fetch_allowed_hosts=["127.0.0.1"], webhook_timeout_seconds=2)
    with pytest.raises(httpx.ConnectError):  # allowed, so it tries: nothing listens on port 9
        await post_signed("http://127.0.0.1:9/hook", b"{}", {}, settings)


def test_endings_go_to_callback_and_service_urls_progress_only_when_asked() -> None:
    app = ServiceApp("t")

    @app.job("video", webhook_url="https://hooks.example/service")
    def video(payload: dict) -> tuple[bytes, str, str]:
        return b"", "text/plain", "x"

    done = Event("job.done", "j", {"service": "video", "callback_url": "https://client.example/cb"})
    assert targets(app, done) == ["https://client.example/cb", "https://hooks.example/service"]
    progress = Event("job.progress", "j", {"service": "video", "callback_url": "https://client.example/cb"})
    assert targets(app, progress) == []
    asked = Event("job.progress", "j", {"service": "video", "webhook_progress": True})
    assert targets(app, asked) == ["https://hooks.example/service"]
    assert targets(app, Event("job.started", "j", {"service": "video"})) == []


def test_a_callback_url_longer_than_2048_characters_is_a_400_not_a_500() -> None:
    from praisonai_svc.api.body import to_job_request
    from praisonai_svc.errors import PayloadError

    with pytest.raises(PayloadError, match="at most 2048"):
        to_job_request({"payload": {}, "callback_url": "0" * 3000}, None)
    with pytest.raises(PayloadError):
        to_job_request({"payload": {}, "callback_url": 5}, None)
    assert to_job_request({"payload": {}, "callback_url": "https://a.example/h"}, None).callback_url
