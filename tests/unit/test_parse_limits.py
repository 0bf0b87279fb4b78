"""The parse limits on both YAML loaders (libyaml-backed and pure Python), the deadline, and the parse pool."""

from __future__ import annotations

import asyncio
import time

import pytest

from praisonai_svc.api.parse_pool import MIN_QUEUE_WAIT_SECONDS, ParsePool
from praisonai_svc.errors import Overloaded, PayloadError
from praisonai_svc.safe_parse import parse_json
from praisonai_svc.yaml_limits import LIBYAML, DeadlineExceeded, PurePythonLoader, load_limited

LOADERS = [pytest.param(None, id="libyaml" if LIBYAML else "default"),
           pytest.param(PurePythonLoader, id="pure-python")]
BOMB = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n" for n in range(6))


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("text", "says"), [
    (BOMB, "more than 200000 nodes"),  # 10**7 values through a handful of aliases, refused while composing
    ("a: " + "[" * 70 + "]" * 70, "nested deeper"),
    ("a: .nan", "not finite"),
    ("a: -.inf", "not finite"),
    ("a: 1.0e+999", "not finite"),
    ("a: " + "1" * 4301, "4300 digits"),
    ("a: 0b" + "1" * 15000, "4300 digits"),
    ("k: &x 1\n" + "".join(f"k{n}: *x\n" for n in range(101)), "more than 100 aliases"),
])
def test_yaml_limits_hold_on_every_loader(loader, text, says):
    with pytest.raises(PayloadError, match=says):
        load_limited(text, loader=loader)


@pytest.mark.parametrize("loader", LOADERS)
def test_yaml_limits_leave_ordinary_documents_alone(loader):
    text = "payload:\n  title: Still Waters\n  n: 12\n  ratio: 0.5\n  tags: [a, b]\n  big: " + "9" * 4300 + "\n"
    value = load_limited(text, loader=loader)
    assert value["payload"]["tags"] == ["a", "b"] and value["payload"]["big"] == int("9" * 4300)


@pytest.mark.parametrize("loader", LOADERS)
def test_the_deadline_stops_a_yaml_parse(loader):
    text = "a: [" + ",".join(["1"] * 5000) + "]"
    with pytest.raises(DeadlineExceeded, match="parse budget"):
        load_limited(text, loader=loader, deadline=time.monotonic() - 1)


def test_the_deadline_is_checked_after_a_json_parse():
    with pytest.raises(DeadlineExceeded):
        parse_json('{"a": 1}', deadline=time.monotonic() - 1)


def test_json_values_are_counted_before_parsing_strings_aside():
    long_strings = '{"a": [' + ",".join(['"x,y:z,w"'] * 60_000) + "]}"  # 240,000 separators inside strings
    assert len(parse_json(long_strings)["a"]) == 60_000
    with pytest.raises(PayloadError, match="more than 200000 values"):
        parse_json("[" + ",".join(["1"] * 200_001) + "]")


def test_a_body_that_waited_past_the_budget_is_503_not_parsed():
    async def scenario() -> None:
        pool = ParsePool(threads=1, budget_seconds=0.05)  # waits up to MIN_QUEUE_WAIT_SECONDS all the same
        blocker = asyncio.get_running_loop().run_in_executor(pool._executor, time.sleep, MIN_QUEUE_WAIT_SECONDS + 0.3)
        # YAML always goes to the pool (small JSON is parsed on the event loop and never waits for a thread).
        with pytest.raises(Overloaded):
            await pool.parse(b"payload: {}", "application/yaml")
        await blocker
        assert await pool.parse(b"payload: {}", "application/yaml") == {"payload": {}}
        await pool.close()

    asyncio.run(scenario())
