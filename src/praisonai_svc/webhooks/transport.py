"""The one outbound call of webhooks: ``post_signed``, on the project's safe-fetch rules (``praisonai_svc.net``).

The shared :class:`~praisonai_svc.net.fetch.SafeFetcher` downloads (GET, 200 only); a webhook needs a POST and
the receiver's status, so this function applies the same policy with the same parts: the host is resolved once
(:func:`~praisonai_svc.net.fetch.resolve_host`), every address it gives must pass
:func:`~praisonai_svc.net.addresses.refusal_reason` unless PRAISONAI_FETCH_ALLOWED_HOSTS
(:class:`~praisonai_svc.net.addresses.AllowList`) exempts the host, the connection goes to the address that was
checked (pinned; TLS still verifies the original name), redirects are not followed, and the body is not read.
"""

from __future__ import annotations

import functools
import ssl
from urllib.parse import urlsplit, urlunsplit

import certifi
import httpx

from praisonai_svc.errors import PraisonSvcError
from praisonai_svc.net.addresses import AllowList, refusal_reason
from praisonai_svc.net.fetch import resolve_host
from praisonai_svc.settings import Settings


class RefusedDestination(PraisonSvcError):
    """The webhook URL points at a private or reserved address; allow its host in PRAISONAI_FETCH_ALLOWED_HOSTS."""


async def _resolve(host: str, port: int, allowed: bool) -> str:
    addresses = await resolve_host(host, port)
    if not addresses:
        raise RefusedDestination(f"{host} does not resolve.")
    if not allowed:
        for address in addresses:  # every answer must be public, not just the one we would use
            reason = refusal_reason(address)
            if reason is not None:
                raise RefusedDestination(
                    f"{host} resolves to {address}, {reason}; webhooks only reach public addresses unless the "
                    "host is listed in PRAISONAI_FETCH_ALLOWED_HOSTS.")
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
    address = await _resolve(host, port, AllowList(settings.fetch_allowed_hosts).allows(host, port))
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
