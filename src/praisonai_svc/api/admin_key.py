"""The operator's admin key (PRAISONAI_ADMIN_KEY, header ``X-Admin-Key``): one check for every route that reads it.

A wrong key counts as a failed authentication of the caller's address, exactly like a wrong API key, so the
admin key cannot be guessed faster than any other credential; past the limit the address is blocked and gets
429 everywhere (see :meth:`~praisonai_svc.security.guard.SecurityGuard.blocked_for`). Compared in constant time.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from praisonai_svc.api.auth import guard_for
from praisonai_svc.api.deps import service_app

HEADER = "x-admin-key"


def configured_admin_key(request: Request) -> str:
    """The admin key, or "" when none is configured."""
    configured = service_app(request).settings.admin_key
    return configured.get_secret_value() if configured is not None else ""


async def presents_admin_key(request: Request) -> bool:
    """Whether the request carries the right admin key. A key that is sent and wrong is counted as a failed
    authentication (RateLimited once the address is over its limit); no key at all is not."""
    expected = configured_admin_key(request)
    candidate = request.headers.get(HEADER)
    if not expected or candidate is None:
        return False
    if hmac.compare_digest(candidate.encode("utf-8", "surrogateescape"), expected.encode()):
        return True
    await guard_for(request).failed(request)
    return False


async def require_admin_key(request: Request) -> None:
    """404 when no admin key is configured (the routes do not exist), 401 (counted) for a missing or wrong key."""
    if not configured_admin_key(request):
        raise HTTPException(status_code=404, detail="Not Found")
    if await presents_admin_key(request):
        return
    if request.headers.get(HEADER) is None:
        await guard_for(request).failed(request)
    raise HTTPException(status_code=401, detail="Missing or invalid admin key: send it in the X-Admin-Key header.",
                        headers={"WWW-Authenticate": "AdminKey"})
