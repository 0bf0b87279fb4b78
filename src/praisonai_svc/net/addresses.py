"""Which addresses an outbound request may reach: public ones, plus the hosts an operator allows.

Checked on the *resolved* address, not on the name: ``localhost``, ``127.1``, ``[::ffff:127.0.0.1]``, a DNS name
pointing at 10.0.0.5 and the cloud metadata address 169.254.169.254 are all refused, whatever they look like.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal_reason(address: str) -> str | None:
    """Why ``address`` (an IP literal) must not be reached, or None when it is a public unicast address."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flagged in (
        ("loopback", ip.is_loopback), ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified), ("reserved", ip.is_reserved), ("private", ip.is_private),
    ):
        if flagged:
            return f"a {kind} address"
    if not ip.is_global:  # shared address space (100.64/10), 6to4/Teredo relays of private ranges, ...
        return "not a public address"
    return None


def _split_entry(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` → (lowercase host, port or None)."""
    text = entry.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, None


class AllowList:
    """PRAISONAI_FETCH_ALLOWED_HOSTS: hosts (any port) or host:port pairs exempt from the address check."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._any_port: set[str] = set()
        self._with_port: set[tuple[str, int]] = set()
        for entry in entries:
            if not entry.strip():
                continue
            try:
                host, port = _split_entry(entry)
            except ValueError:
                raise ValueError(f"PRAISONAI_FETCH_ALLOWED_HOSTS: {entry!r} is not host or host:port") from None
            if port is None:
                self._any_port.add(host)
            else:
                self._with_port.add((host, port))

    def allows(self, host: str, port: int) -> bool:
        name = host.lower().strip("[]")
        return name in self._any_port or (name, port) in self._with_port

    def __bool__(self) -> bool:
        return bool(self._any_port or self._with_port)
