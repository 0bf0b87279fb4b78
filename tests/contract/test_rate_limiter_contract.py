"""RateLimiter contract (see ``praisonai_svc.ports.RateLimiter``), checked against every adapter."""

from __future__ import annotations

import asyncio
import time

import pytest

from praisonai_svc.backend import Backend
from praisonai_svc.ports import RateLimiter

HOUR = 3600  # long windows: a test almost never straddles a boundary, so it almost never has to wait


def limiter_of(backend: Backend) -> RateLimiter:
    assert backend.rate_limiter is not None, "every shipped backend counts in its own storage"
    return backend.rate_limiter


def wait_for_fresh_window(window: int, need: float) -> None:
    """Sleep until at least ``need`` seconds remain in the current ``window``-second window."""
    left = window - time.time() % window
    if left < need:
        time.sleep(left + 0.05)


async def test_allows_up_to_the_limit_then_refuses_with_retry_after(backend: Backend) -> None:
    limiter = limiter_of(backend)
    wait_for_fresh_window(HOUR, 30)
    decisions = [await limiter.hit("submit:ip:192.0.2.1", HOUR, 3) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.count for d in decisions[:3]] == [1, 2, 3]
    assert all(d.retry_after == 0 for d in decisions[:3])
    assert all(1 <= d.retry_after <= HOUR for d in decisions[3:])


async def test_keys_and_window_lengths_count_separately(backend: Backend) -> None:
    limiter = limiter_of(backend)
    wait_for_fresh_window(HOUR, 30)
    assert (await limiter.hit("a", HOUR, 1)).allowed
    assert not (await limiter.hit("a", HOUR, 1)).allowed
    assert (await limiter.hit("b", HOUR, 1)).allowed
    assert (await limiter.hit("a", 2 * HOUR, 1)).allowed


@pytest.mark.parametrize("key", ["auth:ip:2001:db8::/64", "x/y\\z#?%", "ключ 🚀", "k" * 2000, ""])
async def test_any_key_text_works(backend: Backend, key: str) -> None:
    limiter = limiter_of(backend)
    wait_for_fresh_window(HOUR, 30)
    assert (await limiter.hit(key, HOUR, 1)).allowed
    assert not (await limiter.hit(key, HOUR, 1)).allowed


async def test_a_new_window_starts_a_new_count(backend: Backend) -> None:
    limiter = limiter_of(backend)
    wait_for_fresh_window(2, 1.5)
    assert (await limiter.hit("rollover", 2, 1)).allowed
    refused = await limiter.hit("rollover", 2, 1)
    assert not refused.allowed and 1 <= refused.retry_after <= 2
    await asyncio.sleep(2 - time.time() % 2 + 0.05)
    assert (await limiter.hit("rollover", 2, 1)).allowed


async def test_concurrent_hits_allow_exactly_the_limit(backend: Backend, twin_backend: Backend) -> None:
    """Like two API replicas on one storage: 30 hits at once, 10 allowed, whichever process made them."""
    wait_for_fresh_window(HOUR, 30)
    limiters = [limiter_of(backend), limiter_of(twin_backend)]
    decisions = await asyncio.gather(*(limiters[i % 2].hit("race", HOUR, 10) for i in range(30)))
    assert sum(d.allowed for d in decisions) == 10
    assert not (await limiters[0].hit("race", HOUR, 10)).allowed
    assert not (await limiters[1].hit("race", HOUR, 10)).allowed


async def test_a_burst_from_one_process_is_counted_exactly_and_never_refused_below_the_limit(
    backend: Backend,
) -> None:
    """50 requests at once (the idempotency test does this) must all pass a limit of 1,000: no ETag races."""
    wait_for_fresh_window(HOUR, 30)
    limiter = limiter_of(backend)
    decisions = await asyncio.gather(*(limiter.hit("burst", HOUR, 1000) for _ in range(50)))
    assert all(d.allowed for d in decisions)
    assert sorted(d.count for d in decisions) == list(range(1, 51))
    assert (await limiter.hit("burst", HOUR, 1000)).count == 51
