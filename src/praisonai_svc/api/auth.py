"""API key check (``X-API-Key``), constant-time against every configured key so keys can be rotated."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from praisonai_svc.api.deps import service_app


def key_matches(candidate: str, keys: list[str]) -> bool:
    # Compare against every key (no early exit) so timing does not reveal which key or prefix matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate.encode(), key.encode())
    return matched


async def require_api_key(request: Request) -> None:
    keys = service_app(request).settings.api_keys
    if not keys:
        return
    candidate = request.headers.get("x-api-key", "")
    if not candidate or not key_matches(candidate, keys):
        raise HTTPException(
            status_code=401, detail="Missing or invalid API key: send it in the X-API-Key header.",
            headers={"WWW-Authenticate": "ApiKey"},
        )
