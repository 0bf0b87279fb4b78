"""Fixed rate-limit windows, shared by every :class:`~praisonai_svc.ports.RateLimiter` adapter.

Windows are aligned to the Unix epoch on the wall clock, so every process (and every replica whose clock is
NTP-synchronised) agrees on which window a request falls into without talking to the others.
"""

from __future__ import annotations

import hashlib
import math
import time

from praisonai_svc.ports import RateDecision


def current_window(window_seconds: int, now: float | None = None) -> tuple[int, int]:
    """(start of the window containing ``now``, whole seconds until it ends: at least 1)."""
    if window_seconds < 1:
        raise ValueError("window_seconds must be at least 1")
    moment = time.time() if now is None else now
    start = int(moment // window_seconds) * window_seconds
    return start, max(math.ceil(start + window_seconds - moment), 1)


def decide(count: int, limit: int, retry_after: int) -> RateDecision:
    """Allowed while ``count`` (this hit included) is within ``limit``."""
    allowed = count <= limit
    return RateDecision(allowed=allowed, retry_after=0 if allowed else retry_after, count=count)


def key_digest(key: str) -> str:
    """A fixed-length, storage-safe name for any counter key (IPv6 colons, slashes, non-ASCII, ...)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
