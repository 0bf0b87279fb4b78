"""Fuzz the JSON and YAML parsers: whatever the body, the answer is "accepted" or a 400, never a 5xx.

Two passes with hypothesis:

* the parsers themselves, on arbitrary text and on documents built from hostile values (infinite and NaN
  floats, integers of thousands of digits, lone surrogates, deep nesting): each call returns a value or raises
  :class:`PayloadError`; a returned value can always be hashed and stored (what used to raise 500s);
* the running API in-process (memory backend), POSTing such bodies as JSON and as YAML: 202/200 or 400/413.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from praisonai_svc import ServiceApp
from praisonai_svc.api.body import parse_document
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.errors import PayloadError
from praisonai_svc.hashing import payload_hash
from praisonai_svc.settings import Settings

HOSTILE_STRINGS = st.sampled_from(["\ud800", "\udfff", "a\udc00b", "\ud83d\ude00", "\x00", "\u2028", "é"])
HOSTILE_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(),
    st.integers(min_value=4000, max_value=6000).map(lambda digits: f"<<{digits} digits>>"),
)
SCALARS = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBERS, st.text(max_size=20), HOSTILE_STRINGS)
VALUES = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=5), st.dictionaries(st.one_of(st.text(max_size=8), HOSTILE_STRINGS), children,
                                                    max_size=5)), max_leaves=30)
TYPES = ["application/json", "application/yaml", ""]


HUGE = re.compile(r'"<<(\d+) digits>>"')


def to_text(value: Any) -> str:
    """JSON text for ``value``: Python writes NaN and Infinity, escapes lone surrogates, and each
    ``"<<N digits>>"`` marker becomes an integer of N digits (too long for Python to write itself)."""
    return HUGE.sub(lambda match: "9" * int(match[1]), json.dumps({"payload": {"v": value}}))


def accepted_or_400(raw: bytes, content_type: str) -> None:
    try:
        document = parse_document(raw, content_type)
    except PayloadError:
        return
    payload_hash(document, "svc")  # what returned 500 before: inf, huge integers and surrogates in the hash


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200), content_type=st.sampled_from(TYPES))
def test_any_text_is_accepted_or_refused_cleanly(text: str, content_type: str) -> None:
    accepted_or_400(text.encode("utf-8", "surrogatepass"), content_type)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES, content_type=st.sampled_from(TYPES))
def test_hostile_documents_are_accepted_or_refused_cleanly(value: Any, content_type: str) -> None:
    accepted_or_400(to_text(value).encode(), content_type)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES, cut=st.integers(min_value=0, max_value=400), junk=st.binary(max_size=6),
       content_type=st.sampled_from(TYPES))
def test_damaged_documents_are_accepted_or_refused_cleanly(value: Any, cut: int, junk: bytes,
                                                           content_type: str) -> None:
    raw = to_text(value).encode()
    accepted_or_400(raw[:cut] + junk + raw[cut:], content_type)


@pytest.fixture(scope="module")
def client():
    app = ServiceApp("Fuzz", settings=Settings(rate_limit_submit_per_minute=0), backend=memory_backend())

    @app.job("echo")
    def echo(payload: dict[str, Any]) -> tuple[bytes, str, str]:
        return b"ok", "text/plain", "ok.txt"

    with TestClient(create_api(app)) as test_client:
        yield test_client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(value=VALUES, content_type=st.sampled_from(TYPES), yaml_style=st.booleans())
def test_the_api_answers_hostile_bodies_with_400_never_5xx(client: TestClient, value: Any, content_type: str,
                                                            yaml_style: bool) -> None:
    text = to_text(value)
    if yaml_style:  # block-style YAML keys around the value in flow style
        text = "payload:\n  v: " + HUGE.sub(lambda match: "9" * int(match[1]), json.dumps(value))
    response = client.post("/jobs", content=text.encode("utf-8", "surrogatepass"),
                           headers={"Content-Type": content_type} if content_type else {})
    assert response.status_code in (200, 202, 400), response.text
    if response.status_code == 400:
        assert response.json()["detail"]  # names the problem

