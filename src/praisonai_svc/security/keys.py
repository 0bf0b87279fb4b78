"""API keys: which configured key (and so which tenant) a presented ``X-API-Key`` is, in constant time."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class KeyEntry:
    """One configured key; ``tenant`` is None for the plain PRAISONAI_API_KEY keys (operator keys)."""

    key: bytes
    tenant: str | None

    @property
    def fingerprint(self) -> str:
        """A short, non-reversible name for the key (rate-limit counters and logs never hold the key)."""
        return hashlib.sha256(b"praisonai-svc key\x00" + self.key).hexdigest()[:16]


class KeyRing:
    """Every configured key. :meth:`match` compares against all of them, so timing reveals nothing."""

    def __init__(self, plain: list[str], tenants: dict[str, list[str]]) -> None:
        entries = [KeyEntry(key.encode(), None) for key in plain if key]
        for tenant, keys in tenants.items():
            entries.extend(KeyEntry(key.encode(), tenant) for key in keys if key)
        self.entries = tuple(entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def match(self, candidate: str) -> KeyEntry | None:
        """The entry equal to ``candidate``, or None. No early exit: every key is compared every time."""
        presented = candidate.encode("utf-8", "surrogateescape")
        found: KeyEntry | None = None
        for entry in self.entries:
            if hmac.compare_digest(presented, entry.key) and found is None:
                found = entry
        return found


def key_matches(candidate: str, keys: list[str]) -> bool:
    """Whether ``candidate`` is one of ``keys`` (constant time in the candidate, every key compared)."""
    return KeyRing(keys, {}).match(candidate) is not None
