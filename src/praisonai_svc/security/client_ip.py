"""The client's address: the TCP peer, or an ``X-Forwarded-For`` entry vouched for by trusted proxies.

Each proxy appends the address it received the request from, so in ``X-Forwarded-For: a, b, c`` only the
entries added by our own proxies can be believed; anything to their left was written by the client and may be
forged. With ``hops`` trusted proxies in front of the API (Azure Container Apps' ingress: 1) the client is the
``hops``-th entry from the right. ``hops = 0`` ignores the header: the TCP peer is the client. A header with
fewer entries than ``hops``, or a garbled entry, falls back to the peer (like werkzeug's ProxyFix), so a
misconfiguration can only make the limit stricter, never let a client choose its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

UNKNOWN = "unknown"
IPV6_PREFIX = 64  # default of PRAISONAI_RATE_LIMIT_IPV6_PREFIX: one subscriber usually gets a whole /64


def _parse(entry: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = entry.strip()
    if text.startswith("["):  # [v6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_entries(header_values: Iterable[str]) -> list[str]:
    """All X-Forwarded-For entries, left to right (several headers count as one list, in order)."""
    return [part.strip() for value in header_values for part in value.split(",") if part.strip()]


def client_ip(peer: str | None, forwarded_for: Iterable[str], hops: int) -> str:
    """The client address as text (``unknown`` when neither the peer nor a trusted entry is an address)."""
    address = _parse(peer) if peer else None
    if hops > 0:
        entries = forwarded_entries(forwarded_for)
        if len(entries) >= hops:
            trusted = _parse(entries[-hops])
            if trusted is not None:
                address = trusted
    return str(address) if address is not None else UNKNOWN


def rate_key(ip: str, ipv6_prefix: int = IPV6_PREFIX) -> str:
    """What rate limits count by: the IPv4 address, or the network of an IPv6 address (its first
    ``ipv6_prefix`` bits, /64 by default). An ISP usually gives each subscriber a whole /64 (often a /56 or
    /48), and a host picks addresses in it at will, so counting per IPv6 address would let one client rotate
    past every limit; counting per /64 means the devices of one home or office share the limits, and a shorter
    prefix (PRAISONAI_RATE_LIMIT_IPV6_PREFIX) groups more of them."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((address, ipv6_prefix), strict=False))
    return str(address)
