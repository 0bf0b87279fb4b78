"""Canonical payload hashing for idempotency."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# One encoder for every call: json.dumps with options builds a new JSONEncoder each time.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal payloads give equal text."""
    return _CANONICAL.encode(value)


def payload_hash(payload: Any, scope: str = "") -> str:
    """sha256 hex of ``scope`` + the canonical JSON of ``payload``.

    The scope (the service name) keeps two services' identical payloads apart.
    """
    return canonical_hash(canonical_json(payload), scope)


def canonical_hash(canonical: str, scope: str = "") -> str:
    """:func:`payload_hash` of a payload whose canonical JSON (:func:`canonical_json`) is ``canonical``."""
    text = f"{scope}\x00{canonical}" if scope else canonical  # one buffer, one update
    return hashlib.sha256(text.encode()).hexdigest()
