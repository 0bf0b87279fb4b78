"""Large bodies are parsed in child processes (praisonai_svc.api.parse_children): values and refusals come back,
a child that hangs is killed at its budget, a child that dies costs only its own body."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from praisonai_svc.api.parse_pool import LARGE_BODY_BYTES, ParsePool
from praisonai_svc.errors import Overloaded, PayloadError
from praisonai_svc.yaml_limits import DeadlineExceeded

LARGE_JSON = b'{"payload": {"a": [' + b",".join([b"1"] * (LARGE_BODY_BYTES // 2)) + b"]}}"
HOSTILE_YAML = b"payload: {a: [" + b",".join([b"1"] * 250_000) + b"]}"


def child_pids(pool: ParsePool) -> list[int]:
    children = pool._children
    assert children is not None
    return [child.process.pid for child in list(children._idle._queue)]  # type: ignore[attr-defined]


def test_large_bodies_go_to_a_child_and_small_ones_stay_in_the_threads() -> None:
    async def scenario() -> None:
        pool = ParsePool(threads=1, budget_seconds=10, processes=1)
        try:
            assert await pool.parse(b'{"payload": {"x": 1}}', "application/json") == {"payload": {"x": 1}}
            assert pool._children is None  # no child for a small body
            value = await pool.parse(LARGE_JSON, "application/json")
            assert value["payload"]["a"] == [1] * (LARGE_BODY_BYTES // 2)
            [pid] = child_pids(pool)
            assert pid != os.getpid()
            with pytest.raises(PayloadError, match="more than 200000 nodes"):
                await pool.parse(HOSTILE_YAML, "application/yaml")
            assert child_pids(pool) == [pid]  # the same child parsed both
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_child_that_does_not_answer_within_its_budget_is_killed_and_the_body_refused() -> None:
    async def scenario() -> None:
        pool = ParsePool(threads=1, budget_seconds=0.5, processes=1)
        try:
            await pool.parse(LARGE_JSON, "application/json")
            [pid] = child_pids(pool)
            os.kill(pid, signal.SIGSTOP)  # stands in for a parse that never checks its clock
            with pytest.raises(DeadlineExceeded, match="parse budget"):
                await pool.parse(LARGE_JSON, "application/json")
            await asyncio.sleep(0.2)
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # killed (and reaped)
            assert (await pool.parse(LARGE_JSON, "application/json"))["payload"]["a"][0] == 1  # a new child
            assert child_pids(pool) != [pid]
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_child_that_dies_costs_only_its_own_body() -> None:
    async def scenario() -> None:
        pool = ParsePool(threads=1, budget_seconds=10, processes=1)
        try:
            await pool.parse(LARGE_JSON, "application/json")
            [pid] = child_pids(pool)
            children = pool._children
            assert children is not None
            [child] = list(children._idle._queue)  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
            await asyncio.wait_for(child.process.wait(), 10)
            # A dead idle child is noticed before a body is sent to it: a new one parses the body.
            assert (await pool.parse(LARGE_JSON, "application/json"))["payload"]["a"][0] == 1
            assert pid not in child_pids(pool)
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_child_that_dies_mid_parse_costs_only_its_own_body() -> None:
    async def scenario() -> None:
        pool = ParsePool(threads=1, budget_seconds=10, processes=1)
        try:
            await pool.parse(LARGE_JSON, "application/json")
            [pid] = child_pids(pool)
            os.kill(pid, signal.SIGSTOP)  # it will die with the body in its pipe
            parsing = asyncio.ensure_future(pool.parse(LARGE_JSON, "application/json"))
            await asyncio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(Overloaded):
                await parsing
            assert (await pool.parse(LARGE_JSON, "application/json"))["payload"]["a"][0] == 1
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_closing_the_pool_ends_its_children() -> None:
    async def scenario() -> None:
        pool = ParsePool(threads=1, budget_seconds=10, processes=2)
        await asyncio.gather(pool.parse(LARGE_JSON, "application/json"), pool.parse(LARGE_JSON, "application/json"))
        pids = child_pids(pool)
        assert len(pids) == 2
        await pool.close()
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)

    asyncio.run(scenario())
