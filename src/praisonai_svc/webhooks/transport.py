"""The one outbound call of webhooks: ``post_signed``. Swapping in the project's shared safe fetcher (issue 13)
changes only this file.

Until then it does the safe fetcher's essentials itself: the host is resolved once, any private, loopback,
link-local, multicast or reserved address is refused (unless the host is in PRAISONAI_FETCH_ALLOWED_HOSTS), the
connection goes to the address that was checked (pinned, so DNS cannot change between check and connect; TLS
still verifies the original host name), redirects are not followed, and the response body is not read.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit, urlunsplit

import certifi
import httpx

from praisonai_svc.errors import PraisonSvcError
from praisonai_svc.settings import Settings


class RefusedDestination(PraisonSvcError):
    """The webhook URL points at a private or reserved address; allow its host in PRAISONAI_FETCH_ALLOWED_HOSTS."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def _resolve(host: str, port: int, allowed: bool) -> str:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise RefusedDestination(f"{host} does not resolve.")
    if not allowed and not all(_public(address) for address in addresses):
        raise RefusedDestination(
            f"{host} resolves to a private or reserved address; webhooks only reach public addresses unless "
            "the host is listed in PRAISONAI_FETCH_ALLOWED_HOSTS.")
    return addresses[0]


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every delivery: building one loads the CA bundle, tens of milliseconds of CPU."""
    return ssl.create_default_context(cafile=certifi.where())


async def post_signed(url: str, body: bytes, headers: dict[str, str], settings: Settings) -> int:
    """POST ``body`` to ``url``; return the HTTP status. Raises RefusedDestination, httpx.HTTPError (timeouts,
    connection errors)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed = host.lower() in {name.lower() for name in settings.fetch_allowed_hosts}
    address = await _resolve(host, port, allowed)
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False,
                                 trust_env=False, verify=_tls()) as client:
        request = client.build_request("POST", pinned, content=body, headers={**headers, "Host": host_header},
                                       extensions={"sni_hostname": host} if parts.scheme == "https" else {})
        response = await client.send(request, stream=True)
        await response.aclose()  # the status is all we need; the body is never read
        return response.status_code
