"""Which requests count against which limit, and the answer when a limit is reached.

Every limit is per minute, counted in fixed one-minute windows by the backend's
:class:`~praisonai_svc.ports.RateLimiter` (so all replicas share one count); 0 turns a limit off.

* ``submit``: ``POST /jobs`` per client address (PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE, default 10) and per
  key or token (PRAISONAI_RATE_LIMIT_SUBMIT_PER_KEY_PER_MINUTE, default off);
* ``read``: status, list and download requests per client address (PRAISONAI_RATE_LIMIT_READ_PER_MINUTE,
  default 600: a widget polling every 5 s makes 12);
* ``auth``: failed authentications per client address (PRAISONAI_RATE_LIMIT_AUTH_FAILURES_PER_MINUTE, default
  20). Past it, every request from that address is answered 429 until the window ends — also one with a
  valid key, or a brute-force attacker would learn which guess was right from the one answer that is not 429.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from praisonai_svc.errors import RateLimited
from praisonai_svc.ports import RateLimiter

WINDOW_SECONDS = 60
Kind = Literal["submit", "read"]


@dataclass(frozen=True)
class RateLimits:
    """Per-minute limits (0: unlimited)."""

    submit_per_ip: int = 10
    submit_per_key: int = 0
    read_per_ip: int = 600
    auth_failures_per_ip: int = 20


class Blocklist:
    """Addresses refused for the rest of their failed-auth window, remembered in this process.

    The shared counter decides *that* an address is over its limit; this memo only spares a storage request
    per further attempt and lets a correct guess be refused as well. Bounded: expired entries are dropped,
    and beyond ``max_entries`` the oldest block is forgotten (the shared counter still refuses it).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._until: dict[str, float] = {}
        self._max = max_entries

    def __len__(self) -> int:
        """Addresses remembered (expired ones included until they are looked up or pruned)."""
        return len(self._until)

    def retry_after(self, address: str) -> int | None:
        until = self._until.get(address)
        if until is None:
            return None
        remaining = until - time.monotonic()
        if remaining <= 0:
            del self._until[address]
            return None
        return max(int(remaining + 0.999), 1)

    def block(self, address: str, seconds: int) -> None:
        if len(self._until) >= self._max:
            now = time.monotonic()
            self._until = {a: u for a, u in self._until.items() if u > now}
            while len(self._until) >= self._max:
                del self._until[next(iter(self._until))]
        self._until[address] = time.monotonic() + seconds


async def enforce(limiter: RateLimiter, key: str, limit: int, what: str) -> None:
    """Count one hit on ``key``; raise :class:`RateLimited` when it is over ``limit`` (0: no limit)."""
    if limit <= 0:
        return
    decision = await limiter.hit(key, WINDOW_SECONDS, limit)
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit reached: at most {limit} {what} per minute; retry in {decision.retry_after} s.",
            retry_after=decision.retry_after,
        )


async def enforce_all(limiter: RateLimiter, checks: list[tuple[str, int, str]]) -> None:
    """:func:`enforce` each (key, limit, what) at once (on SQLite they share one commit)."""
    active = [check for check in checks if check[1] > 0]
    if len(active) == 1:
        await enforce(limiter, *active[0])
    elif active:
        await asyncio.gather(*(enforce(limiter, *check) for check in active))
