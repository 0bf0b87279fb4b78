"""Canonical payload hashing for idempotency."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# One encoder for every call: json.dumps with options builds a new JSONEncoder each time.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _c_encoder() -> Any:
    """The C encoder ``_CANONICAL.encode`` builds on every call, built once (~30 % of encoding a small payload).

    Without its circular-reference memo (a memo shared by calls would keep the ids of a failed call): a cycle
    then ends in RecursionError, which :func:`canonical_json` reports as json's own ValueError. None where the
    C accelerator is missing (the encoder's pure-Python path is used then).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    quote = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or quote is None:
        return None
    return make(None, _CANONICAL.default, quote, None, _CANONICAL.key_separator, _CANONICAL.item_separator,
                True, False, False)


_ENCODE = _c_encoder()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal payloads give equal text.

    Raises TypeError for a value JSON cannot carry and ValueError for NaN or infinity, and for a circular
    reference (or a structure nested deeper than the interpreter's recursion limit).
    """
    if _ENCODE is None or isinstance(value, str):
        return _CANONICAL.encode(value)
    try:
        return "".join(_ENCODE(value, 0))
    except RecursionError:
        raise ValueError("Circular reference detected (or nested too deeply)") from None


def payload_hash(payload: Any, scope: str = "") -> str:
    """sha256 hex of ``scope`` + the canonical JSON of ``payload``.

    The scope (the service name) keeps two services' identical payloads apart.
    """
    return canonical_hash(canonical_json(payload), scope)


def canonical_hash(canonical: str, scope: str = "") -> str:
    """:func:`payload_hash` of a payload whose canonical JSON (:func:`canonical_json`) is ``canonical``."""
    text = f"{scope}\x00{canonical}" if scope else canonical  # one buffer, one update
    return hashlib.sha256(text.encode()).hexdigest()
