"""The access check of every job route: :class:`~praisonai_svc.security.guard.SecurityGuard` as a dependency.

``POST`` counts as a submission, everything else as a read. The caller's :class:`Principal` is left on
``request.state.principal`` for the route, which scopes what it reads and writes by ``principal.tenant``.
"""

from __future__ import annotations

from fastapi import Request

from praisonai_svc.backend import Backend
from praisonai_svc.security.guard import ANONYMOUS, Principal, SecurityGuard
from praisonai_svc.security.keys import key_matches
from praisonai_svc.security.rate_limit import Kind
from praisonai_svc.settings import Settings

PRINCIPAL = "principal"  # the key in the per-request state dict (request.state.principal)
__all__ = [
    "build_guard", "guard_for", "key_matches", "limit_reads", "principal_of", "require_access", "require_api_key",
]


def build_guard(settings: Settings, backend: Backend) -> SecurityGuard:
    """The app's guard, counting in the backend's shared rate limiter (in process memory if it has none)."""
    return SecurityGuard(settings, backend.rate_limiter_or_fallback(), backend=backend)


def guard_for(request: Request) -> SecurityGuard:
    """The guard the lifespan built with the backend it opened (see factory.py)."""
    guard: SecurityGuard = request.app.state.security_guard
    return guard


async def require_access(request: Request) -> None:
    """Authenticate the caller and count the request against its limits (401 / 429 otherwise)."""
    kind: Kind = "submit" if request.method == "POST" else "read"
    principal = await guard_for(request).admit(request, kind)
    # The per-request state dict (what ``request.state`` wraps), written directly: building the State wrapper
    # and reading it back through attribute lookups cost more than the rest of an unauthenticated admit.
    request.scope.setdefault("state", {})[PRINCIPAL] = principal


async def limit_reads(request: Request) -> None:
    """Only the read limit (signed file links carry their own authorisation)."""
    guard = guard_for(request)
    await guard.count(ANONYMOUS, guard.address(request), "read")


def principal_of(request: Request) -> Principal:
    """The caller require_access admitted (``request.state.principal``); ANONYMOUS on unguarded routes."""
    principal: Principal = request.scope.get("state", {}).get(PRINCIPAL, ANONYMOUS)
    return principal


require_api_key = require_access  # the name before tenants and tokens
