"""Download a URL safely: http(s) only, public addresses only (checked after DNS resolution), the connection
pinned to the address that was checked, at most a few redirects (each checked again), a size cap enforced while
reading, and timeouts.

Pinning is what defeats DNS rebinding: the name is resolved once, every address it gives is checked, and the
request is then sent to that IP literal, with the original ``Host`` header and, for https, the original name as
TLS server name (so the certificate is still verified against the name). A second, different answer from DNS is
never asked for. Proxies from the environment are ignored for the same reason.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from praisonai_svc.errors import FetchFailed, FetchRefused, PayloadTooLarge
from praisonai_svc.logs import get_logger
from praisonai_svc.net.addresses import AllowList, refusal_reason

log = get_logger("fetch")
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "praisonai-svc-fetcher"


@dataclass(frozen=True)
class FetchLimits:
    """How much, how long and how many hops one download may take."""

    max_bytes: int
    max_redirects: int = 3
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0


@dataclass(frozen=True)
class Fetched:
    """A downloaded body, where it finally came from, its declared type and the name at the end of its path."""

    data: bytes
    url: str
    content_type: str
    filename: str


@dataclass(frozen=True)
class Replied:
    """The answer to :meth:`SafeFetcher.request`: status, body (capped) and media type."""

    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host: str
    port: int
    address: str


def _filename(url: httpx.URL) -> str:
    name = url.path.rsplit("/", 1)[-1]  # httpx's path is already percent-decoded
    return name or "download"


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, off the event loop), in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class SafeFetcher:
    """One shared HTTP client; :meth:`fetch` is safe to call concurrently. ``transport`` and ``resolve`` are for
    tests (a recording transport, a resolver that answers differently each time)."""

    def __init__(
        self, allowed: AllowList, *, transport: httpx.AsyncBaseTransport | None = None,
        resolve: Resolver = resolve_host,
    ) -> None:
        self.allowed = allowed
        self._resolve_host = resolve
        # trust_env=False: a proxy from the environment would resolve names itself and undo the pinning.
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False, transport=transport,
                                         headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, limits: FetchLimits) -> Fetched:
        """The body of ``url``. Raises FetchRefused (not allowed), FetchFailed (could not get it) or
        PayloadTooLarge (over ``limits.max_bytes``, refused before or while reading)."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(limits.total_timeout):
                return await self._follow(url, limits)
        except TimeoutError:
            raise FetchFailed(f"timed out after {limits.total_timeout:g} s") from None
        finally:
            log.debug("fetch", extra={"url": url, "seconds": round(time.monotonic() - started, 3)})

    async def _follow(self, url: str, limits: FetchLimits) -> Fetched:
        current = self._parse(url)
        for hop in range(limits.max_redirects + 1):
            target = await self._resolve(current)
            response = await self._send(target, limits)
            try:
                if response.status_code in REDIRECT_CODES and "location" in response.headers:
                    if hop == limits.max_redirects:
                        raise FetchFailed(f"too many redirects (more than {limits.max_redirects})")
                    current = self._parse(str(current.join(response.headers["location"])))
                    continue
                if response.status_code != 200:
                    raise FetchFailed(f"HTTP {response.status_code} from {target.host}")
                data = await self._read(response, limits.max_bytes)
                content_type = response.headers.get("content-type", "application/octet-stream")
                return Fetched(data, str(current), content_type.split(";")[0].strip(), _filename(current))
            finally:
                await response.aclose()
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    @staticmethod
    def _parse(url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchRefused(f"not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https"):
            raise FetchRefused(f"URL scheme {parsed.scheme or '(none)'!r} is not allowed; use http or https")
        if not parsed.host:
            raise FetchRefused("the URL has no host")
        if parsed.userinfo:
            raise FetchRefused("credentials in the URL are not allowed")
        return parsed

    async def _resolve(self, url: httpx.URL) -> _Target:
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = await self._resolve_host(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(f"could not resolve host {host}: {exc}") from None
        if not addresses:
            raise FetchFailed(f"could not resolve host {host}")
        if not self.allowed.allows(host, port):
            for address in addresses:  # every answer must be public, not just the one we would use
                reason = refusal_reason(address)
                if reason is not None:
                    raise FetchRefused(
                        f"{host} resolves to {address}, {reason}; only public addresses are fetched "
                        f"(PRAISONAI_FETCH_ALLOWED_HOSTS exempts a host)"
                    )
        return _Target(url, host, port, addresses[0])

    async def request(
        self, method: str, url: str, *, headers: dict[str, str], content: bytes | None, limits: FetchLimits,
    ) -> Replied:
        """One request of any method to ``url`` (workflow ``http`` steps, webhooks): the same checks and pinning
        as :meth:`fetch`, redirects not followed (the answer is returned as it is), the body capped while read."""
        try:
            async with asyncio.timeout(limits.total_timeout):
                target = await self._resolve(self._parse(url))
                response = await self._send(target, limits, method=method, headers=headers, content=content)
                try:
                    data = await self._read(response, limits.max_bytes)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise FetchFailed(f"timed out after {limits.total_timeout:g} s") from None
        content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        return Replied(response.status_code, data, content_type)

    async def _send(self, target: _Target, limits: FetchLimits, *, method: str = "GET",
                    headers: dict[str, str] | None = None, content: bytes | None = None) -> httpx.Response:
        pinned = target.url.copy_with(host=target.address)
        default_port = 443 if target.url.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host:
            host_header = f"[{target.host}]" + ("" if target.port == default_port else f":{target.port}")
        timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
        request = self._client.build_request(
            method, pinned, headers={**(headers or {}), "Host": host_header}, content=content, timeout=timeout,
            extensions={"sni_hostname": target.host} if target.url.scheme == "https" else None,
        )
        try:
            return await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchFailed(f"{target.host} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"could not connect to {target.host}: {type(exc).__name__}") from None

    @staticmethod
    async def _read(response: httpx.Response, max_bytes: int) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise PayloadTooLarge(f"File size exceeds maximum of {max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"File size exceeds maximum of {max_bytes} bytes")
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise FetchFailed("the download stalled") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"the download broke off: {type(exc).__name__}") from None
        return b"".join(chunks)
