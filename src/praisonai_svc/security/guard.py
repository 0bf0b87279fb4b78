"""Who is calling, from where, and may they: authentication, tenant, client address and rate limits in one place.

:meth:`SecurityGuard.admit` runs before every job route: it refuses an address blocked for failed
authentications (429), authenticates the ``X-API-Key`` or ``Authorization: Bearer`` credential (401, counted
against the failed-auth limit), then counts the request against its submit or read limits (429), and returns
the :class:`Principal` whose ``tenant`` scopes everything the route does.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.types import Scope

from praisonai_svc.errors import AuthenticationFailed, RateLimited
from praisonai_svc.logs import get_logger
from praisonai_svc.ports import RateLimiter
from praisonai_svc.security.client_ip import IPV6_PREFIX, client_ip, rate_key
from praisonai_svc.security.forwarded import VISITOR_HEADER, visitor_bucket
from praisonai_svc.security.jwt_tokens import InvalidToken, TokenClaims, TokenVerifier
from praisonai_svc.security.keys import KeyEntry, KeyRing
from praisonai_svc.security.rate_limit import WINDOW_SECONDS, Blocklist, Kind, RateLimits, enforce, enforce_all
from praisonai_svc.security.receipts import ReceiptSigner
from praisonai_svc.settings import Settings


@dataclass(frozen=True)
class Principal:
    """The authenticated caller and the tenant whose jobs it sees.

    ``tenant`` None: an operator key (or no authentication configured) that sees every job. A tenant's key has
    the tenant's name; a bearer token its ``tenant`` claim, or a scope of its own subject (see jwt_tokens).
    """

    method: Literal["none", "api_key", "jwt"]
    tenant: str | None = None
    subject: str | None = None  # what per-key limits count by: a key fingerprint or the token's tenant/sub
    token: TokenClaims | None = None  # a bearer token's claims (submission receipts name its sub and iss)
    site: bool = False  # a PRAISONAI_SITE_KEYS key: its X-PraisonAI-Forwarded-For is believed (forwarded.py)


ANONYMOUS = Principal("none")
log = get_logger("security")


def auth_configured(settings: Settings) -> bool:
    """Whether requests must authenticate (any API key, tenant key or JWT secret is set)."""
    return bool(settings.api_keys or settings.site_key_values or settings.tenant_key_map
                or settings.jwt_secret_value)


@functools.lru_cache(maxsize=4096)
def address_key(peer: str | None, forwarded_for: tuple[str, ...], hops: int, ipv6_prefix: int = IPV6_PREFIX) -> str:
    """:func:`rate_key` of :func:`client_ip`, memoised: a client sends many requests, and parsing its address
    with :mod:`ipaddress` each time costs more than the rest of the guard (bounded, so forged headers cannot
    grow it)."""
    return rate_key(client_ip(peer, forwarded_for, hops), ipv6_prefix)


def _bearer(header: str) -> str | None:
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class SecurityGuard:
    def __init__(self, settings: Settings, limiter: RateLimiter, *, backend: object = None) -> None:
        self.limiter = limiter
        self.backend = backend  # whose limiter this is (the API's lifespan builds one guard per backend it opens)
        self.required = auth_configured(settings)
        self.keys = KeyRing(settings.api_keys + settings.site_key_values, settings.tenant_key_map)
        self.site_keys = frozenset(KeyEntry(key.encode(), None).fingerprint for key in settings.site_key_values)
        secret = settings.jwt_secret_value
        self.tokens = None if secret is None else TokenVerifier(
            secret.encode(), settings.jwt_audience, settings.jwt_issuer, settings.jwt_leeway_seconds)
        self.receipts = None if secret is None else ReceiptSigner.from_secret(secret)
        self.hops = settings.trusted_proxy_hops
        self.ipv6_prefix = settings.rate_limit_ipv6_prefix
        self.limits = RateLimits(
            submit_per_ip=settings.rate_limit_submit_per_minute,
            submit_per_key=settings.rate_limit_submit_per_key_per_minute,
            read_per_ip=settings.rate_limit_read_per_minute,
            auth_failures_per_ip=settings.rate_limit_auth_failures_per_minute,
        )
        self.blocked = Blocklist()
        self._per_address: dict[Kind, bool] = {"submit": self.limits.submit_per_ip > 0,
                                               "read": self.limits.read_per_ip > 0}

    def address(self, request: Request) -> str:
        """The client's address for rate limiting (see :mod:`.client_ip`)."""
        return self.address_of(request.scope)

    def address_of(self, scope: Scope) -> str:
        """:meth:`address` from the ASGI scope (for the middleware, which has no Request)."""
        client = scope.get("client")
        if self.hops == 0:  # X-Forwarded-For is not believed: the peer alone decides
            return address_key(client[0] if client else None, (), 0, self.ipv6_prefix)
        forwarded = tuple(value.decode("latin-1") for name, value in scope.get("headers") or ()
                          if name == b"x-forwarded-for")
        return address_key(client[0] if client else None, forwarded, self.hops, self.ipv6_prefix)

    def blocked_for(self, scope: Scope) -> int | None:
        """Seconds an address blocked for failed authentications must still wait, or None (not blocked).

        The API's middleware asks this before any route runs, so a blocked address gets 429 everywhere (admin
        routes, downloads, the schema): a single route answering otherwise would tell a guesser which guess was
        right. Costs nothing while no address is blocked.
        """
        if not self.blocked:
            return None
        return self.blocked.retry_after(self.address_of(scope))

    async def failed(self, request: Request) -> None:
        """Count a failed authentication that did not go through :meth:`admit` (the admin key, the metrics
        key): RateLimited once the address is over its limit, which then blocks it everywhere."""
        await self._count_failure(self.address(request))

    async def admit(self, request: Request, kind: Kind) -> Principal:
        """The caller, once authenticated and within its limits; else AuthenticationFailed or RateLimited."""
        # The address is derived only when something needs it: a blocked address, a failed authentication or
        # a per-address limit. With those off (or nothing blocked) admitting a caller costs no parsing.
        address = self.address(request) if self.blocked or self._per_address[kind] else None
        if self.blocked:
            assert address is not None
            blocked_for = self.blocked.retry_after(address)
            if blocked_for is not None:
                raise _too_many_failures(blocked_for)
        try:
            principal = self.authenticate(request)
        except AuthenticationFailed:
            await self._count_failure(address or self.address(request))
            raise
        if principal.site and address is not None:  # a site's visitor gets a bucket of its own
            address = visitor_bucket(principal.subject or "", request.headers.get(VISITOR_HEADER),
                                     self.ipv6_prefix) or address
        await self.count(principal, address, kind)
        return principal

    async def count(self, principal: Principal, address: str | None, kind: Kind) -> None:
        """Count the request against the limits of its kind; RateLimited when one is reached.

        ``address`` may be None only when the per-address limit of ``kind`` is off.
        """
        # enforce/enforce_all skip a limit of 0, so a None address (its limit is off) is never counted.
        if kind == "read":
            if self.limits.read_per_ip > 0:
                await enforce(self.limiter, f"read:ip:{address}", self.limits.read_per_ip, "reads")
            return
        checks = self.submit_checks(principal, address)
        if checks:
            await enforce_all(self.limiter, checks)

    def submit_checks(self, principal: Principal, address: str | None) -> list[tuple[str, int, str]]:
        """The (key, limit, what) of every submit limit that is on for this caller (none: nothing to count)."""
        checks = []
        if self.limits.submit_per_ip > 0:
            checks.append((f"submit:ip:{address}", self.limits.submit_per_ip, "job submissions from one address"))
        if principal.subject is not None and self.limits.submit_per_key > 0:
            checks.append((f"submit:key:{principal.subject}", self.limits.submit_per_key,
                           "job submissions per key"))
        return checks

    async def count_more(self, request: Request, principal: Principal, items: int) -> None:
        """Count ``items`` more submissions for a request :meth:`admit` already counted once (a batch counts
        each of its items); RateLimited when a limit is reached. The hits are made concurrently, so the
        backends' batching counts them in a few storage requests."""
        if items <= 0:
            return
        address = self.address(request) if self._per_address["submit"] else None
        if principal.site and address is not None:
            address = visitor_bucket(principal.subject or "", request.headers.get(VISITOR_HEADER)) or address
        checks = self.submit_checks(principal, address)  # worked out once for the whole batch
        if checks:
            await asyncio.gather(*(enforce(self.limiter, *check) for check in checks for _ in range(items)))

    def authenticate(self, request: Request) -> Principal:
        """The principal the request's credentials prove; AuthenticationFailed with a clear reason otherwise."""
        if not self.required:
            return ANONYMOUS
        presented = request.headers.get("x-api-key")
        if presented:
            entry = self.keys.match(presented)
            if entry is None:
                raise AuthenticationFailed("Invalid API key (X-API-Key).")
            fingerprint = entry.fingerprint
            return Principal("api_key", entry.tenant, f"key-{fingerprint}", site=fingerprint in self.site_keys)
        token = _bearer(request.headers.get("authorization", ""))
        if token is not None:
            if self.tokens is None:
                raise AuthenticationFailed("Bearer tokens are not accepted here; send an API key in X-API-Key.")
            try:
                claims = self.tokens.verify(token)
            except InvalidToken as exc:
                raise AuthenticationFailed(f"Invalid bearer token: {exc}.") from None
            return Principal("jwt", claims.scope, f"jwt-{claims.scope}", token=claims)
        raise AuthenticationFailed(
            "Missing credentials: send an API key in the X-API-Key header"
            + (" or a token as Authorization: Bearer <token>." if self.tokens is not None else ".")
        )

    async def _count_failure(self, address: str) -> None:
        limit = self.limits.auth_failures_per_ip
        if limit <= 0:
            return
        decision = await self.limiter.hit(f"auth:ip:{address}", WINDOW_SECONDS, limit)
        if not decision.allowed:
            if self.blocked.retry_after(address) is None:  # once per block, not once per refused request
                log.warning("client blocked after repeated authentication failures",
                            extra={"client_ip": address, "failures": decision.count, "seconds": decision.retry_after})
            self.blocked.block(address, decision.retry_after)
            raise _too_many_failures(decision.retry_after)


def _too_many_failures(retry_after: int) -> RateLimited:
    return RateLimited(
        f"Too many failed authentication attempts from your address; retry in {retry_after} s.",
        retry_after=retry_after,
    )
