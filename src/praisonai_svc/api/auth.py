"""The access check of every job route: :class:`~praisonai_svc.security.guard.SecurityGuard` as a dependency.

``POST`` counts as a submission, everything else as a read. The caller's :class:`Principal` is left on
``request.state.principal`` for the route, which scopes what it reads and writes by ``principal.tenant``.
"""

from __future__ import annotations

from fastapi import Request

from praisonai_svc.job_service import JobService
from praisonai_svc.security.guard import ANONYMOUS, Principal, SecurityGuard
from praisonai_svc.security.keys import key_matches
from praisonai_svc.security.rate_limit import Kind

__all__ = ["guard_for", "key_matches", "limit_reads", "principal_of", "require_access", "require_api_key"]


def guard_for(request: Request) -> SecurityGuard:
    """The app's guard, built on first use from the settings and the backend the lifespan opened."""
    service: JobService = request.app.state.job_service
    guard: SecurityGuard | None = getattr(request.app.state, "security_guard", None)
    if guard is None or guard.backend is not service.backend:
        from praisonai_svc.adapters.memory import MemoryRateLimiter

        limiter = service.backend.rate_limiter or MemoryRateLimiter()  # a Backend built without one
        guard = SecurityGuard(service.app.settings, limiter, backend=service.backend)
        request.app.state.security_guard = guard
    return guard


async def require_access(request: Request) -> None:
    """Authenticate the caller and count the request against its limits (401 / 429 otherwise)."""
    kind: Kind = "submit" if request.method == "POST" else "read"
    request.state.principal = await guard_for(request).admit(request, kind)


async def limit_reads(request: Request) -> None:
    """Only the read limit (signed file links carry their own authorisation)."""
    guard = guard_for(request)
    await guard.count(ANONYMOUS, guard.address(request), "read")


def principal_of(request: Request) -> Principal:
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    return principal


require_api_key = require_access  # the name before tenants and tokens
