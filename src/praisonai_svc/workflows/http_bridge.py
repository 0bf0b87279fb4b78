"""Outbound HTTP for ``http`` steps: the app's one safe fetcher (praisonai_svc.net)."""

from __future__ import annotations

from praisonai_svc.net import AllowList, FetchLimits, SafeFetcher
from praisonai_svc.settings import Settings
from praisonai_svc.workflows.gateways import HttpReply


class SafeHttp:
    """:class:`~praisonai_svc.workflows.gateways.OutboundHttp` over :class:`SafeFetcher`: public addresses only
    (checked after resolution, the connection pinned), PRAISONAI_FETCH_ALLOWED_HOSTS exempt, size and time caps."""

    def __init__(self, settings: Settings) -> None:
        self.fetcher = SafeFetcher(AllowList(settings.fetch_allowed_hosts))

    async def request(self, method: str, url: str, *, headers: dict[str, str], content: bytes | None,
                      timeout: float, max_bytes: int) -> HttpReply:
        limits = FetchLimits(max_bytes=max_bytes, max_redirects=0, read_timeout=timeout, total_timeout=timeout)
        reply = await self.fetcher.request(method, url, headers=headers, content=content, limits=limits)
        return HttpReply(reply.status, reply.body, reply.content_type)
