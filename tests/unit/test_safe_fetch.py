"""The safe fetcher without a network: a recording transport stands in for the server, and a scripted resolver
for DNS (so public addresses are only ever written down, never connected to)."""

from __future__ import annotations

import httpx
import pytest

from praisonai_svc.errors import FetchFailed, FetchRefused, PayloadTooLarge
from praisonai_svc.net import AllowList, FetchLimits, SafeFetcher, refusal_reason

PUBLIC = "93.184.216.34"
LIMITS = FetchLimits(max_bytes=1000)


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"),
    ("::ffff:127.0.0.1", "loopback"), ("fd00::1", "private"), ("100.64.0.1", "not a public address"),
])
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = refusal_reason(address)
    assert reason is not None and kind in reason


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(address) is None


def test_allow_list_matches_host_or_host_and_port() -> None:
    allowed = AllowList(["images.intranet", "127.0.0.1:9000", "[::1]:8080", " "])
    assert allowed.allows("images.intranet", 443) and allowed.allows("IMAGES.intranet", 80)
    assert allowed.allows("127.0.0.1", 9000) and not allowed.allows("127.0.0.1", 9001)
    assert allowed.allows("::1", 8080) and not allowed.allows("::1", 80)
    with pytest.raises(ValueError, match="PRAISONAI_FETCH_ALLOWED_HOSTS"):
        AllowList(["host:notaport"])


class Recorder:
    """Answers from a script of (status, headers, body) and keeps every request it saw."""

    def __init__(self, *answers: tuple[int, dict[str, str], bytes]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            status, headers, body = self.answers.pop(0)
            return httpx.Response(status, headers=headers, content=body)

        return httpx.MockTransport(handle)


def resolver(*answers: list[str]):  # type: ignore[no-untyped-def]
    """Each call answers the next list: a DNS server that changes its mind (rebinding)."""
    queue = list(answers)
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def test_the_connection_is_pinned_to_the_checked_address() -> None:
    recorder = Recorder((200, {"content-type": "image/png"}, b"png!"))
    resolve = resolver([PUBLIC], ["127.0.0.1"])  # a second lookup would point at loopback
    fetcher = SafeFetcher(AllowList([]), transport=recorder.transport(), resolve=resolve)
    fetched = await fetcher.fetch("https://images.example.com/a/photo%20one.png?x=1", LIMITS)
    await fetcher.close()
    [request] = recorder.requests
    assert request.url.host == PUBLIC and request.url.raw_path == b"/a/photo%20one.png?x=1"
    assert request.headers["host"] == "images.example.com"
    assert request.extensions["sni_hostname"] == "images.example.com"
    assert resolve.calls == ["images.example.com"]  # resolved once, never again
    assert (fetched.data, fetched.content_type, fetched.filename) == (b"png!", "image/png", "photo one.png")


async def test_every_resolved_address_must_be_public() -> None:
    recorder = Recorder()
    fetcher = SafeFetcher(AllowList([]), transport=recorder.transport(), resolve=resolver([PUBLIC, "10.0.0.5"]))
    with pytest.raises(FetchRefused, match=r"evil.example resolves to 10.0.0.5, a private address"):
        await fetcher.fetch("http://evil.example/x.jpg", LIMITS)
    assert recorder.requests == []


async def test_redirects_are_checked_again_and_counted() -> None:
    hop = (302, {"location": "/next"}, b"")
    recorder = Recorder(hop, hop, hop, (200, {}, b"ok"))
    fetcher = SafeFetcher(AllowList([]), transport=recorder.transport(), resolve=resolver([PUBLIC]))
    assert (await fetcher.fetch("http://a.example/start", LIMITS)).data == b"ok"
    recorder.answers = [hop, hop, hop, hop]
    with pytest.raises(FetchFailed, match=r"too many redirects \(more than 3\)"):
        await fetcher.fetch("http://a.example/start", LIMITS)
    recorder.answers = [(301, {"location": "http://internal.example/secret"}, b"")]
    refusing = SafeFetcher(AllowList([]), transport=recorder.transport(), resolve=resolver([PUBLIC], ["10.9.9.9"]))
    with pytest.raises(FetchRefused, match=r"internal\.example resolves to 10\.9\.9\.9"):
        await refusing.fetch("http://a.example/start", LIMITS)
    for client in (fetcher, refusing):
        await client.close()


async def test_size_cap_applies_to_the_declared_and_the_read_length() -> None:
    declared = Recorder((200, {"content-length": "5000"}, b"x" * 5000))
    chunked = Recorder((200, {}, b"x" * 1001))
    for recorder in (declared, chunked):
        fetcher = SafeFetcher(AllowList([]), transport=recorder.transport(), resolve=resolver([PUBLIC]))
        with pytest.raises(PayloadTooLarge, match="File size exceeds maximum of 1000 bytes"):
            await fetcher.fetch("http://a.example/big", LIMITS)
        await fetcher.close()


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://a.example/x", "URL scheme 'ftp' is not allowed"), ("file:///etc/passwd", "URL scheme 'file'"),
    ("http://user:pw@a.example/x", "credentials in the URL"), ("not a url", "is not allowed"),
])
async def test_only_plain_http_urls(url: str, message: str) -> None:
    fetcher = SafeFetcher(AllowList([]), transport=Recorder().transport(), resolve=resolver([PUBLIC]))
    with pytest.raises(FetchRefused, match=message):
        await fetcher.fetch(url, LIMITS)
    await fetcher.close()


async def test_allowed_hosts_skip_the_address_check_but_stay_pinned() -> None:
    recorder = Recorder((200, {}, b"ok"), (404, {}, b""))
    fetcher = SafeFetcher(AllowList(["127.0.0.1:9000"]), transport=recorder.transport(),
                          resolve=resolver(["127.0.0.1"]))
    assert (await fetcher.fetch("http://127.0.0.1:9000/a", LIMITS)).data == b"ok"
    with pytest.raises(FetchFailed, match=r"HTTP 404 from 127\.0\.0\.1"):
        await fetcher.fetch("http://127.0.0.1:9000/missing", LIMITS)
    with pytest.raises(FetchRefused, match="loopback"):
        await fetcher.fetch("http://127.0.0.1:9001/a", LIMITS)
    await fetcher.close()


async def test_request_sends_any_method_pinned_and_returns_redirects_unfollowed() -> None:
    recorder = Recorder((201, {"content-type": "application/json; charset=utf-8"}, b'{"ok":1}'),
                        (302, {"location": "http://127.0.0.1/x"}, b""))
    fetcher = SafeFetcher(AllowList([]), transport=recorder.transport(), resolve=resolver([PUBLIC]))
    reply = await fetcher.request("POST", "https://hooks.example.com/in", headers={"X-Sig": "s"}, content=b"{}",
                                  limits=LIMITS)
    moved = await fetcher.request("PUT", "https://hooks.example.com/in", headers={}, content=None, limits=LIMITS)
    with pytest.raises(FetchRefused, match="only public addresses"):
        await SafeFetcher(AllowList([]), resolve=resolver(["10.0.0.1"])).request(
            "POST", "http://intranet/x", headers={}, content=b"", limits=LIMITS)
    await fetcher.close()
    first, second = recorder.requests
    assert (first.method, first.url.host, first.headers["host"], first.headers["x-sig"], first.content) == (
        "POST", PUBLIC, "hooks.example.com", "s", b"{}")
    assert reply.status == 201 and reply.body == b'{"ok":1}' and reply.content_type == "application/json"
    assert second.method == "PUT" and moved.status == 302 and len(recorder.requests) == 2  # not followed
