"""The visitor a trusted site submits for: its own rate-limit bucket per (site key, visitor address).

A site such as WordPress in proxy mode (mode A) calls the service from its own server for all of its visitors, so
every request comes from one address and the per-address limits would be shared by the whole site: one visitor
spamming junk could keep everyone else at 429. A key listed in ``PRAISONAI_SITE_KEYS`` is such a site's key. A
request authenticated with it may name the visitor's address in :data:`VISITOR_HEADER`; the per-address limits
then count that request under ``site-<key fingerprint>/<visitor address>`` instead of the site's address (IPv6
visitors by their network, like direct clients).

The header is believed only with a site key: any other caller's header is ignored, so nobody can pick a fresh
bucket by sending it. A missing or unreadable value counts against the site's own address (stricter, never
looser). Failed authentications are counted by the real peer address before the key is known, as always.
"""

from __future__ import annotations

from praisonai_svc.security.client_ip import IPV6_PREFIX, UNKNOWN, client_ip, rate_key

VISITOR_HEADER = "X-PraisonAI-Forwarded-For"
MAX_VALUE_LENGTH = 64  # an IPv6 address with brackets and port fits; anything longer is not an address


def visitor_bucket(site: str, header_value: str | None, ipv6_prefix: int = IPV6_PREFIX) -> str | None:
    """The rate-limit key of the visitor a site named, or None when the value is not one address."""
    if not header_value or len(header_value) > MAX_VALUE_LENGTH or "," in header_value:
        return None
    address = client_ip(header_value.strip(), (), 0)
    if address == UNKNOWN:
        return None
    return f"site-{site}/{rate_key(address, ipv6_prefix)}"
