"""Small JSON bodies are parsed on the event loop (api/body.parse_small_json); everything else, YAML always, in the
parse pool. What the loop parses must be exactly what the pool would give: the same document or the same refusal."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from praisonai_svc.api import parse_pool as parse_pool_module
from praisonai_svc.api.body import NOT_INLINE, parse_document, parse_small_json
from praisonai_svc.api.parse_pool import INLINE_JSON_BYTES, ParsePool
from praisonai_svc.errors import PayloadError
from praisonai_svc.safe_parse import json_needs_walk

BODIES = [
    b'{"payload": {"a": 1}}',
    b'{"payload": {"a": NaN}}',
    b'{"payload": {"a": Infinity}}',
    b'{"payload": {"a": 1e400}}',
    b'{"payload": {"a": "\\ud800"}}',
    b'{"payload": {"a": ' + b"9" * 4001 + b"}}",
    b"[" * 70 + b"]" * 70,
    b"{",
    b"",
    b"   ",
    b"\xff\xfe",
    b'{"payload": {"a": 1}} trailing',
    b"payload: {a: 1}",
]
MEDIA = ["application/json", "application/json; charset=utf-8", "text/json", "", "text/plain",
         "application/x-www-form-urlencoded"]


def outcome(parse: Any, raw: bytes, media: str) -> Any:
    try:
        return ("ok", parse(raw, media))
    except PayloadError as exc:
        return ("refused", type(exc), exc.message)


@pytest.mark.parametrize("media", MEDIA)
@pytest.mark.parametrize("raw", BODIES)
def test_the_loop_gives_what_the_pool_gives(raw: bytes, media: str) -> None:
    inline = outcome(parse_small_json, raw, media)
    if inline == ("ok", NOT_INLINE):  # left to the pool: nothing to compare, but only YAML-ish or walked JSON
        assert media not in ("application/json", "application/json; charset=utf-8", "text/json") \
            or json_needs_walk(raw.decode())
        return
    assert inline == outcome(parse_document, raw, media)


@pytest.mark.parametrize("media", ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
                                   "Application/YAML; charset=utf-8"])
def test_yaml_is_never_parsed_on_the_loop(media: str) -> None:
    assert parse_small_json(b"payload: {a: 1}", media) is NOT_INLINE
    assert parse_small_json(b'{"payload": {"a": 1}}', media) is NOT_INLINE  # JSON is YAML too: still the pool


def test_json_that_would_be_walked_goes_to_the_pool() -> None:
    """The walk over a parsed value is Python work (~1 ms for 4 KiB of empty containers): never on the loop."""
    assert parse_small_json(b"[" + b",".join([b"{}"] * 100) + b"]", "application/json") is NOT_INLINE
    assert parse_small_json(b'{"payload": {"a": "\\ud83d\\ude00"}}', "application/json") is NOT_INLINE
    assert parse_small_json(b'{"payload": {"a": [[1], [2]]}}', "application/json") == {"payload": {"a": [[1], [2]]}}


def test_a_non_json_body_of_no_media_type_goes_to_the_pool() -> None:
    assert parse_small_json(b"payload: {a: 1}", "") is NOT_INLINE
    assert parse_small_json(b'{"payload": {"a": 1}}', "") == {"payload": {"a": 1}}


def test_the_pool_parses_inline_only_small_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through ParsePool.parse: which bodies reach a parse thread (counted), which do not."""
    pooled: list[bytes] = []
    real = parse_pool_module.parse_within_budget

    def counting(raw: bytes, *args: Any) -> Any:
        pooled.append(raw)
        return real(raw, *args)

    monkeypatch.setattr(parse_pool_module, "parse_within_budget", counting)
    small = b'{"payload": {"a": 1}}'
    at_limit = b'{"payload": {"a": "' + b"x" * (INLINE_JSON_BYTES - 22) + b'"}}'
    over = b'{"payload": {"a": "' + b"x" * (INLINE_JSON_BYTES - 21) + b'"}}'
    assert len(at_limit) == INLINE_JSON_BYTES and len(over) == INLINE_JSON_BYTES + 1

    async def scenario() -> None:
        pool = ParsePool(threads=1, budget_seconds=10)
        try:
            assert await pool.parse(small, "application/json") == {"payload": {"a": 1}}
            assert await pool.parse(at_limit, "application/json") == {"payload": {"a": "x" * (INLINE_JSON_BYTES - 22)}}
            assert pooled == []
            assert await pool.parse(over, "application/json") == {"payload": {"a": "x" * (INLINE_JSON_BYTES - 21)}}
            assert await pool.parse(b"payload: {a: 1}", "application/yaml") == {"payload": {"a": 1}}
            assert await pool.parse(b"payload: {a: 2}", "") == {"payload": {"a": 2}}
            assert pooled == [over, b"payload: {a: 1}", b"payload: {a: 2}"]
            with pytest.raises(PayloadError, match="NaN"):
                await pool.parse(b'{"payload": {"a": NaN}}', "application/json")
            assert len(pooled) == 3
        finally:
            await pool.close()

    asyncio.run(scenario())


# read_limited (api/body.py) reads the ASGI messages itself with one timer: the same answers as Request.stream
# under asyncio.timeout gave.

def request_of(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    from starlette.requests import Request

    queue = list(messages)

    async def receive() -> dict[str, Any]:
        if not queue:
            await asyncio.sleep(3600)  # a client that stops sending
        return queue.pop(0)

    return Request({"type": "http", "method": "POST", "path": "/jobs", "headers": headers or [],
                    "query_string": b""}, receive)


def test_read_limited_joins_chunks_and_marks_the_stream_consumed() -> None:
    from praisonai_svc.api.body import read_limited

    request = request_of([{"type": "http.request", "body": b"ab", "more_body": True},
                          {"type": "http.request", "body": b"", "more_body": True},
                          {"type": "http.request", "body": b"cd"}])
    assert asyncio.run(read_limited(request, 4, 5)) == b"abcd"

    async def again() -> None:
        with pytest.raises(RuntimeError, match="consumed"):
            await request.body()

    asyncio.run(again())


def test_read_limited_refuses_too_much_as_soon_as_it_is_too_much() -> None:
    from praisonai_svc.api.body import read_limited
    from praisonai_svc.errors import PayloadTooLarge

    with pytest.raises(PayloadTooLarge, match="is 10 bytes; the limit is 4"):
        asyncio.run(read_limited(request_of([], [(b"content-length", b"10")]), 4, 5))
    lying = request_of([{"type": "http.request", "body": b"abc", "more_body": True},
                        {"type": "http.request", "body": b"de", "more_body": True}], [(b"content-length", b"2")])
    with pytest.raises(PayloadTooLarge, match="exceeds the limit of 4"):
        asyncio.run(read_limited(lying, 4, 5))
    odd = request_of([{"type": "http.request", "body": b"ab"}], [(b"content-length", "²".encode())])
    assert asyncio.run(read_limited(odd, 4, 5)) == b"ab"  # not a number: the bytes that arrive decide


def test_read_limited_times_out_a_stalled_body_and_passes_other_cancellations_on() -> None:
    from starlette.requests import ClientDisconnect

    from praisonai_svc.api.body import read_limited
    from praisonai_svc.errors import RequestTimeout

    stalled = request_of([{"type": "http.request", "body": b"ab", "more_body": True}])
    with pytest.raises(RequestTimeout, match=r"did not arrive within 0\.05 s \(2 bytes received\)"):
        asyncio.run(read_limited(stalled, 100, 0.05))

    async def cancelled_from_outside() -> None:
        task = asyncio.create_task(read_limited(request_of([]), 100, 5))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled_from_outside())

    async def still_usable_after_a_timeout() -> None:
        with pytest.raises(RequestTimeout):
            await read_limited(request_of([]), 100, 0.01)
        await asyncio.sleep(0.02)  # no cancellation left pending on this task

    asyncio.run(still_usable_after_a_timeout())
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_limited(request_of([{"type": "http.disconnect"}]), 100, 5))
