"""Helpers of the security acceptance tests: credentials, tokens, and reading the backend through the ports."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt

from praisonai_svc.backend import open_backend
from praisonai_svc.models.job import Job
from praisonai_svc.settings import Settings

OPERATOR_KEY = "operator-key-7f3a9c21"
ACME_KEY = "acme-key-51d0e2b4"
GLOBEX_KEY = "globex-key-9c44aa17"
JWT_SECRET = "jwt-secret-for-tests-" + "0123456789abcdef" * 4  # 64+ bytes: long enough even for HS512
JWT_ISSUER = "https://wp.example"
JWT_AUDIENCE = "praisonai-svc"
STORAGE_VARIABLES = (
    "PRAISONAI_DATA_DIR", "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING", "PRAISONAI_QUEUE_NAME",
    "PRAISONAI_TABLE_NAME", "PRAISONAI_CONTAINER_NAME",
)


def secured(backend_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The backend's variables plus an operator key, two tenants' keys and a JWT secret."""
    return {
        **backend_env,
        "PRAISONAI_API_KEY": OPERATOR_KEY,
        "PRAISONAI_TENANT_KEYS": f"acme:{ACME_KEY},globex:{GLOBEX_KEY}",
        "PRAISONAI_JWT_SECRET": JWT_SECRET,
        "PRAISONAI_JWT_ISSUER": JWT_ISSUER,
        **extra,
    }


def token(secret: str = JWT_SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    """A JWT valid for 5 minutes for our audience and issuer; ``claims`` override or (as None) remove claims."""
    now = int(time.time())
    body: dict[str, Any] = {"exp": now + 300, "iat": now, "aud": JWT_AUDIENCE, "iss": JWT_ISSUER, "sub": "user-1"}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm=algorithm)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def key(value: str) -> dict[str, str]:
    return {"X-API-Key": value}


def stored_jobs(env: dict[str, str]) -> list[Job]:
    """Every job in the backend ``env`` selects, read through the JobStore port (not through the API)."""

    async def read() -> list[Job]:
        overrides = {name[len("PRAISONAI_"):].lower(): env[name] for name in STORAGE_VARIABLES if name in env}
        backend = await open_backend(Settings(_env_file=None, **overrides))  # type: ignore[call-arg]
        try:
            return (await backend.jobs.list(limit=500)).jobs
        finally:
            await backend.close()

    return asyncio.run(read())


def wait_for_fresh_minute(need: float) -> None:
    """Sleep until at least ``need`` seconds remain in the current one-minute rate-limit window."""
    left = 60 - time.time() % 60
    if left < need:
        time.sleep(left + 0.2)
