"""Canonical payload hashing for idempotency."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal payloads give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def payload_hash(payload: Any, scope: str = "") -> str:
    """sha256 hex of ``scope`` + the canonical JSON of ``payload``.

    The scope (the service name) keeps two services' identical payloads apart.
    """
    digest = hashlib.sha256()
    if scope:
        digest.update(scope.encode())
        digest.update(b"\x00")
    digest.update(canonical_json(payload).encode())
    return digest.hexdigest()
